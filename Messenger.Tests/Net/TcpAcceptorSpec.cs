using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Messenger.Net;

namespace Messenger.Tests.Net;

/// <summary>The acceptor on a real socket on 127.0.0.1, its handlers test actors that report to a probe.</summary>
public class TcpAcceptorSpec : TestKit
{
    private sealed record HandlerStarted(IActorRef Handler);
    private sealed record Fail { public static readonly Fail Instance = new(); }

    /// <summary>Reports its start; throws when told <see cref="Fail"/>; cuts its connection when it stops, as the real handlers do.</summary>
    private sealed class ThrowingHandler : ReceiveActor
    {
        private readonly ClientConnection _connection;

        public ThrowingHandler(ClientConnection connection, IActorRef probe)
        {
            _connection = connection;
            probe.Tell(new HandlerStarted(Self));
            Receive<Fail>(_ => throw new InvalidOperationException("a bug in a handler"));
        }

        protected override void PostStop() => _connection.Abort();
    }

    private static readonly ListenerSettings Settings = new(
        Backlog: 16, InputPauseBytes: 4096, OutputPauseBytes: 4096,
        new ConnectionLimitSettings(Total: 4, PerAddress: 4, PreLogin: 4, IPv4Prefix: 24, IPv6Prefix: 48),
        HandshakeTimeout: TimeSpan.FromSeconds(5), LimitLogInterval: TimeSpan.FromMinutes(1), Tls: null, InlineIo: false, RefusingAtOnce: 4);

    [Fact]
    public async Task A_handler_that_fails_must_be_stopped_with_its_connection_not_restarted()
    {
        var probe = CreateTestProbe();
        var acceptor = Sys.ActorOf(TcpAcceptor.Props("test", new IPEndPoint(IPAddress.Loopback, 0),
            connection => Props.Create(() => new ThrowingHandler(connection, probe.Ref)), Settings));
        var bound = await acceptor.Ask<TcpBound>(GetBinding.Instance, TimeSpan.FromSeconds(5));

        using var client = new TcpClient();
        await client.ConnectAsync(bound.LocalAddress);
        var handler = probe.ExpectMsg<HandlerStarted>().Handler;
        Watch(handler);
        EventFilter.Exception<InvalidOperationException>().ExpectOne(() => handler.Tell(Fail.Instance));

        ExpectTerminated(handler);
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // no second instance started on the same connection
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try { Assert.Equal(0, await client.GetStream().ReadAsync(new byte[16], timeout.Token)); }
        catch (IOException) { } // cut: a reset is as good as a close here

        // The listener still takes clients.
        using var next = new TcpClient();
        await next.ConnectAsync(bound.LocalAddress);
        Assert.NotEqual(handler, probe.ExpectMsg<HandlerStarted>().Handler);
    }
}
