using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Akka.Actor;
using Messenger.Client;
using Messenger.Hosting;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.EndToEnd;

/// <summary>TLS on the chat and TCP-file ports, with a self-signed certificate made for the test.</summary>
public sealed class TlsTests : IAsyncLifetime
{
    private readonly TempFolder _certFolder = new();
    private TestServer _server = null!;
    private ActorSystem _client = null!;

    public async Task InitializeAsync()
    {
        var certPath = _certFolder.File("server.pfx").Replace("\\", "\\\\");
        _server = await TestServer.StartAsync($"messenger.tls {{ self-signed = on, self-signed-file = \"{certPath}\" }}");
        _client = ActorSystem.Create("tls-client", ClientConfig.Load());
    }

    public async Task DisposeAsync()
    {
        await _client.Terminate();
        await _server.DisposeAsync();
        _certFolder.Dispose();
    }

    private string Fingerprint => _server.Server.TlsFingerprint!;

    [Fact]
    public async Task A_client_that_pins_the_certificate_chats_and_downloads_over_TLS()
    {
        _server.Files.CreateRandomFile("secret.bin", 3_000_000, seed: 5);
        var tls = new ClientTls(Fingerprint);
        var session = ChatSession.Start(_client, "127.0.0.1", _server.Server.ChatEndpoint.Port, "alice", tls);
        await session.ExpectAsync<WelcomeFrame>();
        session.Send(new SayCommand("over tls"));
        Assert.Equal("over tls", (await session.ExpectAsync<MessageFrame>()).Text);
        session.Send(new GetCommand("secret.bin", TransferVia.Tcp));
        var ticket = await session.ExpectAsync<TicketFrame>();
        using var downloads = new TempFolder();
        var result = await TcpDownload.RunAsync("127.0.0.1", ticket, downloads.Path, tls: tls);
        Assert.True(result.Verified, result.Error);
        Assert.Equal(File.ReadAllBytes(_server.Files.File("secret.bin")), File.ReadAllBytes(downloads.File("secret.bin")));
        session.Quit();
    }

    [Fact]
    public async Task A_wrong_pinned_fingerprint_is_refused_with_a_clear_error_that_retrying_cannot_fix()
    {
        var wrong = new string('0', 64);
        var session = ChatSession.Start(_client, "127.0.0.1", _server.Server.ChatEndpoint.Port, "mallory", new ClientTls(wrong));
        var failed = Assert.IsType<SessionConnectFailed>(await session.Events.ReadAsync());
        Assert.Contains("fingerprint", failed.Reason);
        Assert.Contains(Fingerprint, failed.Reason);
        Assert.True(failed.Permanent, "a client must not retry a certificate it refused");
    }

    [Fact]
    public async Task A_plain_client_on_the_TLS_port_is_told_to_add_tls()
    {
        var settings = ChatSessionSettings.FromConfig(_client.Settings.Config);
        await using var channel = await ControlChannel.ConnectAsync("127.0.0.1", _server.Server.ChatEndpoint.Port, settings, tls: null, CancellationToken.None);
        await channel.SendAsync(new HelloCommand("plain"));
        var error = await Assert.ThrowsAsync<SessionEndedException>(() => channel.ExpectAsync<WelcomeFrame>());
        Assert.Contains("add --tls", error.Message);

        var session = ChatSession.Start(_client, "127.0.0.1", _server.Server.ChatEndpoint.Port, "plain2");
        Assert.IsType<SessionConnected>(await session.Events.ReadAsync());
        var gone = Assert.IsType<SessionDisconnected>(await session.Events.ReadAsync());
        Assert.Contains("add --tls", gone.Reason);
    }

    [Fact]
    public async Task A_TLS_client_on_a_plain_port_is_told_the_server_does_not_speak_TLS()
    {
        await using var plain = await TestServer.StartAsync(systemName: "plain-server");
        var session = ChatSession.Start(_client, "127.0.0.1", plain.Server.ChatEndpoint.Port, "tls", new ClientTls(Fingerprint));
        var failed = Assert.IsType<SessionConnectFailed>(await session.Events.ReadAsync());
        Assert.Contains("does not seem to speak TLS", failed.Reason);
        Assert.DoesNotContain("Cannot determine the frame size", failed.Reason.Split(':')[0]);
    }

    [Fact]
    public async Task A_self_signed_certificate_is_not_trusted_without_a_pin()
    {
        var session = ChatSession.Start(_client, "127.0.0.1", _server.Server.ChatEndpoint.Port, "trusting", new ClientTls(null));
        var failed = Assert.IsType<SessionConnectFailed>(await session.Events.ReadAsync());
        Assert.Contains("not trusted", failed.Reason);
        Assert.True(failed.Permanent);
    }

    [Fact]
    public async Task A_newcomer_cuts_short_the_oldest_TLS_handshake_when_every_pre_login_slot_is_taken()
    {
        using var certFolder = new TempFolder();
        var certPath = certFolder.File("server.pfx").Replace("\\", "\\\\");
        await using var server = await TestServer.StartAsync(
            $"messenger.tls {{ self-signed = on, self-signed-file = \"{certPath}\" }}\nmessenger.chat.connections.pre-login = 1");
        // A peer from another network takes the one slot and never starts its handshake; a second
        // one from there is refused (closed), which shows the first holds the slot.
        var squatterAddress = new System.Net.IPEndPoint(System.Net.IPAddress.Parse("127.0.1.2"), 0); // another /24 network than 127.0.0.1
        using var squatter = new TcpClient(squatterAddress);
        await squatter.ConnectAsync(server.Server.ChatEndpoint);
        using (var second = new TcpClient(squatterAddress))
        {
            await second.ConnectAsync(server.Server.ChatEndpoint);
            Assert.True(await ClosedWithinAsync(second, TimeSpan.FromSeconds(5)), "a second connection from the squatter's address was admitted");
        }
        var alice = ChatSession.Start(_client, "127.0.0.1", server.Server.ChatEndpoint.Port, "alice", new ClientTls(server.Server.TlsFingerprint));
        await alice.ExpectAsync<WelcomeFrame>();
        Assert.True(await ClosedWithinAsync(squatter, TimeSpan.FromSeconds(5)), "the squatter's handshake was not cut short"); // its timeout is 10 s
        alice.Quit();
    }

    private static async Task<bool> ClosedWithinAsync(TcpClient client, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        try { return await client.GetStream().ReadAsync(new byte[64], timeout.Token) == 0; }
        catch (IOException) { return true; } // a reset is also a close
        catch (OperationCanceledException) { return false; }
    }

    [Fact]
    public async Task A_plain_text_client_on_the_TLS_port_is_closed_without_hurting_others()
    {
        var tls = new ClientTls(Fingerprint);
        var alice = ChatSession.Start(_client, "127.0.0.1", _server.Server.ChatEndpoint.Port, "alice", tls);
        await alice.ExpectAsync<WelcomeFrame>();

        using var plain = new TcpClient();
        await plain.ConnectAsync(_server.Server.ChatEndpoint);
        var stream = plain.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes("{\"type\":\"hello\",\"user\":\"plain\"}\n"));
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int total = 0;
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, timeout.Token)) > 0) total += n;
        }
        catch (IOException) { } // a reset is also a close
        Assert.DoesNotContain("welcome", Encoding.UTF8.GetString(buffer, 0, Math.Min(total, buffer.Length)));

        alice.Send(new SayCommand("still here"));
        Assert.Equal("still here", (await alice.ExpectAsync<MessageFrame>()).Text);
        alice.Quit();
    }
}
