using System.Net;
using Messenger.Bench;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.EndToEnd;

/// <summary>Rooms and history over loopback, with a real SQLite database that outlives the server.</summary>
public class DurableChatTests
{
    /// <summary>A server process starting on a busy 2-core machine (JIT, then the database) can take a while.</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);

    private static async Task<ChatTestClient> JoinAsync(ChatTestClient client, string room)
    {
        await client.SendAsync(new JoinCommand(room));
        Assert.Equal(room, (await client.ExpectAsync<JoinedFrame>()).Room);
        await client.ExpectAsync<HistoryFrame>();
        return client;
    }

    private static async Task<HistoryFrame> HistoryAsync(ChatTestClient client, string room, long? before, int limit)
    {
        await client.SendAsync(new HistoryCommand(room, before, limit));
        return await client.ExpectIgnoringPresenceAsync<HistoryFrame>();
    }

    [Fact]
    public async Task Messages_and_ids_survive_a_server_restart()
    {
        using var data = new TempFolder();
        await using (var server = await TestServer.StartAsync(data: data))
        {
            await using var alice = await JoinAsync(await server.LoginAsync("alice"), "rust");
            for (int i = 1; i <= 3; i++) await alice.SendAsync(new SayCommand($"r{i}", "rust"));
            for (int i = 1; i <= 2; i++) await alice.SendAsync(new SayCommand($"l{i}"));
            var echoes = new List<MessageFrame>();
            for (int i = 0; i < 5; i++) echoes.Add(await alice.ExpectAsync<MessageFrame>());
            Assert.Equal([("rust", 1L), ("rust", 2L), ("rust", 3L)], echoes.Where(m => m.Room == "rust").Select(m => (m.Room!, m.Id!.Value)));
            Assert.Equal([1L, 2L], echoes.Where(m => m.Room == RoomNames.Lobby).Select(m => m.Id!.Value));
        }
        Assert.True(File.Exists(data.File("journal.db")) && File.Exists(data.File("snapshots.db")));

        await using (var server = await TestServer.StartAsync(data: data))
        {
            await using var bob = await server.LoginAsync("bob");
            var lobby = await HistoryAsync(bob, RoomNames.Lobby, null, 50);
            Assert.Equal([(1L, "alice", "l1"), (2L, "alice", "l2")], lobby.Messages.Select(m => (m.Id, m.From, m.Text)));
            await bob.SendAsync(new JoinCommand("#Rust")); // '#' dropped, case folded
            Assert.Equal(["bob"], (await bob.ExpectAsync<JoinedFrame>()).Users);
            var history = await bob.ExpectAsync<HistoryFrame>();
            Assert.Equal(["r1", "r2", "r3"], history.Messages.Select(m => m.Text));
            await bob.SendAsync(new SayCommand("after restart", "rust"));
            Assert.Equal(4, (await bob.ExpectAsync<MessageFrame>()).Id);
        }
    }

