using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;

namespace Messenger.Rudp.Actors;

/// <summary>Put <paramref name="Data"/> on the wire to <paramref name="To"/> (the whole array is the datagram).</summary>
public sealed record SendDatagram(byte[] Data, IPEndPoint To);

/// <summary>A burst for one peer in one pooled buffer: the wire sends it (in one system call where it can) and releases it.</summary>
public sealed record SendDatagrams(DatagramBurst Burst, IPEndPoint To);

/// <summary>A datagram that arrived from <paramref name="From"/>, not yet validated (one at a time, from a lossy socket).</summary>
public sealed record DatagramReceived(byte[] Data, IPEndPoint From);

/// <summary>
/// The wire: one actor around one bound UDP <see cref="Socket"/>. A dedicated thread blocks for
/// the next datagrams and tells whatever one read returned to <c>inbound</c> as one
/// <see cref="DatagramsReceived"/> (see <see cref="UdpSockets"/> for the Linux fast path);
/// <see cref="SendDatagram"/> goes out with one <c>sendto</c>, a <see cref="SendDatagrams"/> burst
/// with one <c>sendto</c> where the kernel segments it (GSO), else one per datagram. The socket is
/// shut and closed when the actor stops, which also ends the receive thread.
/// </summary>
public sealed class UdpSocketActor : UntypedActor
{
    private readonly Socket _socket;
    private readonly IActorRef _inbound;
    private readonly bool _coalesce;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private long _sendErrors;
    private IPEndPoint? _lastTo;
    private SocketAddress? _lastAddress;
    private int _segmentation; // the socket's GSO segment size; 0 off, -1 not available here

    /// <param name="coalesce">Ask the kernel to hand over a peer's burst as one piece (GRO): for the side that receives data.</param>
    public UdpSocketActor(Socket socket, IActorRef inbound, bool coalesce)
    {
        _socket = socket;
        _inbound = inbound;
        _coalesce = coalesce;
    }

    // A plain switch, not ReceiveActor's typed handlers: in a client without run-time code
    // generation those are expression trees, interpreted for every message.
    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case SendDatagrams m:
                try
                {
                    SendBurst(m.Burst, m.To);
                }
                finally
                {
                    m.Burst.Release();
                }
                break;
            case SendDatagram m:
                if (_segmentation > 0 && m.Data.Length > _segmentation) Segment(0); // a lone datagram must not be cut
                Send(m.Data, m.To);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    public static Props Props(Socket socket, IActorRef inbound, bool coalesce) =>
        Akka.Actor.Props.Create(() => new UdpSocketActor(socket, inbound, coalesce));

    protected override void PreStart()
    {
        var receiver = UdpSockets.OpenReceiver(_socket, _coalesce);
        var thread = new Thread(() => ReceiveLoop(receiver)) { IsBackground = true, Name = $"udp-{_socket.LocalEndPoint}" };
        thread.Start();
    }

    private void SendBurst(DatagramBurst burst, IPEndPoint to)
    {
        if (burst.Count > 1 && _segmentation >= 0 && (_segmentation == burst.SegmentSize || Segment(burst.SegmentSize)))
        {
            var result = Send(burst.Bytes, to);
            if (result is SocketError.Success or SocketError.NoBufferSpaceAvailable or SocketError.WouldBlock) return; // sent, or lost like any datagram
            Segment(0); // the kernel took the option but not the send: one by one from now on
            _segmentation = -1;
        }
        for (int i = 0; i < burst.Count; i++) Send(burst[i], to);
    }

    /// <summary>Sets the socket's GSO segment size; false (and never tried again) where that is not available.</summary>
    private bool Segment(int size)
    {
        if (UdpSockets.TrySetSegmentation(_socket, size))
        {
            _segmentation = size;
            return true;
        }
        _segmentation = -1;
        return false;
    }

    private SocketError Send(ReadOnlySpan<byte> datagram, IPEndPoint to)
    {
        if (!ReferenceEquals(to, _lastTo))
        {
            _lastTo = to;
            _lastAddress = to.Serialize();
        }
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, _lastAddress!);
            return SocketError.Success;
        }
        catch (SocketException e)
        {
            // UDP makes no promises: a failed send is a lost datagram, which the protocol repairs.
            if (_sendErrors++ % 1000 == 0) _log.Warning("udp send to {0} failed: {1}", to, e.SocketErrorCode);
            return e.SocketErrorCode;
        }
    }

    private void ReceiveLoop(BatchReceiver receiver)
    {
        try
        {
            while (receiver.Receive() is { } batch) _inbound.Tell(batch);
        }
        finally
        {
            receiver.Close();
        }
    }

    protected override void PostStop()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Receive); // wakes the receive thread (on Linux even for an unconnected socket)
        }
        catch (SocketException)
        {
            // not connected: still woken on Linux; elsewhere closing it below does it
        }
        _socket.Dispose();
    }
}
