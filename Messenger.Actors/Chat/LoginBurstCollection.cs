using Akka.Configuration;

namespace Messenger.Chat;

/// <summary>
/// Decides when a burst of logins has made a step: <c>logins</c> logins and <c>allocated</c> bytes
/// since the last collection, the runtime's or a step's (counted from the first login after it).
/// A collection the runtime ran meanwhile starts the step again, so steps only fill the gaps
/// between the runtime's own collections.
/// </summary>
public sealed class LoginBurstPolicy(int loginsPerStep, long bytesPerStep)
{
    private int _logins;
    private long _allocatedAtStep;
    private int _collectionsAtStep = -1;

    /// <param name="allocatedSoFar">Bytes the process has allocated since it started (<see cref="GC.GetTotalAllocatedBytes"/>).</param>
    /// <param name="collectionsSoFar">Collections so far (<see cref="GC.CollectionCount"/> of generation 0, which counts them all).</param>
    /// <returns>True when this login ends a step: collect now.</returns>
    public bool EndsStep(long allocatedSoFar, int collectionsSoFar)
    {
        if (collectionsSoFar != _collectionsAtStep)
        {
            _collectionsAtStep = collectionsSoFar;
            _allocatedAtStep = allocatedSoFar;
            _logins = 0;
        }
        if (++_logins < loginsPerStep || allocatedSoFar - _allocatedAtStep < bytesPerStep) return false;
        _logins = 0;
        _allocatedAtStep = allocatedSoFar;
        return true;
    }
}

/// <summary>
/// Collects the young generations in steps while logins pour in (<c>messenger.login-burst-collection</c>).
/// Every login leaves state that lives as long as its connection (its actor, pipes and buffers,
/// ~5 KB). Left to its own budget (~80 MiB here) the runtime collected once in a burst of 6,000
/// logins, and that one collection copied the state of all of them at once: a pause of 100-250 ms
/// that every other user's messages waited through. In steps, each collection copies only the
/// logins since the one before, straight on to the oldest generation: a step of the youngest
/// generation alone left them in the middle one, for the runtime to copy later in one collection
/// of 70-150 ms. The same steps all the time (a 16 MiB young budget for the whole process) cost a
/// flood 10-26 % more CPU per delivery, copying messages queued to slow readers that die soon
/// after (bench/README.md, issue 11); these steps come only with logins.
/// </summary>
public sealed class LoginBurstCollection(LoginBurstPolicy policy, Action? collect = null)
{
    private readonly Action _collect = collect ?? (() => GC.Collect(1, GCCollectionMode.Forced, blocking: true));

    /// <summary>From <c>messenger.login-burst-collection</c>; null when it is off.</summary>
    public static LoginBurstCollection? FromConfig(Config config)
    {
        var c = config.GetConfig("messenger.login-burst-collection") ?? throw new ConfigurationException("missing messenger.login-burst-collection");
        if (!c.GetBoolean("enabled")) return null;
        int logins = c.GetInt("logins");
        long allocated = c.GetByteSize("allocated") ?? throw new ConfigurationException("missing messenger.login-burst-collection.allocated");
        if (logins < 1 || allocated < 0)
            throw new ConfigurationException("messenger.login-burst-collection needs at least 1 login and a non-negative allocation a step");
        return new LoginBurstCollection(new LoginBurstPolicy(logins, allocated));
    }

    /// <summary>A login was accepted; collects if it ends a step.</summary>
    public void LoginAccepted()
    {
        if (policy.EndsStep(GC.GetTotalAllocatedBytes(), GC.CollectionCount(0))) _collect();
    }
}
