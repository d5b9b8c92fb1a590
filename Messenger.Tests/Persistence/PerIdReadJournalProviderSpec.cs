using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Messenger.Persistence;

namespace Messenger.Tests.Persistence;

/// <summary>The read journal as the server configures it, on a real SQLite file.</summary>
public sealed class PerIdReadJournalProviderSpec : SqliteJournalSpec
{
    public PerIdReadJournalProviderSpec() : base("")
    {
    }

    private sealed class Writer : ReceivePersistentActor
    {
        public Writer(string id)
        {
            PersistenceId = id;
            Command<string>(text =>
            {
                var replyTo = Sender;
                Persist(new RoomMessagePosted("w", text, 1), _ => replyTo.Tell(LastSequenceNr));
            });
        }

        public override string PersistenceId { get; }
    }

    [Fact]
    public async Task The_read_journal_stops_the_ordering_poller_and_still_answers_queries_by_persistence_id()
    {
        var writer = Sys.ActorOf(Props.Create(() => new Writer("room-q")));
        for (int i = 1; i <= 3; i++)
        {
            writer.Tell($"m{i}");
            ExpectMsg((long)i);
        }

        var query = PersistenceQuery.Get(Sys).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);

        // SqlReadJournal starts the poller with itself; the provider stops it.
        await AwaitAssertAsync(async () => await Assert.ThrowsAsync<ActorNotFoundException>(
            () => Sys.ActorSelection(PerIdReadJournalProvider.OrderingActorPath).ResolveOne(TimeSpan.FromMilliseconds(300))));
        var texts = await query.CurrentEventsByPersistenceId("room-q", 0, long.MaxValue)
            .Select(e => ((RoomMessagePosted)e.Event).Text)
            .RunWith(Sink.Seq<string>(), Sys.Materializer())
            .WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(["m1", "m2", "m3"], texts);
        var ids = await query.CurrentPersistenceIds().RunWith(Sink.Seq<string>(), Sys.Materializer())
            .WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Contains("room-q", ids);
    }
}
