using System.Net;
using System.Net.Sockets;

namespace Messenger.Rudp;

/// <summary>Opening and configuring the UDP sockets both sides use.</summary>
public static class UdpSockets
{
    /// <summary>A UDP socket bound to <paramref name="endpoint"/> with large kernel buffers (bursts of a window must not overflow them).</summary>
    public static Socket Bind(IPEndPoint endpoint, int bufferBytes)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.ReceiveBufferSize = bufferBytes;
            socket.SendBufferSize = bufferBytes;
            socket.Bind(endpoint);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
