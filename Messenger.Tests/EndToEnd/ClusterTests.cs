using Akka.Actor;
using Akka.Cluster.Sharding;
using Messenger.Bench;
using Messenger.Cluster;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.EndToEnd;

/// <summary>
/// Three nodes act as one server: clients on different nodes, over loopback, on SQLite and (when
/// configured) PostgreSQL as the shared journal.
/// </summary>
public class ClusterTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(45);

    [Fact]
    public void PostgreSQL_is_part_of_the_suite_in_CI()
    {
        // .ci/run starts PostgreSQL and says where; without it the PostgreSQL half would silently not run.
        if (Environment.GetEnvironmentVariable("CI") == "true") Assert.NotNull(TestJournal.PostgresServer);
        Assert.Equal(TestJournal.PostgresServer is null ? 1 : 2, TestJournal.All().Count);
    }

    [Theory, MemberData(nameof(TestJournal.All), MemberType = typeof(TestJournal))]
    public async Task Three_nodes_serve_one_chat_in_one_order(string journal)
    {
        using var data = new TempFolder();
        await using var cluster = await TestCluster.StartAsync(3, data, await TestJournal.HoconAsync(journal) + "\nmessenger.chat.rate-limit.enabled = off");
        var clients = new List<ChatTestClient>();
        string[] names = ["alice", "bob", "carol"];
        for (int i = 0; i < 3; i++) clients.Add(await cluster.Nodes[i].LoginAsync(names[i]));
        try
        {
            // `who` is the same on every node.
            foreach (var client in clients) await AwaitUsersAsync(client, names);

            // Lobby: every message reaches everyone, in one order, each sender's in the order sent.
            for (int round = 0; round < 5; round++)
                for (int i = 0; i < 3; i++) await clients[i].SendAsync(new SayCommand($"{names[i]}-{round}"));
            var seen = new List<List<MessageFrame>>();
            foreach (var client in clients) seen.Add(await ReadMessagesAsync(client, 15));
            AssertOneOrder(seen, names, 5);

            // A room: joined on every node, one order.
            foreach (var client in clients) await JoinAsync(client, "rust");
            for (int round = 0; round < 5; round++)
                for (int i = 0; i < 3; i++) await clients[i].SendAsync(new SayCommand($"{names[i]}-{round}", "rust"));
            seen.Clear();
            foreach (var client in clients) seen.Add(await ReadMessagesAsync(client, 15));
            Assert.All(seen.SelectMany(s => s), m => Assert.Equal("rust", m.Room));
            AssertOneOrder(seen, names, 5);

            // A private message from one node to another, and its echo.
            await clients[0].SendAsync(new PmCommand("CAROL", "psst"));
            var pm = await clients[2].ExpectIgnoringPresenceAsync<PrivateMessageFrame>();
            Assert.Equal(("alice", "carol", "psst"), (pm.From, pm.To, pm.Text));
            Assert.Equal(pm.Ts, (await clients[0].ExpectIgnoringPresenceAsync<PrivateMessageFrame>()).Ts);

            // Two clients race for one name on two nodes: one welcome, one username_taken.
            await using var first = await cluster.Nodes[1].ConnectAsync();
            await using var second = await cluster.Nodes[2].ConnectAsync();
            await Task.WhenAll(first.SendAsync(new HelloCommand("dave")), second.SendAsync(new HelloCommand("Dave")));
            var answers = await Task.WhenAll(first.ReadFrameAsync(), second.ReadFrameAsync());
            var winner = Assert.Single(answers.OfType<WelcomeFrame>()).User;
            Assert.Equal(ErrorCodes.UsernameTaken, Assert.Single(answers.OfType<ErrorFrame>()).Code);
            var dave = answers[0] is WelcomeFrame ? first : second;
            foreach (var client in clients.Append(dave)) await AwaitUsersAsync(client, [.. names, winner]);
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
    }

    [Theory, MemberData(nameof(TestJournal.All), MemberType = typeof(TestJournal))]
    public async Task A_killed_node_costs_only_its_connections(string journal)
    {
        using var data = new TempFolder();
        using var files = new TempFolder();
        var hocon = await TestJournal.HoconAsync(journal) + "\nmessenger.chat.rate-limit.enabled = off";
        await using var cluster = await TestCluster.StartAsync(2, data, hocon);
        // The third node is a server process, to be killed without warning.
        var victim = await ServerProcess.StartAsync(files.Path, TestCluster.FastFailover + "\n" + hocon + "\nakka.loglevel = WARNING",
            ["--data", data.Path, "--seed-node", cluster.SeedOf(cluster.Nodes[0])], TimeSpan.FromSeconds(120));
        try
        {
            await cluster.AwaitMembersUpAsync(extra: 1);
            await using var alice = await cluster.Nodes[0].LoginAsync("alice");
            await using var bob = await cluster.Nodes[1].LoginAsync("bob");
            await using var victor = await ChatTestClient.LoginAsync(victim.Chat, "victor");
            foreach (var client in new[] { alice, bob, victor }) await JoinAsync(client, "rust");
            foreach (var client in new[] { alice, bob }) await AwaitUsersAsync(client, ["alice", "bob", "victor"]);

            // Victor talks; once some of it has come back, his node is killed.
            for (int i = 1; i <= 200; i++) await victor.SendAsync(new SayCommand($"v{i}", "rust"));
            var echoed = new List<long>();
            for (int i = 0; i < 30; i++) echoed.Add((await victor.ExpectIgnoringPresenceAsync<MessageFrame>()).Id!.Value);
            await victim.KillAsync();
            while (await TryReadEchoAsync(victor) is { } id) echoed.Add(id); // whatever it had sent before dying

            // Everyone else hears victor left, disconnected, within the bound.
            foreach (var client in new[] { alice, bob })
            {
                var left = await ExpectLeftAsync(client, "victor", Bound);
                Assert.Equal(LeaveReasons.Disconnected, left.Reason);
            }
            await cluster.AwaitMembersUpAsync();

            // His name is free, the room still works, and its history has every message he saw echoed.
            await Eventually.Async(async () =>
            {
                // The claim's node sees him gone when the cluster removes his node, as the others do.
                await using var again = await cluster.Nodes[1].ConnectAsync();
                await again.SendAsync(new HelloCommand("victor"));
                Assert.IsType<WelcomeFrame>(await again.ReadFrameAsync());
            }, Bound);
            await Eventually.Async(async () =>
            {
                await alice.SendAsync(new HistoryCommand("rust", null, 200));
                var history = await alice.ExpectIgnoringOtherAsync<HistoryFrame>();
                Assert.Subset(history.Messages.Select(m => m.Id).ToHashSet(), echoed.ToHashSet());
                Assert.All(history.Messages.Where(m => echoed.Contains(m.Id)), m => Assert.Equal($"v{echoed.IndexOf(m.Id) + 1}", m.Text));
            }, Bound);
            await Eventually.Async(async () =>
            {
                await alice.SendAsync(new SayCommand("still here", "rust"));
                Assert.Equal("still here", (await bob.ExpectIgnoringOtherAsync<MessageFrame>(TimeSpan.FromSeconds(5))).Text);
            }, Bound);
        }
        finally
        {
            await victim.DisposeAsync();
        }
    }

    [Fact]
    public async Task Members_on_the_surviving_nodes_stay_in_the_rooms_of_a_killed_node_and_every_say_is_answered()
    {
        using var data = new TempFolder();
        using var files = new TempFolder();
        // Says unanswered for 3 s are refused, looked at every second: the outage (about 3-4 s
        // with the fast failover) sees some of them.
        var hocon = """
            messenger.chat.rate-limit.enabled = off
            messenger.chat.idle-check-interval = 1s
            messenger.chat.say-timeout = 3s
            """;
        // The victim is a server process that forms the cluster, so it hosts the lobby and the
        // sharding coordinators (they live on the oldest node); two nodes in this process join it.
        var victim = await ServerProcess.StartAsync(files.Path, TestCluster.FastFailover + "\n" + hocon + "\nakka.loglevel = WARNING",
            ["--data", data.Path], TimeSpan.FromSeconds(120));
        try
        {
            // The rooms r1-r3 start while the victim is alone (the coordinators put new shards on
            // the other nodes, never their own); "here" once the others are up.
            await using var victor = await ChatTestClient.LoginAsync(victim.Chat, "victor");
            foreach (var room in new[] { "r1", "r2", "r3" }) await JoinAsync(victor, room);
            await using var cluster = await TestCluster.StartAsync(2, data, hocon,
                seed: victim.ClusterSeed ?? throw new InvalidOperationException("the victim named no cluster address"));
            await using var alice = await cluster.Nodes[0].LoginAsync("alice");
            await using var bob = await cluster.Nodes[1].LoginAsync("bob");
            string[] rooms = ["r1", "r2", "r3", "here"];
            foreach (var room in rooms)
                foreach (var client in new[] { victor, alice, bob }) await JoinAsync(client, room);
            var hostedHere = new HashSet<string>();
            foreach (var node in cluster.Nodes) hostedHere.UnionWith(await RoomsHostedAsync(node, [RoomNames.Lobby, .. rooms]));
            string[] watched = [RoomNames.Lobby, .. rooms.Where(r => !hostedHere.Contains(r)), .. hostedHere];
            Assert.True(watched.Length > 2 && !hostedHere.Contains(RoomNames.Lobby) && hostedHere.Contains("here"), $"hosted here: {string.Join(", ", hostedHere)}");

            await victim.KillAsync();

            // Alice keeps talking in these rooms, one say at a time: each is echoed or refused
            // (never left unanswered, never not_member), until the cluster has removed the victim
            // and a round after that echoed every one.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            int sent = 0, refused = 0;
            bool removed = false, allEchoed = false;
            while (!(removed && allEchoed))
            {
                removed = Akka.Cluster.Cluster.Get(cluster.Nodes[0].Server.System).State.Members.Count == 2;
                allEchoed = true;
                foreach (var room in watched)
                {
                    var text = $"t{++sent}";
                    await alice.SendAsync(new SayCommand(text, room));
                    if (await AwaitAnswerAsync(alice, "alice", text, TimeSpan.FromSeconds(10)) is not ErrorFrame error) continue;
                    Assert.True(error.Code is ErrorCodes.NotStored, $"say in {room}: {error.Code}: {error.Message}");
                    refused++;
                    allEchoed = false;
                }
                Assert.True(DateTime.UtcNow < deadline && sent < 2_000, $"the rooms did not come back ({sent} sent, {refused} refused)");
            }

            // Both are still members of every room: each hears the other (a refusal of a say from
            // the outage may still come, once its timeout is up).
            foreach (var room in watched)
            {
                await bob.SendAsync(new SayCommand($"bob in {room}", room));
                Assert.IsType<MessageFrame>(await AwaitAnswerAsync(alice, "bob", $"bob in {room}", TimeSpan.FromSeconds(10), skipRefusals: true));
                await alice.SendAsync(new SayCommand($"alice in {room}", room));
                Assert.IsType<MessageFrame>(await AwaitAnswerAsync(bob, "alice", $"alice in {room}", TimeSpan.FromSeconds(10), skipRefusals: true));
            }
            Assert.True(refused > 0, "no say was refused: the outage was not seen");
        }
        finally
        {
            await victim.DisposeAsync();
        }
    }

    [Theory, MemberData(nameof(TestJournal.All), MemberType = typeof(TestJournal))]
    public async Task A_rolling_restart_with_traffic_loses_nothing_accepted(string journal)
    {
        using var data = new TempFolder();
        await using var cluster = await TestCluster.StartAsync(3, data, await TestJournal.HoconAsync(journal) + "\nmessenger.chat.rate-limit.enabled = off");
        var accepted = new Dictionary<string, long>(); // text -> id, for every message echoed to its sender
        for (int restarted = 0; restarted < 3; restarted++)
        {
            // The writer is on a node that stays up this round; it says one message at a time,
            // the next once the last was echoed or refused (or after 5 s), while a node restarts.
            await using var writer = await cluster.Nodes[(restarted + 1) % 3].LoginAsync($"writer{restarted}");
            await JoinAsync(writer, "rust");
            var restart = cluster.RestartAsync(restarted);
            // Bounded in time, and in count well above what a restart sees (a message takes a few ms
            // when the journal is quick: 2,000 were once sent before a restart finished).
            var restartDeadline = DateTime.UtcNow.AddSeconds(90);
            int sent = 0, afterRestart = 0;
            while (!restart.IsCompleted || afterRestart++ < 10)
            {
                var text = $"r{restarted}-{++sent}";
                await writer.SendAsync(new SayCommand(text, "rust"));
                try
                {
                    var deadline = DateTime.UtcNow.AddSeconds(5);
                    while (true)
                    {
                        var frame = await writer.ReadFrameAsync(Left(deadline));
                        if (frame is MessageFrame { From: var from, Id: { } id } echo && from == $"writer{restarted}") accepted[echo.Text] = id;
                        if (frame is MessageFrame m && m.Text == text || frame is ErrorFrame) break; // refused while the room moved
                    }
                }
                catch (TimeoutException) { } // lost in a handoff: not accepted
                Assert.True(sent < 10_000 && DateTime.UtcNow < restartDeadline, "the restart did not finish");
            }
            await restart;
        }
        Assert.True(accepted.Count >= 30, $"only {accepted.Count} messages were accepted");

        // Every accepted message is in the room's history, under the id its sender saw.
        await using var reader = await cluster.Nodes[0].LoginAsync("reader");
        await JoinAsync(reader, "rust");
        var history = new Dictionary<long, string>();
        long? before = null;
        for (int pages = 0; pages < 160; pages++) // 32,000 messages: more than three rounds can send
        {
            await reader.SendAsync(new HistoryCommand("rust", before, 200));
            var page = await reader.ExpectIgnoringOtherAsync<HistoryFrame>();
            foreach (var m in page.Messages) history[m.Id] = m.Text;
            if (!page.More || page.Messages.Count == 0) break;
            before = page.Messages[0].Id;
        }
        foreach (var (text, id) in accepted) Assert.Equal(text, history.GetValueOrDefault(id));
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>Time until <paramref name="deadline"/> (at least a millisecond: past it, the read times out at once).</summary>
    private static TimeSpan Left(DateTime deadline) => TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, (deadline - DateTime.UtcNow).Ticks));

    private static async Task JoinAsync(ChatTestClient client, string room)
    {
        await client.SendAsync(new JoinCommand(room));
        while (await client.ReadFrameAsync() is not JoinedFrame { Users: not null } joined || joined.Room != room) { }
        await client.ExpectIgnoringOtherAsync<HistoryFrame>();
    }

    private static async Task AwaitUsersAsync(ChatTestClient client, string[] expected) =>
        await Eventually.Async(async () =>
        {
            await client.SendAsync(WhoCommand.Instance);
            Assert.Equal(expected.Order(StringComparer.OrdinalIgnoreCase), (await client.ExpectIgnoringOtherAsync<UsersFrame>()).Users);
        }, Bound);

    private static async Task<List<MessageFrame>> ReadMessagesAsync(ChatTestClient client, int count)
    {
        var messages = new List<MessageFrame>();
        while (messages.Count < count) messages.Add(await client.ExpectIgnoringPresenceAsync<MessageFrame>());
        return messages;
    }

    /// <summary>Everyone saw the same messages in the same order, ids without gaps, each sender's in the order sent.</summary>
    private static void AssertOneOrder(List<List<MessageFrame>> seen, string[] senders, int each)
    {
        var reference = seen[0].Select(m => (m.Id, m.From, m.Text)).ToList();
        foreach (var other in seen) Assert.Equal(reference, other.Select(m => (m.Id, m.From, m.Text)));
        var ids = reference.Select(m => m.Id!.Value).ToList();
        Assert.Equal(Enumerable.Range(0, ids.Count).Select(i => ids[0] + i), ids);
        foreach (var sender in senders)
            Assert.Equal(Enumerable.Range(0, each).Select(r => $"{sender}-{r}"), reference.Where(m => m.From == sender).Select(m => m.Text));
    }

    /// <summary>
    /// The message <paramref name="text"/> from <paramref name="from"/>, or an error, whichever comes
    /// first; other frames are skipped, and so is not_stored if <paramref name="skipRefusals"/>.
    /// </summary>
    private static async Task<ServerFrame> AwaitAnswerAsync(ChatTestClient client, string from, string text, TimeSpan timeout,
        bool skipRefusals = false)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            ServerFrame frame;
            try { frame = await client.ReadFrameAsync(Left(deadline)); }
            catch (TimeoutException) { throw new TimeoutException($"no answer to \"{text}\" within {timeout.TotalSeconds} s"); }
            if (frame is MessageFrame message && message.From == from && message.Text == text) return frame;
            if (frame is ErrorFrame error && !(skipRefusals && error.Code == ErrorCodes.NotStored)) return frame;
        }
    }

    /// <summary>Which of <paramref name="rooms"/> have their shard on <paramref name="node"/>.</summary>
    private static async Task<IEnumerable<string>> RoomsHostedAsync(TestServer node, string[] rooms)
    {
        var system = node.Server.System;
        var state = await ClusterSharding.Get(system).ShardRegion("room")
            .Ask<CurrentShardRegionState>(GetShardRegionState.Instance, TimeSpan.FromSeconds(10));
        var extractor = new EnvelopeExtractor(system.Settings.Config.GetInt("messenger.cluster.shards"));
        var shards = state.Shards.Select(s => s.ShardId).ToHashSet();
        return rooms.Where(r => shards.Contains(extractor.ShardId(r, null))).ToList();
    }

    private static async Task<LeftFrame> ExpectLeftAsync(ChatTestClient client, string user, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var frame = await client.ReadFrameAsync(Left(deadline));
            if (frame is LeftFrame left && left.User == user && left.Room is null or RoomNames.Lobby) return left;
        }
    }

    /// <summary>The id of the next echo from a connection whose server was killed, or null once it is closed.</summary>
    private static async Task<long?> TryReadEchoAsync(ChatTestClient client)
    {
        try
        {
            while (true)
            {
                var line = await client.ReadLineAsync(TimeSpan.FromSeconds(10));
                if (line is null) return null;
                var parsed = ChatCodec.ParseFrame(System.Text.Encoding.UTF8.GetBytes(line));
                if (parsed.Value is MessageFrame { Id: { } id }) return id;
            }
        }
        catch (TimeoutException)
        {
            return null;
        }
    }
}
