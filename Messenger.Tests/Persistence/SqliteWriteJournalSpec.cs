using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Messenger.Persistence;
using Microsoft.Data.Sqlite;

namespace Messenger.Tests.Persistence;

/// <summary>The SQLite journal's own write path, on a real SQLite file in a temporary data folder.</summary>
public sealed class SqliteWriteJournalSpec : SqliteJournalSpec
{
    public SqliteWriteJournalSpec() : base("messenger.sqlite-busy-timeout = 200ms")
    {
    }

    /// <summary>Persists each text it is told (PersistAsync, as rooms do) and answers its sequence number once stored.</summary>
    private sealed class Writer : ReceivePersistentActor
    {
        private readonly List<string> _recovered = new();
        private readonly IActorRef? _rejections;

        public Writer(string id, IActorRef? rejections = null)
        {
            PersistenceId = id;
            _rejections = rejections;
            Recover<RoomMessagePosted>(e => _recovered.Add(e.Text));
            Command<string>(text =>
            {
                if (text == "recovered") Sender.Tell(_recovered.ToArray());
                else PersistStored(text, new RoomMessagePosted("w", text, 1));
            });
            Command<Tagged>(tagged => PersistStored("tagged", tagged));
            Command<NameRegistered>(e => PersistStored(e.Name, e));
            Command<object[]>(events =>
            {
                var replyTo = Sender;
                PersistAllAsync(events, _ => replyTo.Tell(("all", LastSequenceNr)));
            });
        }

        private void PersistStored<T>(string text, T @event) where T : notnull
        {
            var replyTo = Sender;
            PersistAsync(@event, _ => replyTo.Tell((text, LastSequenceNr)));
        }

        public override string PersistenceId { get; }

        protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr) =>
            _rejections?.Tell(cause);
    }

    /// <summary>Bound to no serializer (akka.actor.serialization-settings.allow-unregistered-types = false).</summary>
    private sealed record Unbound(string Text);

    private IActorRef StartWriter(string id, IActorRef? rejections = null) => Sys.ActorOf(Props.Create(() => new Writer(id, rejections)));

    private string[] Recovered(string id)
    {
        var writer = StartWriter(id);
        writer.Tell("recovered");
        var texts = ExpectMsg<string[]>();
        Sys.Stop(writer);
        return texts;
    }

    [Fact]
    public async Task Writes_of_several_writers_sent_together_are_all_stored_in_order_and_read_back_by_recovery_and_query()
    {
        var writers = Enumerable.Range(0, 4).Select(w => StartWriter($"room-w{w}")).ToArray();
        for (int i = 0; i < 50; i++)
        {
            foreach (var writer in writers) writer.Tell($"m{i}");
        }
        var stored = ReceiveN(200).Cast<(string Text, long SequenceNr)>().ToArray();
        foreach (var (text, sequenceNr) in stored) Assert.Equal($"m{sequenceNr - 1}", text);
        foreach (var writer in writers) Sys.Stop(writer);

        for (int w = 0; w < writers.Length; w++)
        {
            Assert.Equal(Enumerable.Range(0, 50).Select(i => $"m{i}"), Recovered($"room-w{w}"));
        }
        var query = PersistenceQuery.Get(Sys).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
        var events = await query.CurrentEventsByPersistenceId("room-w2", 0, long.MaxValue)
            .RunAggregate(new List<EventEnvelope>(), (list, e) => { list.Add(e); return list; }, Sys.Materializer())
            .WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(Enumerable.Range(1, 50).Select(i => (long)i), events.Select(e => e.SequenceNr));
        Assert.Equal("m49", ((RoomMessagePosted)events[^1].Event).Text);
    }

    [Fact]
    public void A_rejected_event_is_not_stored_and_its_writer_goes_on()
    {
        var writer = StartWriter("room-rejects", TestActor);
        writer.Tell("before");
        ExpectMsg(("before", 1L));
        writer.Tell(new Tagged(new RoomMessagePosted("w", "tagged", 1), ["tag"]));
        ExpectMsg<NotSupportedException>();
        writer.Tell("after");
        ExpectMsg(("after", 3L)); // the rejected event took its sequence number, as with any journal
        Sys.Stop(writer);

        Assert.Equal(["before", "after"], Recovered("room-rejects"));
    }

    [Fact]
    public void A_write_that_fails_stops_its_writer_and_the_next_write_is_stored()
    {
        var writer = StartWriter("room-fails");
        writer.Tell("first");
        ExpectMsg(("first", 1L));
        Watch(writer);
        using (var blocker = new SqliteConnection($"Data Source={Data.File(DataStore.JournalFile)};Pooling=False"))
        {
            blocker.Open();
            using var holdWriteLock = blocker.BeginTransaction(deferred: false);
            writer.Tell("refused"); // waits the busy timeout for the write lock, then fails
            ExpectTerminated(writer);
        }

        var again = StartWriter("room-fails");
        again.Tell("second");
        ExpectMsg(("second", 2L));
        Sys.Stop(again);
        Assert.Equal(["first", "second"], Recovered("room-fails"));
    }

    [Fact]
    public void A_write_of_several_events_is_rejected_whole_when_one_of_them_cannot_be_serialized()
    {
        var writer = StartWriter("room-atomic", TestActor);
        writer.Tell("before");
        ExpectMsg(("before", 1L));
        writer.Tell(new object[] { new RoomMessagePosted("w", "a", 1), new Unbound("b"), new RoomMessagePosted("w", "c", 1) });
        for (int i = 0; i < 3; i++) ExpectMsg<Exception>(); // one rejection per event of the write
        writer.Tell("after");
        ExpectMsg(("after", 5L));
        Sys.Stop(writer);

        Assert.Equal(["before", "after"], Recovered("room-atomic"));
        using var connection = new SqliteConnection($"Data Source={Data.File(DataStore.JournalFile)};Pooling=False");
        connection.Open();
        using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM journal WHERE persistence_id = 'room-atomic'";
        Assert.Equal(2L, (long)count.ExecuteScalar()!);
    }

    [Fact]
    public void Every_row_holds_what_the_events_serializer_makes_of_its_event()
    {
        var writers = new[] { StartWriter("room-rows-a"), StartWriter("room-rows-b") };
        var events = new List<(string Id, IPersistedEvent Event)>();
        for (int i = 0; i < 20; i++)
        {
            // Alternating writers and event types: each row binds other texts than the row before.
            var writer = i % 2;
            IPersistedEvent e = i % 3 == 0 ? new NameRegistered($"n{i}") : new RoomMessagePosted("w", $"m{i} \"é\" 🎉", 1);
            writers[writer].Tell(e is NameRegistered n ? n : ((RoomMessagePosted)e).Text);
            events.Add(($"room-rows-{(char)('a' + writer)}", e));
        }
        ReceiveN(20);
        foreach (var writer in writers) Sys.Stop(writer);

        var serializer = (EventSerializer)Sys.Serialization.FindSerializerFor(events[0].Event);
        using var connection = new SqliteConnection($"Data Source={Data.File(DataStore.JournalFile)};Pooling=False");
        connection.Open();
        using var rows = connection.CreateCommand();
        rows.CommandText = """
            SELECT persistence_id, message, manifest, identifier FROM journal
            WHERE persistence_id LIKE 'room-rows-%' ORDER BY persistence_id, sequence_number
            """;
        using var reader = rows.ExecuteReader();
        foreach (var (id, e) in events.OrderBy(e => e.Id)) // a stable sort: each writer's events in order
        {
            Assert.True(reader.Read());
            Assert.Equal(id, reader.GetString(0));
            Assert.Equal(serializer.ToBinary(e), (byte[])reader.GetValue(1));
            Assert.Equal(serializer.Manifest(e), reader.GetString(2));
            Assert.Equal(serializer.Identifier, reader.GetInt32(3));
        }
        Assert.False(reader.Read());
    }
}
