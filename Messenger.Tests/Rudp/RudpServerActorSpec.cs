using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using System.Security.Cryptography;
using Messenger.Files;
using Messenger.Hosting;
using Messenger.Protocol;
using Messenger.Rudp;
using Messenger.Rudp.Actors;

namespace Messenger.Tests.Rudp;

/// <summary>
/// The server endpoint on a real loopback socket, with a probe for the ticket office: what a
/// flood of bad SYNs costs in replies and in log lines, and what a flood for one transfer queues.
/// The transfers (and the wire) run on a dispatcher of one thread that a test can hold.
/// </summary>
public sealed class RudpServerActorSpec : TestKit, IDisposable
{
    private readonly Messenger.Tests.Support.TempFolder _folder = new();

    public RudpServerActorSpec() : base("""
        akka.loglevel = INFO
        held { type = ForkJoinDispatcher, throughput = 100, dedicated-thread-pool.thread-count = 1 }
        akka.actor.deployment { "/file-udp/*".dispatcher = held }
        """) { }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _folder.Dispose();
    }

    /// <summary>Holds the dispatcher's one thread until the returned gate is set.</summary>
    private sealed class Holder : ReceiveActor
    {
        public Holder() => Receive<(ManualResetEventSlim Entered, ManualResetEventSlim Gate)>(m =>
        {
            m.Entered.Set();
            m.Gate.Wait(TimeSpan.FromSeconds(30));
        });
    }

    [Fact]
    public async Task Refused_syns_are_each_answered_by_one_small_rst_and_logged_as_counts_per_interval()
    {
        var config = ServerConfig.Load(overrides: Akka.Configuration.ConfigurationFactory.ParseString("messenger.rudp.log-interval = 2s"));
        var settings = RudpSettings.FromConfig(config);
        var tickets = CreateTestProbe();
        tickets.SetAutoPilot(new DelegateAutoPilot((sender, _) =>
        {
            sender.Tell(new ErrorFrame(ErrorCodes.BadTicket, "unknown ticket"));
            return AutoPilot.KeepRunning;
        }));
        var log = CreateTestProbe();
        Sys.EventStream.Subscribe(log.Ref, typeof(Info));
        var socket = UdpSockets.Bind(new IPEndPoint(IPAddress.Loopback, 0), 1 << 20);
        var port = (IPEndPoint)socket.LocalEndPoint!;
        Sys.ActorOf(RudpServerActor.Props(socket, tickets.Ref, settings, RudpServerLimits.FromConfig(config)), "file-udp");

        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        const int syns = 50;
        var syn = new byte[RudpConstants.SynSize];
        var ticket = new byte[RudpConstants.TicketSize];
        for (int i = 0; i < syns; i++)
        {
            ticket[0] = (byte)i; // a different ticket each time
            RudpCodec.WriteSyn(syn, ticket, 64);
            await udp.SendAsync(syn, port);
            var reply = await udp.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(5));
            Assert.True(RudpCodec.TryRead(reply.Buffer, out var header, out var error), error);
            Assert.Equal(RudpPacketKind.Rst, header.Kind);
            Assert.Equal(RstReason.BadTicket, RudpCodec.ReadRst(reply.Buffer));
            Assert.True(reply.Buffer.Length < syn.Length);
        }

        // Fifty refusals, sent well inside one 2 s interval: at most two lines, whose counts add up to fifty.
        int counted = 0, lines = 0;
        while (counted < syns)
        {
            var line = log.ExpectMsg<Info>(TimeSpan.FromSeconds(5)).Message.ToString()!;
            if (!line.Contains("refused")) continue;
            lines++;
            counted += int.Parse(line.Split(' ')[2]);
        }
        Assert.Equal(syns, counted);
        Assert.InRange(lines, 1, 2);
    }

    [Fact]
    public async Task Datagrams_past_max_queued_datagrams_for_one_transfer_are_dropped_and_counted()
    {
        var path = _folder.CreateRandomFile("q.bin", 100_000, seed: 3);
        var info = new FileInfo(path);
        var entry = new CatalogEntry("q.bin", path, info.Length, info.LastWriteTimeUtc,
            Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))));
        var config = ServerConfig.Load(overrides: Akka.Configuration.ConfigurationFactory.ParseString(
            "messenger.rudp { log-interval = 200ms, max-queued-datagrams = 8 }"));
        var tickets = CreateTestProbe();
        tickets.SetAutoPilot(new DelegateAutoPilot((sender, _) =>
        {
            sender.Tell(new TicketRedeemed(entry, 0));
            return AutoPilot.KeepRunning;
        }));
        var log = CreateTestProbe();
        Sys.EventStream.Subscribe(log.Ref, typeof(Info));
        var socket = UdpSockets.Bind(new IPEndPoint(IPAddress.Loopback, 0), 1 << 20);
        var port = (IPEndPoint)socket.LocalEndPoint!;
        Sys.ActorOf(RudpServerActor.Props(socket, tickets.Ref, RudpSettings.FromConfig(config), RudpServerLimits.FromConfig(config)), "file-udp");

        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var syn = new byte[RudpConstants.SynSize];
        RudpCodec.WriteSyn(syn, new byte[RudpConstants.TicketSize], 64);
        await udp.SendAsync(syn, port);
        var synAck = await udp.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(RudpCodec.TryRead(synAck.Buffer, out var header, out _));
        Assert.Equal(RudpPacketKind.SynAck, header.Kind);

        // The transfer is held; 100 retried SYNs arrive for it (each would draw a SYN-ACK).
        using var entered = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        Sys.ActorOf(Props.Create(() => new Holder()).WithDispatcher("held")).Tell((entered, gate));
        Assert.True(entered.Wait(TimeSpan.FromSeconds(5)));
        const int flood = 100;
        for (int i = 0; i < flood; i++) await udp.SendAsync(syn, port);
        // The server keeps 8 for the transfer and logs the rest as dropped.
        int dropped = 0;
        while (dropped < flood - 8)
        {
            var line = log.ExpectMsg<Info>(TimeSpan.FromSeconds(5)).Message.ToString()!;
            if (line.StartsWith("udp: dropped ")) dropped += int.Parse(line.Split(' ')[2]);
        }
        Assert.Equal(flood - 8, dropped);
        gate.Set();

        // Released, the transfer answers the 8 it was given, and nothing more: once they are out
        // (its queue is empty again) the handshake ACK it is sent now is answered by DATA.
        async Task<RudpPacketKind> NextKind()
        {
            var next = await udp.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(5));
            Assert.True(RudpCodec.TryRead(next.Buffer, out var h, out _));
            return h.Kind;
        }
        for (int i = 0; i < 8; i++) Assert.Equal(RudpPacketKind.SynAck, await NextKind());
        var ack = new byte[RudpConstants.HandshakeAckSize];
        RudpCodec.WriteHandshakeAck(ack, header.ConnectionId, 64);
        await udp.SendAsync(ack, port);
        Assert.Equal(RudpPacketKind.Data, await NextKind());
    }
}
