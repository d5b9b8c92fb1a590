using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;

namespace Messenger.Persistence;

/// <summary>
/// The SQL read journal (Akka.Persistence.Sql's <see cref="SqlReadJournal"/>) for what we ask of it:
/// queries by persistence id (history pages, <see cref="Rooms.RoomActor"/>) and the list of persistence ids
/// (<see cref="Chat.RegisteredNamesScan"/>). <see cref="SqlReadJournal"/> starts, with itself, an
/// actor that follows the journal's global ordering for the queries by tag and of all events: it
/// reads the ordering number of every row written, by polling from the first row on, forever, and
/// collects them into an immutable list one by one. Nothing here asks those queries, and in a flood
/// of 20,000 messages that actor took 15 % of the server's CPU (bench/README.md finding 14), so it is
/// stopped as soon as the read journal exists. Queries by tag or of all events would wait for it
/// and fail.
/// </summary>
public sealed class PerIdReadJournalProvider(ExtendedActorSystem system, Config config) : IReadJournalProvider
{
    /// <summary>Where <see cref="SqlReadJournal"/> starts its ordering actor: a system actor "{plugin id}-{journal table}-akka-persistence-sql-sequence-actor".</summary>
    public const string OrderingActorPath = "/system/*akka-persistence-sql-sequence-actor";

    public IReadJournal GetReadJournal()
    {
        var journal = new SqlReadJournalProvider(system, config).GetReadJournal();
        system.ActorSelection(OrderingActorPath).Tell(PoisonPill.Instance);
        return journal;
    }
}
