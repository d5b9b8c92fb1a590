using System.Net;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Messenger.Client;
using Messenger.Hosting;
using Messenger.Protocol;
using Messenger.Rudp;
using Messenger.Rudp.Actors;
using Messenger.Tests.Support;

namespace Messenger.Tests.Rudp;

/// <summary>
/// The client's receiver with a probe standing in for its socket: every datagram it sends is a
/// <see cref="SendDatagram"/> the probe receives, and the test plays the server by hand. The actor
/// system is configured as the client's (hocon/client.hocon), supervision included.
/// </summary>
public sealed class FileReceiverActorSpec : TestKit, IDisposable
{
    private const uint ConnectionId = 0xC0FFEE;
    private const int Payload = 1452;
    private static readonly IPEndPoint Server = new(IPAddress.Loopback, 7402);

    private readonly TempFolder _folder = new();
    private readonly TestProbe _wire;
    private readonly byte[] _content;
    private readonly TicketFrame _ticket;
    private readonly TaskCompletionSource<DownloadResult> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IActorRef _receiver = ActorRefs.Nobody;

    public FileReceiverActorSpec() : base(ClientConfig.Load())
    {
        _wire = CreateTestProbe();
        _content = new byte[4 * Payload + 100]; // five segments, the last one short
        new Random(5).NextBytes(_content);
        _ticket = new TicketFrame("f.bin", TransferVia.Udp, "00112233445566778899aabbccddeeff", _content.Length,
            Convert.ToHexStringLower(SHA256.HashData(_content)), Server.Port);
    }

    private string Target => Path.Combine(_folder.Path, "f.bin");

    /// <summary>Starts the receiver and answers its SYN with a SYN-ACK; returns once the handshake ACK is on the wire.</summary>
    private void Connect(string extraSettings = "", IProgress<DownloadProgress>? progress = null, Action? onOpenWire = null)
    {
        var settings = RudpSettings.FromConfig(ClientConfig.Load(overrides: Akka.Configuration.ConfigurationFactory.ParseString(
            "messenger.rudp { delayed-ack = 1s, handshake-retry-interval = 5s, idle-timeout = 10s }\n" + extraSettings)));
        _receiver = Sys.ActorOf(FileReceiverActor.Props(_ =>
        {
            onOpenWire?.Invoke();
            return _wire.Ref;
        }, Server, _ticket, _folder.Path, settings, progress, _done));
        var (kind, syn) = Next();
        Assert.Equal(RudpPacketKind.Syn, kind);
        Assert.Equal(Convert.FromHexString(_ticket.Ticket), RudpCodec.ReadSyn(syn).Ticket.ToArray());
        Tell(b => RudpCodec.WriteSynAck(b, ConnectionId, _content.Length, SHA256.HashData(_content), Payload, 5));
        Assert.Equal(RudpPacketKind.HandshakeAck, Next().Kind);
    }

    private (RudpPacketKind Kind, byte[] Datagram) Next()
    {
        var sent = _wire.ExpectMsg<SendDatagram>(TimeSpan.FromSeconds(3));
        Assert.Equal(Server, sent.To);
        Assert.True(RudpCodec.TryRead(sent.Data, out var header, out var error), error);
        return (header.Kind, sent.Data);
    }

    private AckBody NextAck(out SackRange[] ranges)
    {
        var (kind, datagram) = Next();
        Assert.Equal(RudpPacketKind.Ack, kind);
        var read = new SackRange[RudpConstants.MaxSackRanges];
        var ack = RudpCodec.ReadAck(datagram, read);
        ranges = read[..ack.SackRangeCount];
        return ack;
    }

    private void Tell(Func<byte[], int> write, IPEndPoint? from = null)
    {
        var buffer = new byte[RudpConstants.MaxDatagram];
        int length = write(buffer);
        _receiver.Tell(new DatagramReceived(buffer[..length], from ?? Server));
    }

    private void Data(int sequence, bool retransmission = false) => Tell(b => RudpCodec.WriteData(b, ConnectionId, (uint)sequence,
        (uint)(1000 + sequence), retransmission, _content.AsSpan(sequence * Payload, Math.Min(Payload, _content.Length - sequence * Payload))));

