using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;

namespace Messenger.Rudp.Actors;

/// <summary>Put <paramref name="Data"/> on the wire to <paramref name="To"/> (the whole array is the datagram).</summary>
public sealed record SendDatagram(byte[] Data, IPEndPoint To);

/// <summary>Several datagrams for one peer, in order: a burst of a window costs one message, not one per datagram.</summary>
public sealed record SendDatagrams(IReadOnlyList<byte[]> Data, IPEndPoint To);

/// <summary>A datagram that arrived from <paramref name="From"/>, not yet validated.</summary>
public sealed record DatagramReceived(byte[] Data, IPEndPoint From);

/// <summary>
/// Datagrams that were waiting in the socket together, in arrival order: the receive thread hands
/// over everything it could read without blocking as one message, so a burst costs one actor hop.
/// </summary>
public sealed record DatagramsReceived(IReadOnlyList<DatagramReceived> Datagrams);

/// <summary>
/// The wire: one actor around one bound UDP <see cref="Socket"/>. A dedicated thread blocks in
/// <c>ReceiveFrom</c> for the first datagram, reads whatever else is already waiting (up to
/// <see cref="MaxBatch"/>) and tells them to <c>inbound</c> as one <see cref="DatagramsReceived"/>;
/// <see cref="SendDatagram"/> and <see cref="SendDatagrams"/> messages are written with <c>SendTo</c>. The socket is closed when
/// the actor stops, which also ends the receive thread.
/// </summary>
public sealed class UdpSocketActor : ReceiveActor
{
    /// <summary>Most datagrams handed over in one message (a burst of a window arrives as a few dozen messages, not thousands).</summary>
    public const int MaxBatch = 64;

    private readonly Socket _socket;
    private readonly IActorRef _inbound;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private long _sendErrors;

    public UdpSocketActor(Socket socket, IActorRef inbound)
    {
        _socket = socket;
        _inbound = inbound;
        Receive<SendDatagram>(m => Send(m.Data, m.To));
        Receive<SendDatagrams>(m =>
        {
            foreach (var datagram in m.Data) Send(datagram, m.To);
        });
    }

    public static Props Props(Socket socket, IActorRef inbound) =>
        Akka.Actor.Props.Create(() => new UdpSocketActor(socket, inbound));

    protected override void PreStart()
    {
        var thread = new Thread(ReceiveLoop) { IsBackground = true, Name = $"udp-{_socket.LocalEndPoint}" };
        thread.Start();
    }

    private void Send(byte[] datagram, IPEndPoint to)
    {
        try
        {
            _socket.SendTo(datagram, to);
        }
        catch (SocketException e)
        {
            // UDP makes no promises: a failed send is a lost datagram, which the protocol repairs.
            if (_sendErrors++ % 1000 == 0) _log.Warning("udp send to {0} failed: {1}", to, e.SocketErrorCode);
        }
    }

    private void ReceiveLoop()
    {
        var buffer = new byte[65_536];
        EndPoint any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (true)
        {
            try
            {
                var batch = new List<DatagramReceived>();
                do
                {
                    EndPoint from = any;
                    int n = _socket.ReceiveFrom(buffer, ref from); // blocks only for the first of a batch
                    batch.Add(new DatagramReceived(buffer.AsSpan(0, n).ToArray(), (IPEndPoint)from));
                } while (batch.Count < MaxBatch && _socket.Available > 0);
                _inbound.Tell(new DatagramsReceived(batch));
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize)
            {
                // An ICMP error for an earlier send (Windows reports these), or an oversized datagram: skip it.
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                return; // the socket was closed: the actor stopped
            }
        }
    }

    protected override void PostStop() => _socket.Dispose();
}
