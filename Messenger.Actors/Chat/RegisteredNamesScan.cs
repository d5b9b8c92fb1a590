using Akka.Actor;
using Akka.Persistence.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Messenger.Accounts;

namespace Messenger.Chat;

/// <summary>
/// The names that have an account in the journal (only a registration starts an account's
/// journal), read from the accounts' persistence ids for the claims buckets that have no list of
/// their own yet. One scan at a time per node: a bucket that asks while one runs gets its result,
/// so the buckets of a node that start together (all of them, on a journal from before the lists
/// or under another number of buckets) read the journal's ids once, not once each. Nothing is
/// kept after a scan: a bucket asking later starts a new one.
/// </summary>
public sealed class RegisteredNamesScan : IExtension
{
    private readonly ActorSystem _system;
    private readonly object _gate = new();
    private Task<IReadOnlyList<string>>? _running;

    public RegisteredNamesScan(ActorSystem system) => _system = system;

    public static RegisteredNamesScan Get(ActorSystem system) => system.WithExtension<RegisteredNamesScan, RegisteredNamesScanProvider>();

    /// <summary>Every registered name, through the read journal <paramref name="readJournal"/>.</summary>
    public Task<IReadOnlyList<string>> NamesAsync(string readJournal)
    {
        lock (_gate)
        {
            if (_running is { } running) return running;
            // Started off the caller's thread, outside this lock.
            var scan = Task.Run(() => Scan(readJournal));
            _running = scan;
            scan.ContinueWith(_ =>
            {
                lock (_gate) _running = null;
            }, TaskScheduler.Default);
            return scan;
        }
    }

    private async Task<IReadOnlyList<string>> Scan(string readJournal) =>
        await PersistenceQuery.Get(_system).ReadJournalFor<ICurrentPersistenceIdsQuery>(readJournal)
            .CurrentPersistenceIds()
            .Where(id => id.StartsWith(AccountActor.PersistenceIdPrefix, StringComparison.Ordinal))
            .Select(id => id[AccountActor.PersistenceIdPrefix.Length..])
            .RunWith(Sink.Seq<string>(), _system.Materializer());
}

public sealed class RegisteredNamesScanProvider : ExtensionIdProvider<RegisteredNamesScan>
{
    public override RegisteredNamesScan CreateExtension(ExtendedActorSystem system) => new(system);
}