    [Fact]
    public async Task Receiver_must_acknowledge_every_fourth_segment_write_the_file_and_answer_fin_with_fin_ack()
    {
        Connect();
        for (int i = 0; i < 4; i++) Data(i);
        var ack = NextAck(out var ranges);
        Assert.Equal(4u, ack.CumulativeAck); // one ack for four in-order segments
        Assert.Empty(ranges);
        Assert.Equal(1003u, ack.EchoedTimestamp);
        Data(4); // the last: the file is complete, acked at once
        Assert.Equal(5u, NextAck(out _).CumulativeAck);
        Tell(b => RudpCodec.WriteFin(b, ConnectionId));
        Assert.Equal(RudpPacketKind.FinAck, Next().Kind);

        var result = await _done.Task.WaitAsync(TimeSpan.FromSeconds(3));
        Assert.True(result.Verified, result.Error);
        Assert.Equal(_content, File.ReadAllBytes(Target));
        Assert.Null(result.Stats!.SmoothedRttMs); // the receiver measures no RTT, and says so
        Assert.DoesNotContain("srtt", result.Stats.ToString());
    }

    [Fact]
    public void Receiver_must_ack_at_once_when_a_hole_opens_and_when_it_fills()
    {
        Connect();
        Data(0);
        Data(2); // a hole at 1
        var ack = NextAck(out var ranges);
        Assert.Equal(1u, ack.CumulativeAck);
        Assert.Equal([new SackRange(2, 3)], ranges);
        Assert.Equal(2u, ack.EchoedSequence);
        Data(1, retransmission: true); // the hole fills
        ack = NextAck(out ranges);
        Assert.Equal(3u, ack.CumulativeAck);
        Assert.Empty(ranges);
        Assert.True(ack.EchoedRetransmission);
    }

    [Fact]
    public void Receiver_must_take_a_batch_that_crosses_a_state_change_datagram_by_datagram()
    {
        var settings = RudpSettings.FromConfig(ClientConfig.Load(overrides: Akka.Configuration.ConfigurationFactory.ParseString(
            "messenger.rudp { delayed-ack = 1s, handshake-retry-interval = 5s }")));
        _receiver = Sys.ActorOf(FileReceiverActor.Props(_ => _wire.Ref, Server, _ticket, _folder.Path, settings, null, _done));
        Assert.Equal(RudpPacketKind.Syn, Next().Kind);
        // The SYN-ACK and the first four segments waited in the socket together: one message.
        var batch = new List<(byte[], IPEndPoint)> { Datagram(b => RudpCodec.WriteSynAck(b, ConnectionId, _content.Length, SHA256.HashData(_content), Payload, 5)) };
        for (int i = 0; i < 4; i++)
            batch.Add(Datagram(b => RudpCodec.WriteData(b, ConnectionId, (uint)i, 0, false, _content.AsSpan(i * Payload, Payload))));
        _receiver.Tell(new DatagramsReceived(batch));
        Assert.Equal(RudpPacketKind.HandshakeAck, Next().Kind);
        Assert.Equal(4u, NextAck(out _).CumulativeAck); // the segments met the receiving state, not the connecting one
    }

