using System.Net.Sockets;
using System.Text;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.EndToEnd;

/// <summary>The chat server over real loopback sockets, from the outside.</summary>
public class ChatServerTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await TestServer.StartAsync("messenger.chat.outbound-limit = 256 KiB");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Three_clients_chat_and_a_taken_name_can_retry_on_the_same_connection()
    {
        await using var alice = await _server.LoginAsync("alice");
        await using var bob = await _server.LoginAsync("bob");
        Assert.Equal(new JoinedFrame("bob", RoomNames.Lobby), await alice.ExpectAsync<JoinedFrame>());

        await using var third = await _server.ConnectAsync();
        await third.SendAsync(new HelloCommand("ALICE"));
        await third.ExpectErrorAsync(ErrorCodes.UsernameTaken);
        await third.SendAsync(new HelloCommand("carol"));
        var welcome = await third.ExpectAsync<WelcomeFrame>();
        Assert.Equal(["alice", "bob", "carol"], welcome.Users);
        Assert.Equal("carol", (await alice.ExpectAsync<JoinedFrame>()).User);
        Assert.Equal("carol", (await bob.ExpectAsync<JoinedFrame>()).User);

        // A broadcast reaches all three, in order.
        for (int i = 0; i < 20; i++) await alice.SendAsync(new SayCommand($"m{i}"));
        foreach (var client in new[] { alice, bob, third })
        {
            for (int i = 0; i < 20; i++)
            {
                var msg = await client.ExpectAsync<MessageFrame>();
                Assert.Equal(("alice", $"m{i}"), (msg.From, msg.Text));
                Assert.InRange(msg.Ts, DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            }
        }

        // A PM reaches only its recipient, plus the echo to its sender.
        await bob.SendAsync(new PmCommand("CAROL", "psst"));
        Assert.Equal(("bob", "carol", "psst"), Pm(await third.ExpectAsync<PrivateMessageFrame>()));
        Assert.Equal(("bob", "carol", "psst"), Pm(await bob.ExpectAsync<PrivateMessageFrame>()));
        await alice.SendAsync(PingCommand.Instance);
        await alice.ExpectAsync<PongFrame>(); // alice got nothing in between

        await bob.SendAsync(new PmCommand("nobody", "hello?"));
        await bob.ExpectErrorAsync(ErrorCodes.NoSuchUser);

        await third.SendAsync(WhoCommand.Instance);
        Assert.Equal(["alice", "bob", "carol"], (await third.ExpectAsync<UsersFrame>()).Users);

        // bye: the connection closes and the others are told.
        await bob.SendAsync(ByeCommand.Instance);
        Assert.Empty(await bob.ReadUntilClosedAsync());
        Assert.Equal(new LeftFrame("bob", LeaveReasons.Quit, RoomNames.Lobby), await alice.ExpectAsync<LeftFrame>());
        Assert.Equal(new LeftFrame("bob", LeaveReasons.Quit, RoomNames.Lobby), await third.ExpectAsync<LeftFrame>());
    }

    private static (string, string, string) Pm(PrivateMessageFrame f) => (f.From, f.To, f.Text);

    [Fact]
    public async Task A_client_that_vanishes_is_reported_disconnected_and_its_name_is_free_again()
    {
        await using var alice = await _server.LoginAsync("alice");
        var bob = await _server.LoginAsync("bob");
        await alice.ExpectAsync<JoinedFrame>();

        bob.Vanish();
        Assert.Equal(new LeftFrame("bob", LeaveReasons.Disconnected, RoomNames.Lobby), await alice.ExpectAsync<LeftFrame>());
        await using var bob2 = await _server.LoginAsync("bob");
    }

    [Fact]
    public async Task A_client_that_stops_reading_is_dropped_as_slow_while_the_others_keep_receiving()
    {
        // alice talks faster than the default rate limit allows: turn it off for this one.
        await using var server = await TestServer.StartAsync("messenger.chat.outbound-limit = 256 KiB\nmessenger.chat.rate-limit.enabled = off");
        await using var alice = await server.LoginAsync("alice");
        await using var stuck = await server.LoginAsync("stuck");
        await alice.ExpectAsync<JoinedFrame>();
        stuck.Socket.ReceiveBufferSize = 4096;

        // alice talks, reading as she goes; stuck never reads. 4 KiB messages fill the
        // 256 KiB outbound limit (plus kernel buffers) well within 2,000 of them.
        var text = new string('x', 4000);
        bool sawSlow = false;
        for (int i = 0; i < 2000 && !sawSlow; i++)
        {
            await alice.SendAsync(new SayCommand(text));
            while (true)
            {
                var frame = await alice.ReadFrameAsync();
                if (frame is MessageFrame) break;
                Assert.Equal(new LeftFrame("stuck", LeaveReasons.Slow, RoomNames.Lobby), frame);
                sawSlow = true;
            }
        }
        Assert.True(sawSlow, "the stuck client was never dropped");
        await alice.SendAsync(new SayCommand("still here"));
        Assert.Equal("still here", (await alice.ExpectAsync<MessageFrame>()).Text);
    }

    [Fact]
    public async Task Garbage_invalid_utf8_huge_lines_and_floods_leave_the_server_serving_everyone_else()
    {
        await using var alice = await _server.LoginAsync("alice");
        await using var bob = await _server.LoginAsync("bob");
        await alice.ExpectAsync<JoinedFrame>();

        // Garbage: an error each, and the connection stays open.
        await using var garbage = await _server.ConnectAsync();
        await garbage.SendLineAsync("this is not json");
        await garbage.ExpectErrorAsync(ErrorCodes.BadRequest);
        await garbage.SendLineAsync("{\"type\":\"say\",\"text\":\"hi\"}");
        await garbage.ExpectErrorAsync(ErrorCodes.NotLoggedIn);
        await garbage.SendAsync(PingCommand.Instance);
        await garbage.ExpectAsync<PongFrame>();

        // Invalid UTF-8 from a logged-in client: one bad_request, then close; the others see it leave.
        await using var broken = await _server.LoginAsync("broken");
        await alice.ExpectAsync<JoinedFrame>();
        await bob.ExpectAsync<JoinedFrame>();
        await broken.SendRawAsync([.. "{\"type\":\"say\",\"text\":\""u8, 0xFF, 0xFE, .. "\"}\n"u8]);
        var lines = await broken.ReadUntilClosedAsync();
        Assert.Single(lines);
        Assert.Contains("\"bad_request\"", lines[0]);
        Assert.Equal(new LeftFrame("broken", LeaveReasons.Disconnected, RoomNames.Lobby), await alice.ExpectAsync<LeftFrame>());
        Assert.Equal(new LeftFrame("broken", LeaveReasons.Disconnected, RoomNames.Lobby), await bob.ExpectAsync<LeftFrame>());

        // A 1 MB line: line_too_long, then close.
        await using var huge = await _server.ConnectAsync();
        var sendHuge = Task.Run(async () =>
        {
            try { await huge.SendRawAsync(Encoding.ASCII.GetBytes(new string('x', 1_000_000) + "\n")); }
            catch (IOException) { } // the server may close before we finish sending
            catch (SocketException) { }
        });
        var hugeLines = await huge.ReadUntilClosedAsync();
        Assert.Contains(hugeLines, l => l.Contains("\"line_too_long\""));
        await sendHuge.WaitAsync(TimeSpan.FromSeconds(10));

        // 10,000 rapid lines from one client: the burst is served, the first line over it gets one
        // rate_limited, the rest are dropped without an answer, and a client that keeps flooding
        // (over 5,000 refused lines in 10 s by default) is closed. Nobody else is disturbed.
        await using var flood = await _server.LoginAsync("flood");
        await alice.ExpectAsync<JoinedFrame>();
        await bob.ExpectAsync<JoinedFrame>();
        var lot = new StringBuilder();
        for (int i = 0; i < 10_000; i++) lot.Append("{\"type\":\"ping\"}\n");
        await flood.SendRawAsync(Encoding.ASCII.GetBytes(lot.ToString()));
        var answers = (await flood.ReadUntilClosedAsync()).Select(l => ChatCodec.ParseFrame(Encoding.UTF8.GetBytes(l)).Value).ToList();
        int pongs = answers.Count(a => a is PongFrame);
        int limited = answers.Count(a => a is ErrorFrame { Code: ErrorCodes.RateLimited });
        Assert.InRange(pongs, 999, 2000); // the burst (less the hello's token), and what the bucket refilled meanwhile
        // One rate_limited per run of refused lines: the first run, one more after each pong a refill
        // allowed (the hello took one token of the burst, so refills are pongs - 999), and one when closing.
        Assert.InRange(limited, 1, pongs - 999 + 2);
        Assert.Equal(pongs + limited, answers.Count);
        Assert.Equal(new LeftFrame("flood", LeaveReasons.Disconnected, RoomNames.Lobby), await alice.ExpectAsync<LeftFrame>());
        Assert.Equal(new LeftFrame("flood", LeaveReasons.Disconnected, RoomNames.Lobby), await bob.ExpectAsync<LeftFrame>());

        await bob.SendAsync(new SayCommand("all fine?"));
        Assert.Equal("all fine?", (await alice.ExpectAsync<MessageFrame>()).Text);
        Assert.Equal("all fine?", (await bob.ExpectAsync<MessageFrame>()).Text);
    }

    [Fact]
    public async Task Line_endings_blank_lines_and_split_writes_are_handled()
    {
        await using var client = await _server.ConnectAsync();
        await client.SendRawAsync("\n\r\n \t \n{\"type\":\"hel"u8.ToArray()); // blank: empty, or spaces and tabs
        await client.SendRawAsync("lo\",\"user\":\"crlf\"}\r\n"u8.ToArray());
        await client.ExpectAsync<WelcomeFrame>();
    }

    [Fact]
    public async Task A_say_sent_together_with_hello_reaches_the_lobby_after_the_welcome()
    {
        await using var alice = await _server.LoginAsync("alice");
        await using var bob = await _server.ConnectAsync();
        // Both lines in one write: the say waits for the login, then follows bob's lobby join.
        await bob.SendRawAsync("{\"type\":\"hello\",\"user\":\"bob\"}\n{\"type\":\"say\",\"text\":\"at once\"}\n"u8.ToArray());
        await bob.ExpectAsync<WelcomeFrame>();
        Assert.Equal(("bob", "at once"), Said(await bob.ExpectAsync<MessageFrame>()));
        Assert.Equal(("bob", "at once"), Said(await alice.ExpectIgnoringPresenceAsync<MessageFrame>()));
    }

    [Fact]
    public async Task A_history_of_long_messages_comes_in_pages_that_each_fit_a_line()
    {
        await using var alice = await _server.LoginAsync("alice");
        await alice.SendAsync(new JoinCommand("long"));
        await alice.ExpectAsync<JoinedFrame>();
        await alice.ExpectAsync<HistoryFrame>();
        var text = new string('x', ProtocolLimits.MaxTextCodePoints);
        for (int i = 0; i < 20; i++) await alice.SendAsync(new SayCommand(text, "long")); // ~82 KB together
        for (int i = 0; i < 20; i++) await alice.ExpectAsync<MessageFrame>();

        await using var bob = await _server.LoginAsync("bob");
        await bob.SendAsync(new JoinCommand("long"));
        var ids = new List<long>();
        var page = await ReadHistoryLineAsync(bob);
        while (true)
        {
            ids.InsertRange(0, page.Messages.Select(m => m.Id));
            if (!page.More) break;
            await bob.SendAsync(new HistoryCommand("long", page.Messages[0].Id, 20));
            page = await ReadHistoryLineAsync(bob);
        }
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), ids);
    }

    /// <summary>The next history page (after any presence), every line checked to be no longer than the protocol's.</summary>
    private static async Task<HistoryFrame> ReadHistoryLineAsync(ChatTestClient client)
    {
        while (true)
        {
            var line = await client.ReadLineAsync() ?? throw new EndOfStreamException();
            Assert.True(Encoding.UTF8.GetByteCount(line) <= ProtocolLimits.MaxLineBytes, $"a line of {line.Length} bytes");
            var frame = ChatCodec.ParseFrame(Encoding.UTF8.GetBytes(line)).Value;
            if (frame is JoinedFrame or LeftFrame) continue;
            return Assert.IsType<HistoryFrame>(frame);
        }
    }

    private static (string, string) Said(MessageFrame msg) => (msg.From, msg.Text);
}