    [Fact]
    public async Task History_pages_beyond_the_in_memory_tail_return_every_message_exactly_once()
    {
        await using var server = await TestServer.StartAsync("""
            messenger.rooms.tail-size = 10
            messenger.rooms.join-history = 5
            messenger.rooms.snapshot-every = 50
            messenger.chat.rate-limit.enabled = off
            """);
        await using var alice = await JoinAsync(await server.LoginAsync("alice"), "big");
        const int count = 250;
        for (int i = 1; i <= count; i++) await alice.SendAsync(new SayCommand($"m{i}", "big"));
        for (int i = 1; i <= count; i++) Assert.Equal(i, (await alice.ExpectAsync<MessageFrame>()).Id);

        var ids = new List<long>();
        long? before = null;
        for (int pages = 0; pages < 100; pages++)
        {
            var page = await HistoryAsync(alice, "big", before, 37);
            ids.InsertRange(0, page.Messages.Select(m => m.Id));
            Assert.All(page.Messages, m => Assert.Equal($"m{m.Id}", m.Text));
            if (!page.More) break;
            before = page.Messages[0].Id;
        }
        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), ids);

        var max = await HistoryAsync(alice, "big", null, ProtocolLimits.MaxHistoryLimit);
        Assert.Equal(ProtocolLimits.MaxHistoryLimit, max.Messages.Count);
        Assert.Equal(count, max.Messages[^1].Id);
    }

    [Fact]
    public async Task A_message_the_journal_cannot_store_is_answered_not_stored_and_the_connection_stays()
    {
        using var data = new TempFolder();
        await using var server = await TestServer.StartAsync(data: data);
        await using var alice = await JoinAsync(await server.LoginAsync("alice"), "rust");
        await using var bob = await JoinAsync(await server.LoginAsync("bob"), "rust");
        await alice.SendAsync(new SayCommand("one", "rust"));
        Assert.Equal(1, (await alice.ExpectIgnoringPresenceAsync<MessageFrame>()).Id);
        Assert.Equal(1, (await bob.ExpectIgnoringPresenceAsync<MessageFrame>()).Id);
        // Another writer takes the room's next id in the SQLite file, so the room's own write of it fails.
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={data.File("journal.db")}"))
        {
            db.Open();
            using var insert = db.CreateCommand();
            insert.CommandText = """
                INSERT INTO journal (created, deleted, persistence_id, sequence_number, message, tags, manifest, identifier, writer_uuid)
                SELECT created, deleted, persistence_id, 2, message, tags, manifest, identifier, writer_uuid
                FROM journal WHERE persistence_id = 'room-rust' AND sequence_number = 1
                """;
            Assert.Equal(1, insert.ExecuteNonQuery());
        }

        await alice.SendAsync(new SayCommand("two", "rust"));
        var error = await alice.ExpectErrorAsync(ErrorCodes.NotStored);
        Assert.Contains("\"rust\"", error.Message);
        await alice.SendAsync(PingCommand.Instance);
        await alice.ExpectIgnoringOtherAsync<PongFrame>();
        // It reached no one: bob has nothing of it before the answer to his ping.
        await bob.SendAsync(PingCommand.Instance);
        for (var frame = await bob.ReadFrameAsync(); frame is not PongFrame; frame = await bob.ReadFrameAsync())
            Assert.False(frame is MessageFrame, $"bob was sent {frame}");
    }

    [Fact]
    public async Task Bad_room_requests_get_clear_errors_and_the_connection_stays()
    {
        await using var server = await TestServer.StartAsync();
        await using var alice = await server.LoginAsync("alice");
        await alice.SendLineAsync("""{"type":"join","room":"no spaces"}""");
        await alice.ExpectErrorAsync(ErrorCodes.BadRoom);
        await alice.SendLineAsync("""{"type":"join","room":"##double"}""");
        await alice.ExpectErrorAsync(ErrorCodes.BadRoom);
        await alice.SendLineAsync("""{"type":"say","room":"nowhere","text":"hi"}""");
        await alice.ExpectErrorAsync(ErrorCodes.NotMember);
        await alice.SendLineAsync("""{"type":"history","room":"nowhere"}""");
        await alice.ExpectErrorAsync(ErrorCodes.NotMember);
        await alice.SendLineAsync("""{"type":"part","room":"nowhere"}""");
        await alice.ExpectErrorAsync(ErrorCodes.NotMember);
        await alice.SendLineAsync("""{"type":"part","room":"lobby"}""");
        await alice.ExpectErrorAsync(ErrorCodes.BadRoom);
        await alice.SendLineAsync("""{"type":"history","room":"lobby","limit":201}""");
        await alice.ExpectErrorAsync(ErrorCodes.BadRequest);
        await alice.SendLineAsync("""{"type":"history","room":"lobby","limit":0}""");
        await alice.ExpectErrorAsync(ErrorCodes.BadRequest);
        await alice.SendLineAsync("""{"type":"history","room":"lobby","before":-5}""");
        await alice.ExpectErrorAsync(ErrorCodes.BadRequest);
        await alice.SendLineAsync("""{"type":"history","room":"lobby","before":"soon"}""");
        await alice.ExpectErrorAsync(ErrorCodes.BadRequest);
        await alice.SendLineAsync("""{"type":"history","room":"lobby","before":9223372036854775807,"limit":200}""");
        Assert.Empty((await alice.ExpectAsync<HistoryFrame>()).Messages);
        await alice.SendAsync(new SayCommand("still fine"));
        Assert.Equal("still fine", (await alice.ExpectAsync<MessageFrame>()).Text);
        await alice.SendAsync(RoomsCommand.Instance);
        Assert.Equal([new RoomEntry(RoomNames.Lobby, 1)], (await alice.ExpectAsync<RoomsFrame>()).Rooms);
    }

    [Fact]
    public async Task A_server_killed_with_sigkill_mid_traffic_loses_no_message_it_echoed()
    {
        using var data = new TempFolder();
        using var files = new TempFolder();
        string[] args = ["--data", data.Path];
        const string hocon = "messenger.chat.rate-limit.enabled = off\nakka.loglevel = WARNING";
        var echoed = new List<long>();
        await using (var server = await ServerProcess.StartAsync(files.Path, hocon, args, StartTimeout))
        {
            await using var alice = await ChatTestClient.LoginAsync(server.Chat, "alice");
            // 1,000 messages sent at once; after 300 echoes, kill the server without warning.
            var sender = Task.Run(async () =>
            {
                try
                {
                    for (int i = 1; i <= 1000; i++) await alice.SendAsync(new SayCommand($"m{i}"));
                }
                catch (IOException) { } // the server died
                catch (System.Net.Sockets.SocketException) { }
            });
            while (echoed.Count < 300) echoed.Add((await alice.ExpectAsync<MessageFrame>()).Id!.Value);
            await server.KillAsync();
            // Echoes already on their way are accepted messages too.
            while (await alice.ReadLineAsync(TimeSpan.FromSeconds(10)) is { } line)
            {
                if (line.Contains("\"msg\"")) echoed.Add(ParseId(line));
            }
            await sender.WaitAsync(TimeSpan.FromSeconds(10));
        }
        Assert.Equal(Enumerable.Range(1, echoed.Count).Select(i => (long)i), echoed);

        await using var restarted = await ServerProcess.StartAsync(files.Path, hocon, args, StartTimeout);
        await using var bob = await ChatTestClient.LoginAsync(restarted.Chat, "bob");
        var stored = new HashSet<long>();
        long? before = echoed.Count + 1;
        while (before is not null)
        {
            await bob.SendAsync(new HistoryCommand(RoomNames.Lobby, before, ProtocolLimits.MaxHistoryLimit));
            var page = await bob.ExpectAsync<HistoryFrame>();
            foreach (var m in page.Messages) stored.Add(m.Id);
            before = page.More && page.Messages.Count > 0 ? page.Messages[0].Id : null;
        }
        Assert.Equal(echoed, stored.Order());
    }

    private static long ParseId(string line)
    {
        var frame = (MessageFrame)ChatCodec.ParseFrame(System.Text.Encoding.UTF8.GetBytes(line)).Value!;
        return frame.Id!.Value;
    }
}