    [Fact]
    public void Receiver_must_ack_a_batch_once_at_its_end()
    {
        Connect();
        // Segments 0, 2, 3 and 4 arrived together: the hole at 1 would draw an ack at once, but
        // inside a batch the one ack waits for the end and describes all four.
        var batch = new[] { 0, 2, 3, 4 }.Select(i => Datagram(b => RudpCodec.WriteData(b, ConnectionId, (uint)i, (uint)(1000 + i), false,
            _content.AsSpan(i * Payload, Math.Min(Payload, _content.Length - i * Payload))))).ToList();
        _receiver.Tell(new DatagramsReceived(batch));
        var ack = NextAck(out var ranges);
        Assert.Equal(1u, ack.CumulativeAck);
        Assert.Equal([new SackRange(2, 5)], ranges);
        Assert.Equal(4u, ack.EchoedSequence);
        _wire.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Receiver_must_ack_a_long_batch_every_batch_ack_every_segments_as_well()
    {
        Connect("messenger.rudp { ack-every = 1, batch-ack-every = 2 }");
        // All five segments arrived together: were the batch acked once, that one ack's loss
        // would leave a sender whose window is full nothing to do but wait for its timer.
        var batch = Enumerable.Range(0, 5).Select(i => Datagram(b => RudpCodec.WriteData(b, ConnectionId, (uint)i, (uint)(1000 + i), false,
            _content.AsSpan(i * Payload, Math.Min(Payload, _content.Length - i * Payload))))).ToList();
        _receiver.Tell(new DatagramsReceived(batch));
        Assert.Equal(2u, NextAck(out _).CumulativeAck);
        Assert.Equal(4u, NextAck(out _).CumulativeAck);
        var last = NextAck(out _);
        Assert.Equal(5u, last.CumulativeAck);
        Assert.Equal(4u, last.EchoedSequence);
        _wire.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    private static (byte[], IPEndPoint) Datagram(Func<byte[], int> write)
    {
        var buffer = new byte[RudpConstants.MaxDatagram];
        return (buffer[..write(buffer)], Server);
    }

    [Fact]
    public void Receiver_must_ignore_datagrams_from_anyone_but_its_server()
    {
        Connect();
        for (int i = 0; i < 4; i++)
            Tell(b => RudpCodec.WriteData(b, ConnectionId, (uint)i, 0, false, _content.AsSpan(i * Payload, Payload)),
                from: new IPEndPoint(IPAddress.Loopback, 9999));
        _wire.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // no ack: none of it counted
    }

    [Fact]
    public async Task Receiver_must_fail_clearly_and_remove_the_part_file_when_the_server_cannot_read_the_file()
    {
        Connect();
        Data(0);
        Assert.True(File.Exists(PartFile.PathFor(Target)));
        Tell(b => RudpCodec.WriteRst(b, ConnectionId, RstReason.InternalError));
        var failure = await Assert.ThrowsAsync<DownloadFailedException>(() => _done.Task.WaitAsync(TimeSpan.FromSeconds(3)));
        Assert.Contains("could not read the file", failure.Message);
        Assert.False(File.Exists(PartFile.PathFor(Target)));
        Assert.False(File.Exists(Target));
    }

    [Fact]
    public async Task Receiver_must_reset_and_fail_with_the_disk_error_when_the_file_cannot_be_moved_into_place()
    {
        Directory.CreateDirectory(Path.Combine(Target, "in-the-way")); // a folder holds the file's name: the rename into place fails
        Connect();
        Watch(_receiver);
        for (int i = 0; i < 5; i++) Data(i);
        Assert.Equal(4u, NextAck(out _).CumulativeAck);
        Assert.Equal(5u, NextAck(out _).CumulativeAck);
        Tell(b => RudpCodec.WriteFin(b, ConnectionId));

        var (kind, rst) = Next();
        Assert.Equal(RudpPacketKind.Rst, kind); // the server hears of it at once, not after its idle timeout
        Assert.Equal(RstReason.Aborted, RudpCodec.ReadRst(rst));
        var failure = await Assert.ThrowsAsync<DownloadFailedException>(() => _done.Task.WaitAsync(TimeSpan.FromSeconds(3)));
        Assert.Equal("io", failure.Code);
        Assert.Contains(Target, failure.Message);
        await ExpectTerminatedAsync(_receiver); // stopped, not restarted (a restart would send a new SYN)
        _wire.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.False(File.Exists(PartFile.PathFor(Target)));
    }

    [Fact]
    public async Task Receiver_must_stop_and_never_restart_when_it_fails_unexpectedly()
    {
        int wires = 0;
        Connect(progress: new ThrowingProgress(), onOpenWire: () => Interlocked.Increment(ref wires));
        Watch(_receiver);
        await ExpectTerminatedAsync(_receiver); // the first progress report throws
        var failure = await Assert.ThrowsAsync<DownloadFailedException>(() => _done.Task.WaitAsync(TimeSpan.FromSeconds(3)));
        Assert.Equal("stopped", failure.Code);
        Assert.Equal(1, Volatile.Read(ref wires)); // a restart would open a second wire over the first one's closed socket
        Assert.False(File.Exists(PartFile.PathFor(Target)));
    }

    private sealed class ThrowingProgress : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => throw new InvalidOperationException("the progress display broke");
    }

    void IDisposable.Dispose()
    {
        base.Dispose();
        _folder.Dispose();
    }
}
