using Akka;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Query;
using Akka.Streams.Dsl;

namespace Messenger.Tests.Support;

/// <summary>
/// A read journal whose list of persistence ids arrives only when a test calls <see cref="Open"/>:
/// it holds a name-claims bucket in the middle of building its list of registered names. One gate
/// for the whole test process; a test that uses it must be the only one.
/// </summary>
public sealed class GatedReadJournal : IReadJournal, ICurrentPersistenceIdsQuery
{
    /// <summary>Its plugin id, configured by <see cref="Hocon"/>.</summary>
    public const string Id = "messenger-test.gated-read-journal";
    public static readonly string Hocon = $"{Id}.class = \"{typeof(Provider).AssemblyQualifiedName}\"";

    private static readonly TaskCompletionSource<IReadOnlyList<string>> Gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static void Open(IReadOnlyList<string> persistenceIds) => Gate.TrySetResult(persistenceIds);

    public Source<string, NotUsed> CurrentPersistenceIds() => Source.FromTask(Gate.Task).SelectMany(ids => ids);

    /// <summary>Made by Akka.Persistence.Query from <see cref="Hocon"/>, with the constructor it expects.</summary>
    public sealed class Provider : IReadJournalProvider
    {
        public Provider(ExtendedActorSystem system, Config config) { }

        public IReadJournal GetReadJournal() => new GatedReadJournal();
    }
}
