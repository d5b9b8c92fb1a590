using System.Net;

namespace Messenger.Rudp.Actors;

/// <summary>Put <paramref name="Data"/> on the wire to <paramref name="To"/> (the whole array is the datagram).</summary>
public sealed record SendDatagram(byte[] Data, IPEndPoint To);

/// <summary>Several datagrams for one peer, in order: a burst of a window costs one message, not one per datagram.</summary>
public sealed record SendDatagrams(IReadOnlyList<byte[]> Data, IPEndPoint To);

/// <summary>A datagram that arrived from <paramref name="From"/>, not yet validated.</summary>
public sealed record DatagramReceived(byte[] Data, IPEndPoint From);

/// <summary>A datagram that passed <see cref="RudpCodec.TryRead"/>, routed to the actor owning its connection.</summary>
public sealed record InboundDatagram(byte[] Data, RudpHeader Header, IPEndPoint From);

/// <summary>Opening and configuring the UDP sockets both sides use.</summary>
public static class UdpSockets
{
    /// <summary>A UDP socket bound to <paramref name="endpoint"/> with large kernel buffers (bursts of a window must not overflow them).</summary>
    public static System.Net.Sockets.Socket Bind(IPEndPoint endpoint, int bufferBytes)
    {
        var socket = new System.Net.Sockets.Socket(endpoint.AddressFamily, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
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
