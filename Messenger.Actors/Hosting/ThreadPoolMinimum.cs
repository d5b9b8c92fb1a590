using Akka.Configuration;

namespace Messenger.Hosting;

/// <summary>
/// The thread pool's worker floor (<c>messenger.thread-pool.min-workers</c>): below it the pool adds
/// a worker as soon as work waits, instead of leaving it to its hill-climbing, which during a burst of
/// logins swung between 2 and 8-9 workers every 0.2-0.5 s on 2 cores. A process-wide matter, so the
/// server's host applies it, not every actor system a test makes.
/// </summary>
public static class ThreadPoolMinimum
{
    /// <summary>Raises the floor as HOCON says (0: the runtime's own, one per core); returns the floor in force.</summary>
    public static int Apply(Config config)
    {
        int wanted = config.GetInt("messenger.thread-pool.min-workers");
        if (wanted < 0) throw new ConfigurationException("messenger.thread-pool.min-workers must be 0 or more");
        ThreadPool.GetMinThreads(out int workers, out int io);
        if (wanted > workers && !ThreadPool.SetMinThreads(wanted, io))
            throw new ConfigurationException($"messenger.thread-pool.min-workers = {wanted} was refused by the runtime");
        ThreadPool.GetMinThreads(out workers, out _);
        return workers;
    }
}
