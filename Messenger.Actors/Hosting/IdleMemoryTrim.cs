using System.Runtime;
using Akka.Configuration;
using Akka.Event;

namespace Messenger.Hosting;

/// <summary>
/// Decides when a quiet server should give memory back: on the first check whose allocations
/// stayed under the quiet threshold after one that did not. Once per busy spell, so a server that
/// stays idle is not collected again and again.
/// </summary>
public sealed class IdleTrimPolicy(long quietBytes, long allocatedSoFar)
{
    private long _allocatedAtLastCheck = allocatedSoFar;
    private bool _busySinceTrim;

    /// <param name="allocatedSoFar">Bytes the process has allocated since it started (<see cref="GC.GetTotalAllocatedBytes"/>).</param>
    public bool ShouldTrim(long allocatedSoFar)
    {
        long allocated = allocatedSoFar - _allocatedAtLastCheck;
        _allocatedAtLastCheck = allocatedSoFar;
        if (allocated >= quietBytes)
        {
            _busySinceTrim = true;
            return false;
        }
        if (!_busySinceTrim) return false;
        _busySinceTrim = false;
        return true;
    }
}

/// <summary>
/// Gives memory back once the server goes quiet after a busy spell (a mass login, a flood). The GC
/// keeps the memory the heap grew into, free or not, until a full collection, which an idle server
/// may not reach for hours: after 10,000 logins the process held 78 MB (7.8 KB a client) more than
/// after a full collection. The JVM's G1 collector does the same on a timer (JEP 346). Start-up is
/// such a spell too, so the first collection runs at once. A process-wide matter, so the server's
/// host runs it (<c>messenger.idle-trim</c>), not every actor system a test makes.
/// </summary>
public sealed class IdleMemoryTrim : IDisposable
{
    private readonly IdleTrimPolicy _policy;
    private readonly ILoggingAdapter _log;
    private readonly Timer _timer;

    private IdleMemoryTrim(TimeSpan interval, long quietBytes, ILoggingAdapter log)
    {
        _log = log;
        Trim("after start-up"); // a busy spell of its own, just over
        _policy = new IdleTrimPolicy(quietBytes, GC.GetTotalAllocatedBytes());
        _timer = new Timer(_ => Check(), null, interval, interval);
    }

    /// <summary>Starts checking as <c>messenger.idle-trim</c> says; null when it is off.</summary>
    public static IdleMemoryTrim? Start(Config config, ILoggingAdapter log)
    {
        var c = config.GetConfig("messenger.idle-trim") ?? throw new ConfigurationException("missing messenger.idle-trim");
        if (!c.GetBoolean("enabled")) return null;
        long quiet = c.GetByteSize("quiet-allocation") ?? throw new ConfigurationException("messenger.idle-trim.quiet-allocation");
        return new IdleMemoryTrim(c.GetTimeSpan("check-interval"), quiet, log);
    }

    private void Check()
    {
        if (_policy.ShouldTrim(GC.GetTotalAllocatedBytes())) Trim("quiet after a busy spell");
    }

    private void Trim(string when)
    {
        long before = Environment.WorkingSet;
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        _log.Info("{0}: a full collection took {1:0} ms; resident memory {2:0.0} MB -> {3:0.0} MB",
            when, System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds, before / 1e6, Environment.WorkingSet / 1e6);
    }

    public void Dispose() => _timer.Dispose();
}
