using System.Net;
using System.Net.Sockets;
using System.Text;
using Messenger.Client;
using Messenger.Protocol;

namespace Messenger.Tests.TerminalClient;

/// <summary>The headless commands' control channel against a scripted server on loopback.</summary>
public sealed class ControlChannelTests : IAsyncDisposable
{
    private static readonly ChatSessionSettings Settings = new(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60));
    private const string Ping = """{"type":"ping"}""";
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));

    public ControlChannelTests() => _listener.Start();

    private int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public ValueTask DisposeAsync()
    {
        _listener.Stop();
        _timeout.Dispose();
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task Sends_commands_skips_unwanted_frames_and_pings_every_interval()
    {
        await using var channel = await ControlChannel.ConnectAsync("127.0.0.1", Port, Settings, null, _timeout.Token);
        using var server = await _listener.AcceptTcpClientAsync(_timeout.Token);
        using var reader = new StreamReader(server.GetStream(), Encoding.UTF8);

        await channel.SendAsync(new HelloCommand("alice"), _timeout.Token);
        string? line;
        do line = await reader.ReadLineAsync(_timeout.Token);
        while (line == Ping); // on a slow machine the first ping may come first
        Assert.Equal("""{"type":"hello","user":"alice"}""", line);
        await server.GetStream().WriteAsync("""
            {"type":"joined","user":"bob","room":"lobby"}
            {"type":"welcome","user":"alice","users":["alice","bob"]}

            """u8.ToArray(), _timeout.Token);
        var welcome = await channel.ExpectAsync<WelcomeFrame>(cancel: _timeout.Token);
        Assert.Equal("alice", welcome.User);

        // Nothing more is sent: the next lines are the pinger's, one per interval.
        Assert.Equal(Ping, await reader.ReadLineAsync(_timeout.Token));
        Assert.Equal(Ping, await reader.ReadLineAsync(_timeout.Token));
    }

    [Fact]
    public async Task An_error_frame_throws_the_servers_code_and_a_closed_connection_ends_the_wait()
    {
        await using var channel = await ControlChannel.ConnectAsync("127.0.0.1", Port, Settings, null, _timeout.Token);
        using (var server = await _listener.AcceptTcpClientAsync(_timeout.Token))
        {
            await server.GetStream().WriteAsync("""
                {"type":"error","code":"username_taken","message":"alice is taken"}
                not json

                """u8.ToArray(), _timeout.Token);
            var refused = await Assert.ThrowsAsync<ServerErrorException>(() => channel.ExpectAsync<WelcomeFrame>(cancel: _timeout.Token));
            Assert.Equal("username_taken", refused.Code);
            var unreadable = await Assert.ThrowsAsync<ServerErrorException>(() => channel.ExpectAsync<WelcomeFrame>(cancel: _timeout.Token));
            Assert.Equal(ChatSessionActor.UnreadableFrameCode, unreadable.Code);
        }
        var ended = await Assert.ThrowsAsync<SessionEndedException>(() => channel.ExpectAsync<WelcomeFrame>(cancel: _timeout.Token));
        Assert.Contains("closed", ended.Message);
    }

    [Fact]
    public async Task A_closed_port_is_a_clear_connect_failure()
    {
        int port = Port;
        _listener.Stop();
        var failed = await Assert.ThrowsAsync<SessionEndedException>(() => ControlChannel.ConnectAsync("127.0.0.1", port, Settings, null, _timeout.Token));
        Assert.Contains($"cannot connect to 127.0.0.1:{port}", failed.Message);
    }
}
