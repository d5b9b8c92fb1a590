using System.Text;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.EndToEnd;

/// <summary>
/// Rooms and the presence actor write their frames straight into their members' outbound queues,
/// while each connection's actor queues its own answers: the orders the protocol promises, seen
/// from real sockets on 127.0.0.1 while both kinds of writer are busy at once.
/// </summary>
public class FanOutOrderTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await TestServer.StartAsync("messenger.chat.rate-limit.enabled = off\nmessenger.chat.outbound-limit = 256 KiB");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static byte[] Lines(IEnumerable<ClientCommand> commands) => commands.SelectMany(ChatCodec.EncodeCommand).ToArray();

    private static async Task<ChatTestClient> JoinAsync(ChatTestClient client, string room)
    {
        await client.SendAsync(new JoinCommand(room));
        Assert.Equal(room, (await client.ExpectIgnoringOtherAsync<JoinedFrame>()).Room);
        await client.ExpectIgnoringOtherAsync<HistoryFrame>();
        return client;
    }

    /// <summary>Frames read until <paramref name="done"/> says so; lobby presence news and lobby messages are left out.</summary>
    private static async Task<List<ServerFrame>> ReadUntilAsync(ChatTestClient client, Func<List<ServerFrame>, bool> done)
    {
        var frames = new List<ServerFrame>();
        while (!done(frames))
        {
            var frame = await client.ReadFrameAsync();
            if (frame is JoinedFrame { Room: RoomNames.Lobby } or LeftFrame { Room: RoomNames.Lobby } or MessageFrame { Room: RoomNames.Lobby }) continue;
            frames.Add(frame);
        }
        return frames;
    }

    private static List<long> IdsIn(IEnumerable<ServerFrame> frames, string room) =>
        frames.OfType<MessageFrame>().Where(m => m.Room == room).Select(m => m.Id!.Value).ToList();

    [Fact]
    public async Task Room_messages_must_arrive_in_id_order_while_the_connection_answers_its_own_pings()
    {
        await using var alice = await JoinAsync(await _server.LoginAsync("alice"), "r");
        await using var bob = await JoinAsync(await _server.LoginAsync("bob"), "r");
        // Each pipelines 150 messages to the room, each followed by a ping its own actor answers.
        var commands = (string who) => Enumerable.Range(0, 150).SelectMany(i => new ClientCommand[] { new SayCommand($"{who}{i}", "r"), new PingCommand() });
        await Task.WhenAll(alice.SendRawAsync(Lines(commands("a"))), bob.SendRawAsync(Lines(commands("b"))));

        foreach (var client in new[] { alice, bob })
        {
            var frames = await ReadUntilAsync(client, f => IdsIn(f, "r").Count == 300 && f.OfType<PongFrame>().Count() == 150);
            Assert.Equal(Enumerable.Range(1, 300).Select(i => (long)i), IdsIn(frames, "r"));
        }
        await NothingMoreOfTheRoomAsync(alice);
    }

    /// <summary>A ping's round trip: nothing of room <c>r</c> may arrive before its pong.</summary>
    private static async Task NothingMoreOfTheRoomAsync(ChatTestClient client)
    {
        await client.SendAsync(new PingCommand());
        var frames = await ReadUntilAsync(client, f => f.OfType<PongFrame>().Any());
        Assert.Equal([PongFrame.Instance], frames);
    }

    [Fact]
    public async Task A_joiner_must_get_the_members_then_the_history_then_every_later_message_without_a_gap()
    {
        await using var alice = await JoinAsync(await _server.LoginAsync("alice"), "r");
        await using var bob = await _server.LoginAsync("bob");
        // alice pipelines 300 messages; bob joins while they are being stored, and says something at once.
        var flood = alice.SendRawAsync(Lines(Enumerable.Range(1, 300).Select(i => new SayCommand($"m{i}", "r"))));
        await bob.SendRawAsync(Lines([new JoinCommand("r"), new SayCommand("bob here", "r")]));
        await flood;

        var frames = await ReadUntilAsync(bob, f => f.OfType<MessageFrame>().Any(m => m.Text == "bob here") && IdsIn(f, "r").Count > 0 && IdsIn(f, "r")[^1] == 301);
        var joined = Assert.IsType<JoinedFrame>(frames[0]);
        Assert.Equal(["alice", "bob"], joined.Users);
        var history = Assert.IsType<HistoryFrame>(frames[1]);
        long last = history.Messages.Count > 0 ? history.Messages[^1].Id : 0;
        Assert.All(frames.Skip(2), f => Assert.IsType<MessageFrame>(f));
        Assert.Equal(Enumerable.Range((int)last + 1, 301 - (int)last).Select(i => (long)i), IdsIn(frames, "r"));
    }

    [Fact]
    public async Task A_part_must_come_after_every_earlier_message_and_a_bye_after_every_lobby_message_accepted_before()
    {
        await using var alice = await JoinAsync(await _server.LoginAsync("alice"), "r");
        await using var bob = await JoinAsync(await _server.LoginAsync("bob"), "r");
        var flood = alice.SendRawAsync(Lines(Enumerable.Range(1, 300).Select(i => new SayCommand($"m{i}", "r"))));
        await bob.SendAsync(new PartCommand("r"));
        await flood;

        var frames = await ReadUntilAsync(bob, f => f.LastOrDefault() is LeftFrame);
        Assert.Equal(new LeftFrame("bob", LeaveReasons.Part, "r"), frames[^1]);
        var ids = IdsIn(frames, "r");
        Assert.Equal(Enumerable.Range(1, ids.Count).Select(i => (long)i), ids);
        await NothingMoreOfTheRoomAsync(bob); // nothing of the room after its left

        // The last words in the lobby, then bye: the echo comes before the close.
        await bob.SendRawAsync(Lines([new SayCommand("last words"), new ByeCommand()]));
        var lines = await bob.ReadUntilClosedAsync();
        Assert.Contains(lines, l => l.Contains("\"last words\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_member_that_never_reads_must_be_dropped_as_slow_while_the_others_keep_every_message_in_order()
    {
        await using var alice = await JoinAsync(await _server.LoginAsync("alice"), "r");
        await using var carol = await JoinAsync(await _server.LoginAsync("carol"), "r");
        await using var stuck = await JoinAsync(await _server.LoginAsync("stuck"), "r");
        stuck.Socket.ReceiveBufferSize = 4096;
        var carolReads = Task.Run(() => ReadUntilAsync(carol, f => f.OfType<MessageFrame>().Any(m => m.Text == "still here")));

        // alice talks, reading as she goes; stuck never reads. 4 KB messages fill the 256 KiB
        // outbound limit (plus kernel buffers) well within 2,000 of them.
        var text = new string('x', 4000);
        bool sawSlow = false;
        for (int i = 0; i < 2000 && !sawSlow; i++)
        {
            await alice.SendAsync(new SayCommand(text, "r"));
            while (true)
            {
                var frame = await alice.ReadFrameAsync();
                if (frame is MessageFrame { Room: "r" }) break;
                if (frame is LeftFrame { Room: RoomNames.Lobby } left)
                {
                    Assert.Equal(new LeftFrame("stuck", LeaveReasons.Slow, RoomNames.Lobby), left);
                    sawSlow = true;
                }
            }
        }
        Assert.True(sawSlow, "the stuck client was never dropped");
        await alice.SendAsync(new SayCommand("still here", "r"));

        var frames = await carolReads.WaitAsync(TimeSpan.FromSeconds(60));
        var ids = IdsIn(frames, "r");
        Assert.Equal(Enumerable.Range(1, ids.Count).Select(i => (long)i), ids);
        // The room sees it go too, and why: the part reaches the room before its death-watch does.
        Assert.Contains(new LeftFrame("stuck", LeaveReasons.Slow, "r"), frames);
    }

    [Fact]
    public async Task Presence_news_must_follow_each_welcome_and_add_up_to_the_online_list()
    {
        await using var alice = await _server.LoginAsync("alice");
        // 30 log in at once while alice watches, each keeping the list its welcome brought; every
        // other one leaves again at once.
        var logins = await Task.WhenAll(Enumerable.Range(0, 30).Select(async i =>
        {
            var client = await _server.ConnectAsync();
            await client.SendAsync(new HelloCommand($"u{i:D2}"));
            var welcome = await client.ExpectAsync<WelcomeFrame>(); // the first frame, before any news
            if (i % 2 == 1) await client.SendAsync(new ByeCommand());
            return (Client: client, Knows: new SortedSet<string>(welcome.Users, Usernames.Comparer));
        }));
        var expected = new SortedSet<string>(Enumerable.Range(0, 30).Where(i => i % 2 == 0).Select(i => $"u{i:D2}").Append("alice"), Usernames.Comparer);

        // From each welcome on, every joined and left must fit what that client knows, in order.
        var staying = logins.Where((_, i) => i % 2 == 0).Append((Client: alice, Knows: new SortedSet<string>(Usernames.Comparer) { "alice" }));
        await Task.WhenAll(staying.Select(s => FollowNewsAsync(s.Client, s.Knows, expected)));
        await alice.SendAsync(new WhoCommand());
        Assert.Equal(expected, (await alice.ExpectAsync<UsersFrame>()).Users);
        foreach (var (client, _) in logins) await client.DisposeAsync();
    }

    /// <summary>Applies the lobby's joined/left news in order to what the client knows until it adds up to <paramref name="expected"/>.</summary>
    private static async Task FollowNewsAsync(ChatTestClient client, SortedSet<string> online, SortedSet<string> expected)
    {
        while (!online.SetEquals(expected))
        {
            switch (await client.ReadFrameAsync())
            {
                case JoinedFrame { Room: RoomNames.Lobby } joined:
                    Assert.True(online.Add(joined.User), $"{joined.User} joined twice");
                    break;
                case LeftFrame { Room: RoomNames.Lobby } left:
                    Assert.True(online.Remove(left.User), $"{left.User} left without having joined");
                    break;
            }
        }
    }
}
