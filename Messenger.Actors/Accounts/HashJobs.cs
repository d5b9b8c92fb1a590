using Akka.Actor;

namespace Messenger.Accounts;

/// <summary>
/// The node's password hashing jobs (PBKDF2, slow on purpose: a registration, a login with a
/// password, <c>passwd</c>) running or waiting on the thread pool, over all accounts: at most
/// <c>messenger.accounts.max-hash-jobs</c> at once. An Akka extension, one per actor system (so each
/// node of a cluster in one process counts its own). An account that finds no place answers
/// <c>rate_limited</c> instead of queueing another job behind the others.
/// </summary>
public sealed class HashJobs(int max) : IExtension
{
    private int _taken;

    public static HashJobs Get(ActorSystem system) => system.WithExtension<HashJobs, HashJobsProvider>();

    /// <summary>Takes a place for one job; false if all <c>max-hash-jobs</c> are taken. <see cref="Run{T}"/> or <see cref="Release"/> gives it back.</summary>
    public bool TryTake()
    {
        if (Interlocked.Increment(ref _taken) <= max) return true;
        Interlocked.Decrement(ref _taken);
        return false;
    }

    /// <summary>Gives back a place taken with <see cref="TryTake"/> and not used.</summary>
    public void Release() => Interlocked.Decrement(ref _taken);

    /// <summary>Runs <paramref name="job"/> on the thread pool in a place taken with <see cref="TryTake"/>, which it gives back when it ends.</summary>
    public Task<T> Run<T>(Func<T> job) => Task.Run(() =>
    {
        try
        {
            return job();
        }
        finally
        {
            Release();
        }
    });
}

public sealed class HashJobsProvider : ExtensionIdProvider<HashJobs>
{
    public override HashJobs CreateExtension(ExtendedActorSystem system) => new(AccountSettings.FromConfig(system.Settings.Config).MaxHashJobs);
}
