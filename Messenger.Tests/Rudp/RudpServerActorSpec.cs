using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Messenger.Hosting;
using Messenger.Protocol;
using Messenger.Rudp;
using Messenger.Rudp.Actors;

namespace Messenger.Tests.Rudp;

/// <summary>
/// The server endpoint on a real loopback socket, with a probe for the ticket office that refuses
/// every ticket: what a flood of bad SYNs costs in replies and in log lines.
/// </summary>
public sealed class RudpServerActorSpec : TestKit
{
    public RudpServerActorSpec() : base("akka.loglevel = INFO") { }

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
}
