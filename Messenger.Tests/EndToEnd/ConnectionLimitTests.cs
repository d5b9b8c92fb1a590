using System.Net.Sockets;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.EndToEnd;

/// <summary>Every resource an anonymous peer can take is bounded: the abuse probes, scaled down.</summary>
public class ConnectionLimitTests
{
    [Fact]
    public async Task Past_the_connection_limit_a_client_gets_one_error_line_and_a_close()
    {
        await using var server = await TestServer.StartAsync("messenger.chat.connections.max = 3");
        await using var a = await server.LoginAsync("a");
        await using var b = await server.LoginAsync("b");
        await using var c = await server.LoginAsync("c");
        await using var d = await server.ConnectAsync();
        var lines = await d.ReadUntilClosedAsync();
        Assert.Single(lines);
        Assert.Contains("\"connection_limit\"", lines[0]);
        // One leaves: there is room again.
        await c.SendAsync(ByeCommand.Instance);
        Assert.Empty(await c.ReadUntilClosedAsync());
        await a.ExpectAsync<JoinedFrame>();
        await a.ExpectAsync<JoinedFrame>();
        await a.ExpectAsync<LeftFrame>();
        await AssertEventually(async () =>
        {
            await using var e = await server.ConnectAsync();
            await e.SendAsync(new HelloCommand("e"));
            return await e.ReadFrameAsync() is WelcomeFrame;
        });
    }

    [Fact]
    public async Task Connections_from_one_address_are_limited()
    {
        await using var server = await TestServer.StartAsync("messenger.chat.connections.per-address = 2");
        await using var a = await server.ConnectAsync();
        await using var b = await server.ConnectAsync();
        await using var c = await server.ConnectAsync();
        var error = Assert.IsType<ErrorFrame>(await c.ReadFrameAsync());
        Assert.Equal(ErrorCodes.ConnectionLimit, error.Code);
        Assert.Contains("your address", error.Message);
        await a.SendAsync(PingCommand.Instance);
        await a.ExpectAsync<PongFrame>();
    }

    [Fact]
    public async Task Silent_connections_filling_the_pre_login_slots_make_room_for_a_newcomer_from_another_address()
    {
        await using var server = await TestServer.StartAsync("messenger.chat.connections.pre-login = 3");
        var squatter = System.Net.IPAddress.Parse("127.0.1.2"); // another /24 network than the test clients' 127.0.0.1
        var silent = new List<ChatTestClient>();
        for (int i = 0; i < 3; i++)
        {
            silent.Add(await ChatTestClient.ConnectAsync(server.Server.ChatEndpoint, squatter));
            await silent[i].SendAsync(PingCommand.Instance); // admitted, in this order
            await silent[i].ExpectAsync<PongFrame>();
        }
        // The squatter's address holds every slot: one more from it is refused...
        await using var fourth = await ChatTestClient.ConnectAsync(server.Server.ChatEndpoint, squatter);
        Assert.Equal(ErrorCodes.ConnectionLimit, Assert.IsType<ErrorFrame>(await fourth.ReadFrameAsync()).Code);
        Assert.Null(await fourth.ReadLineAsync());
        // ... but a newcomer from another address gets in, in the place of the squatter's oldest.
        await using var alice = await server.LoginAsync("alice");
        var displaced = Assert.IsType<ErrorFrame>(await silent[0].ReadFrameAsync());
        Assert.Equal(ErrorCodes.ConnectionLimit, displaced.Code);
        Assert.Contains("waited longest", displaced.Message);
        Assert.Null(await silent[0].ReadLineAsync());
        await silent[1].SendAsync(PingCommand.Instance);
        await silent[1].ExpectAsync<PongFrame>();
        foreach (var client in silent) await client.DisposeAsync();
    }

    [Fact]
    public async Task Logins_from_one_address_are_limited_with_too_many_logins_and_other_addresses_still_get_in()
    {
        await using var server = await TestServer.StartAsync("messenger.chat.logins-per-address { per-second = 0.01, burst = 3 }");
        await using var a = await server.LoginAsync("a");
        await using var b = await server.LoginAsync("b");
        await using var c = await server.LoginAsync("c");
        await using var d = await server.ConnectAsync();
        await d.SendAsync(new HelloCommand("d"));
        var refused = await d.ExpectErrorAsync(ErrorCodes.TooManyLogins);
        Assert.Contains("your address", refused.Message);
        await d.SendAsync(PingCommand.Instance); // still open
        await d.ExpectAsync<PongFrame>();

        await using var other = await ChatTestClient.LoginAsync(server.Server.ChatEndpoint, "other", System.Net.IPAddress.Parse("127.0.0.2"));
        await a.SendAsync(new PmCommand("other", "hi"));
        Assert.Equal("hi", (await other.ExpectIgnoringPresenceAsync<PrivateMessageFrame>()).Text);
    }

