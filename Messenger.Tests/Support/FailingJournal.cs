using System.Collections.Immutable;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Messenger.Persistence;

namespace Messenger.Tests.Support;

/// <summary>
/// The in-memory journal, except for writes named in their content, so a test decides which write
/// goes wrong without shared state: an event for the name or text <see cref="Fails"/> fails (as a
/// full disk or a lost database server would: the writer's <c>OnPersistFailure</c>), and a kept
/// message whose text is <see cref="Rejected"/> is refused (as one that cannot be serialized: <c>OnPersistRejected</c>).
/// </summary>
public sealed class FailingJournal : MemoryJournal
{
    public const string Fails = "doomed";
    public const string Rejected = "unwritable";

    /// <summary>Test configuration: the actor unit tests' in-memory setup with this journal.</summary>
    public static Config Config(string extraHocon = "") => ConfigurationFactory.ParseString(extraHocon + """

        akka.persistence.journal.plugin = "akka.persistence.journal.failing"
        akka.persistence.journal.failing {
          class = "Messenger.Tests.Support.FailingJournal, Messenger.Tests"
          plugin-dispatcher = "akka.actor.default-dispatcher"
        }
        """).WithFallback(InMemoryPersistence.Config());

    protected override Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var writes = messages.ToList();
        if (writes.Any(w => Events(w).Any(e => e is AccountRegistered { Name: Fails } or OfflineMessageQueued { Text: Fails })))
            return Task.FromException<IImmutableList<Exception?>>(new IOException("the test journal's disk is full"));
        var rejected = writes.Select(w => Events(w).Any(e => e is OfflineMessageQueued { Text: Rejected })).ToList();
        if (!rejected.Contains(true)) return base.WriteMessagesAsync(writes, cancellationToken);
        return WriteAcceptedAsync(writes, rejected, cancellationToken);
    }

    private async Task<IImmutableList<Exception?>> WriteAcceptedAsync(List<AtomicWrite> writes, List<bool> rejected, CancellationToken cancellationToken)
    {
        await base.WriteMessagesAsync(writes.Where((_, i) => !rejected[i]).ToList(), cancellationToken);
        return rejected.Select(r => r ? new InvalidOperationException("the test journal cannot serialize this") : null).ToImmutableList<Exception?>();
    }

    private static IEnumerable<object> Events(AtomicWrite write) =>
        ((IImmutableList<IPersistentRepresentation>)write.Payload).Select(p => p.Payload);
}
