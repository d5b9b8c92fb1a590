using System.Net;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Messenger.Files;
using Messenger.Hosting;
using Messenger.Rudp;
using Messenger.Rudp.Actors;
using Messenger.Tests.Support;

namespace Messenger.Tests.Rudp;

/// <summary>
/// The sender with a probe standing in for the socket: every datagram it puts on the wire is a
/// <see cref="SendDatagram"/> the probe receives, and the test plays the client by hand.
/// NewReno is configured so window sizes are exact; the minimum RTO is long (2 s) so a
/// quick retransmission can only be a fast retransmit.
/// </summary>
public sealed class FileSenderActorSpec : TestKit, IDisposable
{
    private const uint ConnectionId = 0x1234;
    private const int Segments = 200;
    private static readonly IPEndPoint Client = new(IPAddress.Loopback, 40000);

    private readonly TempFolder _folder = new();
    private readonly TestProbe _wire;
    private readonly CatalogEntry _file;

    public FileSenderActorSpec()
    {
        _wire = CreateTestProbe();
        var path = _folder.CreateRandomFile("f.bin", Segments * 1452L, seed: 7);
        var info = new FileInfo(path);
        _file = new CatalogEntry("f.bin", path, info.Length, info.LastWriteTimeUtc,
            Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))));
    }

    private static RudpSettings Settings(string extra = "") => RudpSettings.FromConfig(ServerConfig.Load(
        overrides: Akka.Configuration.ConfigurationFactory.ParseString(
            "messenger.rudp { congestion-control = newreno, initial-rto = 2s, min-rto = 2s, idle-timeout = 8s, handshake-retry-interval = 5s }\n" + extra)));

    private IActorRef Start(RudpSettings? settings = null)
    {
        var sender = Sys.ActorOf(FileSenderActor.Props(ConnectionId, Client, _file, 8192, settings ?? Settings(), _wire.Ref));
        Assert.Equal(RudpPacketKind.SynAck, Next().Kind);
        return sender;
    }

    private readonly Queue<byte[]> _unread = new();

    /// <summary>The next datagram put on the wire, whether it went alone or in a burst.</summary>
    private (RudpPacketKind Kind, int Sequence, bool Retransmission) Next(TimeSpan? within = null)
    {
        if (_unread.Count == 0)
        {
            switch (_wire.ReceiveOne(within ?? TimeSpan.FromSeconds(3)))
            {
                case SendDatagram one:
                    Assert.Equal(Client, one.To);
                    _unread.Enqueue(one.Data);
                    break;
                case SendDatagrams burst:
                    Assert.Equal(Client, burst.To);
                    foreach (var d in burst.Data) _unread.Enqueue(d);
                    break;
                case var other:
                    Assert.Fail($"expected a datagram on the wire, got {other?.ToString() ?? "nothing"}");
                    break;
            }
        }
        var datagram = _unread.Dequeue();
        Assert.True(RudpCodec.TryRead(datagram, out var header, out var error), error);
        if (header.Kind != RudpPacketKind.Data) return (header.Kind, -1, false);
        var data = RudpCodec.ReadData(datagram);
        return (header.Kind, (int)data.Sequence, data.IsRetransmission);
    }

    private List<int> Burst(int count)
    {
        var sequences = new List<int>();
        for (int i = 0; i < count; i++)
        {
            var d = Next();
            Assert.Equal(RudpPacketKind.Data, d.Kind);
            sequences.Add(d.Sequence);
        }
        Assert.Empty(_unread);
        _wire.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // and nothing more: the window is full
        return sequences;
    }

    private static void Tell(IActorRef sender, Func<byte[], int> write)
    {
        var buffer = new byte[RudpConstants.MaxDatagram];
        int length = write(buffer);
        var datagram = buffer[..length];
        Assert.True(RudpCodec.TryRead(datagram, out var header, out _));
        sender.Tell(new InboundDatagram(datagram, header, Client));
    }

    private static void HandshakeAck(IActorRef sender) => Tell(sender, b => RudpCodec.WriteHandshakeAck(b, ConnectionId, 8192));

    private static void Ack(IActorRef sender, int cumulative, params SackRange[] ranges) =>
        Tell(sender, b => RudpCodec.WriteAck(b, ConnectionId, (uint)cumulative, 8192, 0, 0, true, ranges));

    [Fact]
    public void Sender_must_send_nothing_before_the_handshake_ack_then_exactly_the_initial_window()
    {
        var sender = Start();
        _wire.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        HandshakeAck(sender);
        Assert.Equal(Enumerable.Range(0, RudpConstants.InitialWindow), Burst(RudpConstants.InitialWindow));
    }

    [Fact]
    public void Sender_must_resend_only_the_unacknowledged_segment_when_the_retransmission_timer_fires()
    {
        var sender = Start();
        HandshakeAck(sender);
        Burst(10);
        Ack(sender, 9); // segment 9 unacknowledged; slow start sends 18 more (10..27)
        Assert.Equal(Enumerable.Range(10, 18), Burst(18));

        // Silence from the client: after the RTO (2 s), the earliest unacknowledged segment, and only it, is resent.
        var resent = Next(TimeSpan.FromSeconds(6));
        Assert.Equal((RudpPacketKind.Data, 9, true), resent);
        Assert.Empty(_unread);
        _wire.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // the RTO backed off: nothing else yet
    }

    [Fact]
    public void Sender_must_fast_retransmit_a_hole_once_later_segments_are_acknowledged()
    {
        var sender = Start();
        HandshakeAck(sender);
        Burst(10);
        Ack(sender, 0, new SackRange(1, 10)); // 9 segments past the hole at 0
        var first = Next(TimeSpan.FromMilliseconds(1000)); // well before the 2 s RTO
        Assert.Equal((RudpPacketKind.Data, 0, true), first);
    }

    [Fact]
    public void Sender_must_grow_the_window_on_acks_and_shrink_it_on_loss()
    {
        var sender = Start();
        HandshakeAck(sender);
        Burst(10);
        Ack(sender, 10);
        var grown = Burst(20); // slow start: 10 acked, window 10 -> 20
        Assert.Equal(Enumerable.Range(10, 20), grown);

        // Segment 10 lost, 11..29 acknowledged: the window would be 39, but the loss halves it to 19.
        Ack(sender, 10, new SackRange(11, 30));
        var afterLoss = Burst(19);
        Assert.Equal(10, afterLoss[0]); // the lost segment goes first
        Assert.Equal(Enumerable.Range(30, 18), afterLoss.Skip(1));
    }

    [Fact]
    public void Sender_must_finish_with_fin_once_everything_is_acknowledged_and_stop_on_fin_ack()
    {
        var sender = Start();
        Watch(sender);
        HandshakeAck(sender);
        int acked = 0;
        while (acked < Segments)
        {
            var d = Next();
            if (d.Kind == RudpPacketKind.Fin) break;
            acked = Math.Max(acked, d.Sequence + 1);
            Ack(sender, acked);
        }
        FishFor(RudpPacketKind.Fin);
        Tell(sender, b => RudpCodec.WriteFinAck(b, ConnectionId));
        ExpectTerminated(sender);
    }

    private void FishFor(RudpPacketKind kind)
    {
        while (Next().Kind != kind) { }
    }

    [Fact]
    public void Sender_must_give_up_on_a_silent_client_reset_it_and_stop()
    {
        var sender = Start(Settings("messenger.rudp.idle-timeout = 1s"));
        Watch(sender);
        HandshakeAck(sender);
        FishFor(RudpPacketKind.Rst);
        ExpectTerminated(sender, TimeSpan.FromSeconds(5));
    }

    void IDisposable.Dispose()
    {
        _folder.Dispose();
        base.Dispose();
    }
}