    [Fact]
    public async Task Silent_and_trickling_connections_are_closed_at_the_login_deadline_while_others_log_in()
    {
        await using var server = await TestServer.StartAsync("messenger.chat.login-timeout = 1s");
        var silent = new List<ChatTestClient>();
        for (int i = 0; i < 50; i++) silent.Add(await server.ConnectAsync());
        await using var trickle = await server.ConnectAsync();
        await trickle.SendRawAsync("{\"type\""u8.ToArray());
        // Meanwhile a real client logs in at once.
        await using var alice = await server.LoginAsync("alice");
        await trickle.SendRawAsync(":"u8.ToArray()); // a byte is not a line: the deadline stands
        Assert.Equal(ErrorCodes.LoginTimeout, Assert.IsType<ErrorFrame>(await trickle.ReadFrameAsync()).Code);
        Assert.Null(await trickle.ReadLineAsync());
        foreach (var client in silent)
        {
            Assert.Equal(ErrorCodes.LoginTimeout, Assert.IsType<ErrorFrame>(await client.ReadFrameAsync()).Code);
            Assert.Null(await client.ReadLineAsync());
            await client.DisposeAsync();
        }
        await alice.SendAsync(PingCommand.Instance);
        await alice.ExpectAsync<PongFrame>();
    }

    [Fact]
    public async Task A_client_that_pipelines_who_while_reading_slowly_is_slowed_not_dropped()
    {
        // 40 users online; a client sends 3,000 `who` at once and then reads, with an outbound
        // limit (16 KiB) far below the 3,000 answers (about 1 MB).
        await using var server = await TestServer.StartAsync("messenger.chat.outbound-limit = 16 KiB\nmessenger.chat.rate-limit.enabled = off");
        var others = new List<ChatTestClient>();
        for (int i = 0; i < 40; i++) others.Add(await server.LoginAsync($"user{i:00}"));
        await using var piper = await server.LoginAsync("piper");
        var burst = string.Concat(Enumerable.Repeat("{\"type\":\"who\"}\n", 3000));
        var send = piper.SendRawAsync(System.Text.Encoding.ASCII.GetBytes(burst));
        int answers = 0;
        while (answers < 3000)
        {
            var frame = await piper.ReadFrameAsync();
            if (frame is UsersFrame users) { Assert.Equal(41, users.Users.Count); answers++; }
            else Assert.IsNotType<ErrorFrame>(frame);
        }
        await send;
        foreach (var other in others) await other.DisposeAsync();
    }

    [Fact]
    public async Task A_TCP_download_whose_client_stops_reading_is_cut_after_the_stall_timeout()
    {
        // One file-channel connection at a time: a second one is refused while the stalled one is held.
        await using var server = await TestServer.StartAsync("messenger.files.stall-timeout = 1s\nmessenger.files.connections.max = 1");
        server.Files.CreateRandomFile("big.bin", 64L << 20, seed: 3);
        await using var client = await server.LoginAsync("reader");
        await client.SendAsync(new GetCommand("big.bin", TransferVia.Tcp));
        var ticket = await client.ExpectAsync<TicketFrame>();

        using var download = new TcpClient { ReceiveBufferSize = 64 * 1024 };
        await download.ConnectAsync(server.Server.FileEndpoint);
        var stream = download.GetStream();
        await stream.WriteAsync(ChatCodec.EncodeTicketRequest(new TicketRequest(ticket.Ticket, 0)));
        // Read nothing: the server sees no progress and cuts the download, which frees its slot.
        await AssertEventually(async () =>
        {
            using var probe = new TcpClient();
            await probe.ConnectAsync(server.Server.FileEndpoint);
            var answer = new byte[256];
            using var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            try { return await probe.GetStream().ReadAsync(answer, quiet.Token) == 0; } // a connection_limit line: still held
            catch (OperationCanceledException) { return true; }                      // admitted: the server waits for a ticket line
            catch (IOException) { return false; }
        }, TimeSpan.FromSeconds(20));
        // The stalled client now reads: part of the file, then the end.
        var buffer = new byte[1 << 20];
        long received = 0;
        try
        {
            int n;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while ((n = await stream.ReadAsync(buffer, timeout.Token)) > 0) received += n;
        }
        catch (IOException) { } // cut: a reset is an end too
        Assert.True(received < 64L << 20, $"received {received} bytes: the whole file");
    }

    private static async Task AssertEventually(Func<Task<bool>> condition, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(10));
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition never held");
            await Task.Delay(50);
        }
    }
}
