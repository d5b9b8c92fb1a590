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

    private IActorRef Start(RudpSettings? settings = null, CatalogEntry? file = null)
    {
        var sender = Sys.ActorOf(FileSenderActor.Props(ConnectionId, Client, file ?? _file, 8192, settings ?? Settings(), _wire.Ref, new QueuedDatagrams()));
        Assert.Equal(RudpPacketKind.SynAck, Next().Kind);
        return sender;
    }

    private readonly Queue<byte[]> _unread = new();

    /// <summary>The next datagram put on the wire, whether it went alone or in a burst.</summary>
    private (RudpPacketKind Kind, int Sequence, bool Retransmission) Next(TimeSpan? within = null) => NextDatagram(within).Summary;

    /// <summary>The next datagram put on the wire, whole, with its summary.</summary>
    private ((RudpPacketKind Kind, int Sequence, bool Retransmission) Summary, byte[] Datagram) NextDatagram(TimeSpan? within = null)
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
                    for (int i = 0; i < burst.Burst.Count; i++) _unread.Enqueue(burst.Burst[i].ToArray());
                    burst.Burst.Release();
                    break;
                case var other:
                    Assert.Fail($"expected a datagram on the wire, got {other?.ToString() ?? "nothing"}");
                    break;
            }
        }
        var datagram = _unread.Dequeue();
        Assert.True(RudpCodec.TryRead(datagram, out var header, out var error), error);
        if (header.Kind != RudpPacketKind.Data) return ((header.Kind, -1, false), datagram);
        var data = RudpCodec.ReadData(datagram);
        return ((header.Kind, (int)data.Sequence, data.IsRetransmission), datagram);
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

    private static void ShutAck(IActorRef sender, int cumulative) =>
        Tell(sender, b => RudpCodec.WriteAck(b, ConnectionId, (uint)cumulative, 0, 0, 0, true, []));

    /// <summary>Reads the wire until an RST, skipping DATA; returns its reason and the DATA seen on the way.</summary>
    private (RstReason Reason, List<(int Sequence, bool Retransmission)> Data) UntilRst(TimeSpan within, Action<int>? onData = null)
    {
        var deadline = DateTime.UtcNow + within;
        var data = new List<(int, bool)>();
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            Assert.True(left > TimeSpan.Zero, "no RST in time");
            var (summary, datagram) = NextDatagram(left);
            if (summary.Kind == RudpPacketKind.Rst) return (RudpCodec.ReadRst(datagram), data);
            Assert.Equal(RudpPacketKind.Data, summary.Kind);
            data.Add((summary.Sequence, summary.Retransmission));
            onData?.Invoke(summary.Sequence);
        }
    }

    [Fact]
    public void Sender_must_send_nothing_before_the_handshake_ack_then_exactly_the_initial_window()
    {
        var sender = Start();
        _wire.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        HandshakeAck(sender);
        Assert.Equal(Enumerable.Range(0, RudpConstants.InitialWindow), Burst(RudpConstants.InitialWindow));
    }

    [Fact]
    public void Rate_based_sender_must_never_have_more_than_max_window_segments_in_flight()
    {
        var sender = Start(Settings("messenger.rudp { congestion-control = rate, min-window = 32, max-window = 48 }"));
        HandshakeAck(sender);
        Assert.Equal(Enumerable.Range(0, 32), Burst(32));
        Ack(sender, 32); // start-up would double the window to 64: the ceiling holds it at 48
        Assert.Equal(Enumerable.Range(32, 48), Burst(48));
    }

    [Fact]
    public void Sender_must_count_the_receivers_window_from_what_it_acknowledged_not_from_the_hole()
    {
        var sender = Start(Settings("messenger.rudp { congestion-control = rate, min-window = 32, max-window = 32 }"));
        HandshakeAck(sender);
        Assert.Equal(Enumerable.Range(0, 32), Burst(32));
        // Segment 0 lost, 1..31 held by a receiver that can take 40 more: it takes anything below
        // 31 + 40 = 71. The hole goes again first, then new segments up to the window of 32 in
        // flight (32..62), not only up to 0 + 40 (32..39).
        Tell(sender, b => RudpCodec.WriteAck(b, ConnectionId, 0, 40, 0, 0, true, [new SackRange(1, 32)]));
        var sent = Burst(32);
        Assert.Equal(0, sent[0]);
        Assert.Equal(Enumerable.Range(32, 31), sent.Skip(1));
    }

    /// <summary>A sparse file of <paramref name="size"/> bytes (nothing written) and its catalog entry.</summary>
    private CatalogEntry SparseFile(string name, long size)
    {
        var path = _folder.File(name);
        using (var stream = new FileStream(path, FileMode.Create)) stream.SetLength(size);
        var info = new FileInfo(path);
        return new CatalogEntry(name, path, size, info.LastWriteTimeUtc, new string('0', 64));
    }

    [Fact]
    public void Sender_must_hold_state_for_its_window_not_its_file_for_the_most_segments_the_protocol_counts()
    {
        // 2^31 - 1 one-byte segments: 25 bytes of state each would be 50 GB (it could not even be allocated).
        var file = SparseFile("largest.bin", int.MaxValue);
        var sender = Start(Settings("messenger.rudp.segment-size = 1"), file);
        HandshakeAck(sender);
        Assert.Equal(Enumerable.Range(0, RudpConstants.InitialWindow), Burst(RudpConstants.InitialWindow));
    }

    [Fact]
    public void Sender_must_refuse_a_file_of_more_segments_than_the_protocol_counts_with_one_rst()
    {
        var file = SparseFile("too-large.bin", int.MaxValue + 1L);
        var sender = Sys.ActorOf(FileSenderActor.Props(ConnectionId, Client, file, 8192, Settings("messenger.rudp.segment-size = 1"), _wire.Ref, new QueuedDatagrams()));
        Watch(sender);
        var (summary, datagram) = NextDatagram();
        Assert.Equal(RudpPacketKind.Rst, summary.Kind);
        Assert.Equal(RstReason.InternalError, RudpCodec.ReadRst(datagram));
        ExpectTerminated(sender);
        Assert.Empty(_unread);
        _wire.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Shipped_max_window_must_fit_in_the_receivers_socket_buffer()
    {
        // What a receiver short of CPU has not read yet waits in its socket buffer; a window larger
        // than that buffer only overflows it (see max-window in hocon/rudp.hocon).
        foreach (var config in new[] { ServerConfig.Load(), ClientConfig.Load(null) })
        {
            var settings = RudpSettings.FromConfig(config);
            Assert.True((long)settings.MaxWindow * RudpConstants.MaxDatagram <= settings.SocketBufferBytes,
                $"max-window {settings.MaxWindow} x {RudpConstants.MaxDatagram} B > socket-buffer {settings.SocketBufferBytes} B");
        }
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
    public void Sender_must_bring_its_retransmission_timer_forward_when_a_fresh_rtt_sample_shortens_the_rto()
    {
        // The timer is armed with a long RTO (the initial 30 s here; a backed-off one in practice).
        var sender = Start(Settings("messenger.rudp { initial-rto = 30s, min-rto = 10ms, max-rto = 60s }"));
        HandshakeAck(sender);
        var sent = new List<(uint Timestamp, long At)>();
        for (int i = 0; i < RudpConstants.InitialWindow; i++)
        {
            var (summary, datagram) = NextDatagram();
            Assert.Equal((RudpPacketKind.Data, i, false), summary);
            sent.Add((RudpCodec.ReadData(datagram).Timestamp, System.Diagnostics.Stopwatch.GetTimestamp()));
        }

        // Now an ack whose echo of segment 9's timestamp makes an RTT sample of next to nothing: the
        // RTO falls to its 10 ms floor. The segment at the new cumulative ack is resent that soon
        // after the client falls silent, not when the timer armed with the 30 s RTO fires.
        var (timestamp, at) = sent[^1];
        uint echo = timestamp + (uint)System.Diagnostics.Stopwatch.GetElapsedTime(at).TotalMicroseconds;
        var silent = System.Diagnostics.Stopwatch.StartNew();
        Tell(sender, b => RudpCodec.WriteAck(b, ConnectionId, 5, 8192, echo, 9, false, []));
        while (Next(TimeSpan.FromSeconds(20)) is var d && d != (RudpPacketKind.Data, 5, true))
            Assert.False(d.Retransmission, $"only segment 5 is resent, not {d.Sequence}");
        Assert.True(silent.Elapsed < TimeSpan.FromSeconds(20), $"resent after {silent.Elapsed.TotalMilliseconds:0} ms");
    }

    [Fact]
    public void Sender_must_set_its_retransmission_timer_again_when_acks_moved_the_deadline_past_it()
    {
        var sender = Start(); // RTO 2 s
        HandshakeAck(sender);
        Burst(10);
        // One second later segments 0..4 are acknowledged: the deadline moves to 2 s after that ack,
        // past the timer's. The timer fires early, is set again for the rest, and only then is
        // segment 5 resent: not before the new deadline, and not never.
        _wire.ExpectNoMsg(TimeSpan.FromSeconds(1));
        var acked = System.Diagnostics.Stopwatch.StartNew();
        Ack(sender, 5); // slow start: 5 more in flight, window 15, so 10 new segments (10..19)
        Assert.Equal(Enumerable.Range(10, 10), Burst(10));
        // The next datagram is the resend, and it comes no sooner than the new deadline. (A wait for
        // silence until just before it failed on a stalled machine, whose check ran past the deadline.)
        Assert.Equal((RudpPacketKind.Data, 5, true), Next(TimeSpan.FromSeconds(5)));
        Assert.True(acked.Elapsed >= TimeSpan.FromSeconds(2), $"resent {acked.Elapsed.TotalMilliseconds:0} ms after the ack, before the RTO");
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
    public void Sender_must_send_two_copies_of_a_retransmission_once_every_segment_has_gone_out()
    {
        var path = _folder.CreateRandomFile("tail.bin", 5 * 1452L, seed: 11);
        var tail = new CatalogEntry("tail.bin", path, 5 * 1452L, File.GetLastWriteTimeUtc(path),
            Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))));
        var sender = Start(file: tail);
        HandshakeAck(sender);
        Assert.Equal(Enumerable.Range(0, 5), Burst(5)); // the whole file: nothing new is left
        Ack(sender, 0, new SackRange(1, 5)); // 0 lost: no later segment could reveal a lost resend
        Assert.Equal((RudpPacketKind.Data, 0, true), Next(TimeSpan.FromSeconds(1)));
        Assert.Equal((RudpPacketKind.Data, 0, true), Next());
        Assert.Empty(_unread);
        _wire.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Sender_must_send_one_copy_of_a_retransmission_while_new_segments_are_left()
    {
        var sender = Start(Settings("messenger.rudp.tail-copies = 3"));
        HandshakeAck(sender);
        Burst(10);
        Ack(sender, 0, new SackRange(1, 10)); // 0 lost; 190 segments never sent yet
        var sent = new List<(RudpPacketKind Kind, int Sequence, bool Retransmission)> { Next(TimeSpan.FromSeconds(1)) };
        while (_unread.Count > 0) sent.Add(Next());
        Assert.Equal([0], sent.Where(d => d.Retransmission).Select(d => d.Sequence));
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

    [Fact]
    public void Sender_must_answer_each_syn_with_one_syn_ack_never_retry_by_itself_and_forget_a_handshake_silently()
    {
        var sender = Start(Settings("messenger.rudp { idle-timeout = 1s, handshake-retry-interval = 100ms }"));
        Watch(sender);
        var syn = new byte[RudpConstants.SynSize];
        RudpCodec.WriteSyn(syn, new byte[RudpConstants.TicketSize], 64);
        Assert.True(RudpCodec.TryRead(syn, out var header, out _));
        sender.Tell(new InboundDatagram(syn, header, Client)); // a retried SYN: one SYN-ACK, no bigger than it
        var (summary, datagram) = NextDatagram();
        Assert.Equal(RudpPacketKind.SynAck, summary.Kind);
        Assert.True(datagram.Length <= syn.Length);
        // No retries on a timer, and no RST when the handshake is given up: the SYN-ACKs were the only answers.
        ExpectTerminated(sender, TimeSpan.FromSeconds(5));
        _wire.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Sender_must_end_a_transfer_whose_window_stays_shut_however_often_the_client_acks()
    {
        var sender = Start(Settings("messenger.rudp { stall-timeout = 1s }"));
        Watch(sender);
        HandshakeAck(sender);
        Burst(RudpConstants.InitialWindow);
        var stalled = DateTime.UtcNow;
        RstReason? reason = null;
        // The client keeps the transfer alive with an ACK every 200 ms, always shut, never moving.
        for (int i = 0; i < 25 && reason is null; i++)
        {
            ShutAck(sender, 0);
            var message = _wire.ReceiveOne(TimeSpan.FromMilliseconds(200));
            if (message is SendDatagram { Data: var d } && RudpCodec.TryRead(d, out var h, out _) && h.Kind == RudpPacketKind.Rst)
                reason = RudpCodec.ReadRst(d);
        }
        Assert.Equal(RstReason.Aborted, reason);
        Assert.True(DateTime.UtcNow - stalled >= TimeSpan.FromSeconds(1), "not before the stall timeout");
        ExpectTerminated(sender);
    }

    [Fact]
    public void Sender_must_reset_after_resending_one_segment_max_retransmissions_times()
    {
        var sender = Start(Settings("messenger.rudp { initial-rto = 20ms, min-rto = 10ms, max-rto = 40ms, max-retransmissions = 3 }"));
        Watch(sender);
        HandshakeAck(sender);
        // The client acks nothing: segment 0 is resent on every timeout, three times, then the sender gives up.
        var (reason, data) = UntilRst(TimeSpan.FromSeconds(5));
        Assert.Equal(RstReason.Aborted, reason);
        Assert.Equal(3, data.Count(d => d is (0, true)));
        ExpectTerminated(sender);
        _wire.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Sender_must_reset_once_when_the_file_shrinks_during_the_transfer()
    {
        const int segments = 3000; // past the reader's read-ahead block
        var path = _folder.CreateRandomFile("shrinks.bin", segments * 1452L, seed: 9);
        var file = new CatalogEntry("shrinks.bin", path, segments * 1452L, File.GetLastWriteTimeUtc(path),
            Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))));
        var sender = Start(file: file);
        Watch(sender);
        HandshakeAck(sender);
        Assert.Equal(RudpPacketKind.Data, Next().Kind); // the first block is read
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
            stream.SetLength(0);

        int acked = 1;
        Ack(sender, acked);
        var (reason, _) = UntilRst(TimeSpan.FromSeconds(10), sequence => Ack(sender, acked = Math.Max(acked, sequence + 1)));
        Assert.Equal(RstReason.InternalError, reason);
        ExpectTerminated(sender);
        _wire.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // once: no second RST, no restart
    }

    [Fact]
    public void Sender_must_survive_an_ack_with_an_alternating_bitmap_reading_only_max_sack_ranges()
    {
        var sender = Start(Settings("messenger.rudp.max-sack-ranges = 4"));
        HandshakeAck(sender);
        Burst(RudpConstants.InitialWindow);
        // Segments 1, 3, 5, 7 and 9 arrived: five ranges, of which the sender reads the lowest four.
        // Reading all five, 9 would be the highest acknowledged and 0, 2, 4 and 6 lost (reorder
        // threshold 3); reading four, 7 is the highest and only 0, 2 and 4 are.
        Ack(sender, 0, new SackRange(1, 2), new SackRange(3, 4), new SackRange(5, 6), new SackRange(7, 8), new SackRange(9, 10));
        var burst = new List<(RudpPacketKind Kind, int Sequence, bool Retransmission)> { Next(TimeSpan.FromSeconds(1)) }; // one burst, well before the 2 s RTO
        while (_unread.Count > 0) burst.Add(Next());
        _wire.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Equal([0, 2, 4], burst.Where(d => d.Retransmission).Select(d => d.Sequence));
    }

    void IDisposable.Dispose()
    {
        _folder.Dispose();
        base.Dispose();
    }
}
