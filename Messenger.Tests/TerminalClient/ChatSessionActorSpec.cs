using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Messenger.Client;
using Messenger.Net;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.TerminalClient;

public class ChatSessionActorSpec : TestKit
{
    private static readonly ChatSessionSettings Fast = new(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30));

    [Fact]
    public async Task Session_must_log_in_relay_frames_ping_and_say_bye()
    {
        await using var server = await TestServer.StartAsync();
        var session = Sys.ActorOf(ChatSessionActor.Props("127.0.0.1", server.Server.ChatEndpoint.Port, "alice", TestActor, Fast));
        Watch(session);

        var connected = await ExpectMsgAsync<SessionConnected>();
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, server.Server.ChatEndpoint.Port), connected.Remote); // where a UDP download goes
        var welcome = (await ExpectMsgAsync<SessionFrameReceived>()).Frame;
        Assert.Equal("alice", Assert.IsType<WelcomeFrame>(welcome).User);

        // The ping timer fires every 200 ms here: pongs arrive without being asked for.
        Assert.IsType<PongFrame>((await ExpectMsgAsync<SessionFrameReceived>()).Frame);

        session.Tell(new SayCommand("hello"));
        await FishForMessageAsync(m => m is SessionFrameReceived { Frame: MessageFrame { From: "alice", Text: "hello" } });

        session.Tell(SessionQuit.Instance);
        await FishForMessageAsync(m => m is SessionDisconnected);
        await ExpectTerminatedAsync(session);
    }

    [Fact]
    public async Task Session_must_report_a_refused_connection_and_stop()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        var session = Sys.ActorOf(ChatSessionActor.Props("127.0.0.1", port, "alice", TestActor, Fast));
        Watch(session);
        var failed = await ExpectMsgAsync<SessionConnectFailed>(TimeSpan.FromSeconds(10));
        Assert.Contains("cannot connect", failed.Reason);
        Assert.False(failed.Permanent, "a refused connection may work on the next try");
        await ExpectTerminatedAsync(session);
    }

    [Fact]
    public async Task Session_must_report_losing_the_server()
    {
        var server = await TestServer.StartAsync();
        bool stopped = false;
        try
        {
            var session = Sys.ActorOf(ChatSessionActor.Props("127.0.0.1", server.Server.ChatEndpoint.Port, "alice", TestActor, Fast));
            await ExpectMsgAsync<SessionConnected>();
            await FishForMessageAsync(m => m is SessionFrameReceived { Frame: WelcomeFrame });
            await server.DisposeAsync();
            stopped = true;
            var gone = (SessionDisconnected)await FishForMessageAsync(m => m is SessionDisconnected, TimeSpan.FromSeconds(15));
            Assert.False(string.IsNullOrWhiteSpace(gone.Reason));
        }
        finally
        {
            if (!stopped) await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Session_must_close_a_connection_that_completes_after_a_quit()
    {
        using var folder = new TempFolder();
        using var certificate = TlsCertificates.SelfSigned(folder.File("server.pfx"), out _);
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var session = Sys.ActorOf(ChatSessionActor.Props("127.0.0.1", port, "alice", TestActor, Fast, new ClientTls(TlsCertificates.Fingerprint(certificate))));
            Watch(session);
            using var accepted = await listener.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(10));
            // The client's TLS hello is here: its connect is under way, waiting for the server's answer.
            await accepted.Client.ReceiveAsync(new byte[1].AsMemory(), SocketFlags.Peek).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            session.Tell(SessionQuit.Instance);
            await ExpectMsgAsync<SessionDisconnected>();
            await ExpectTerminatedAsync(session);

            // The handshake may complete now, but the session is gone: the client must close the connection.
            await using var tls = new SslStream(accepted.GetStream());
            try
            {
                await tls.AuthenticateAsServerAsync(certificate).WaitAsync(TimeSpan.FromSeconds(10));
                Assert.Equal(0, await tls.ReadAsync(new byte[1]).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
            }
            catch (Exception e) when (e is IOException or AuthenticationException)
            {
                // closed during the handshake
            }
        }
        finally
        {
            listener.Stop();
        }
    }
}
