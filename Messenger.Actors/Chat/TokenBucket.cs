using System.Diagnostics;

namespace Messenger.Chat;

/// <summary>
/// The process's monotonic clock, for the rate limits and timeouts of connections: one shared
/// clock instead of a <see cref="Stopwatch"/> object on each of ten thousand connections.
/// </summary>
public static class MonotonicClock
{
    public static TimeSpan Now => Stopwatch.GetElapsedTime(0);
}

/// <summary>
/// A token bucket: <see cref="RatePerSecond"/> tokens a second, at most <see cref="Burst"/> saved
/// up. Time is given by the caller (ticks of any monotonic clock), so it is tested without waiting.
/// </summary>
public sealed class TokenBucket
{
    private double _tokens;
    private long _lastTicks;

    public TokenBucket(double ratePerSecond, int burst, long nowTicks)
    {
        if (ratePerSecond <= 0) throw new ArgumentOutOfRangeException(nameof(ratePerSecond), "rate must be positive");
        if (burst < 1) throw new ArgumentOutOfRangeException(nameof(burst), "burst must be at least 1");
        RatePerSecond = ratePerSecond;
        Burst = burst;
        _tokens = burst;
        _lastTicks = nowTicks;
    }

    public double RatePerSecond { get; }
    public int Burst { get; }

    /// <summary>Takes one token if there is one.</summary>
    public bool TryTake(long nowTicks)
    {
        if (nowTicks > _lastTicks)
        {
            _tokens = Math.Min(Burst, _tokens + (nowTicks - _lastTicks) * RatePerSecond / TimeSpan.TicksPerSecond);
            _lastTicks = nowTicks;
        }
        if (_tokens < 1) return false;
        _tokens -= 1;
        return true;
    }

    /// <summary>True once the bucket has refilled completely: it then behaves as a new one would.</summary>
    public bool IsFull(long nowTicks) =>
        _tokens + Math.Max(0, nowTicks - _lastTicks) * RatePerSecond / TimeSpan.TicksPerSecond >= Burst;
}

/// <summary>
/// One <see cref="TokenBucket"/> per key (a client's IP address), made on first use. Buckets that
/// have refilled are forgotten when the table has doubled since it was last swept, so the table
/// holds only keys active within about one refill time.
/// </summary>
public sealed class KeyedThrottle<TKey>(double ratePerSecond, int burst) where TKey : notnull
{
    private const int MinSweepSize = 1024;
    private readonly Dictionary<TKey, TokenBucket> _buckets = new();
    private int _sweepAt = MinSweepSize;

    /// <summary>Keys with a bucket that is not known to be full.</summary>
    public int Count => _buckets.Count;

    /// <summary>Takes one token from <paramref name="key"/>'s bucket if there is one.</summary>
    public bool TryTake(TKey key, long nowTicks)
    {
        if (!_buckets.TryGetValue(key, out var bucket))
        {
            if (_buckets.Count >= _sweepAt) Sweep(nowTicks);
            bucket = new TokenBucket(ratePerSecond, burst, nowTicks);
            _buckets.Add(key, bucket);
        }
        return bucket.TryTake(nowTicks);
    }

    private void Sweep(long nowTicks)
    {
        foreach (var (key, bucket) in _buckets)
        {
            if (bucket.IsFull(nowTicks)) _buckets.Remove(key);
        }
        _sweepAt = Math.Max(MinSweepSize, 2 * _buckets.Count);
    }
}

/// <summary>What <see cref="FloodGuard"/> decided about one line.</summary>
public enum FloodVerdict
{
    /// <summary>Within the rate: act on it.</summary>
    Accept,
    /// <summary>Over the rate, the first such line since the client was last within it: answer <c>rate_limited</c> once.</summary>
    RefuseAndTell,
    /// <summary>Over the rate again: drop it without an answer.</summary>
    RefuseSilently,
    /// <summary>Too many refused lines in one window: the client keeps flooding; close it.</summary>
    Close,
}

/// <summary>
/// The per-connection input rate limit: a <see cref="TokenBucket"/>, one <c>rate_limited</c>
/// answer per run of refused lines (the rest are dropped without a word, so a flood cannot make
/// the server write more than it reads), and a close once more than
/// <paramref name="closeAfterRefused"/> lines were refused within one <paramref name="window"/>.
/// </summary>
public sealed class FloodGuard(TokenBucket bucket, TimeSpan window, int closeAfterRefused)
{
    private bool _refusing;
    private long _windowEndTicks = long.MinValue;
    private int _refusedInWindow;

    /// <summary>Lines refused since the guard was made.</summary>
    public long Refused { get; private set; }

    public FloodVerdict Check(long nowTicks)
    {
        if (bucket.TryTake(nowTicks))
        {
            _refusing = false;
            return FloodVerdict.Accept;
        }
        Refused++;
        if (nowTicks >= _windowEndTicks)
        {
            _windowEndTicks = nowTicks + window.Ticks;
            _refusedInWindow = 0;
        }
        if (++_refusedInWindow > closeAfterRefused) return FloodVerdict.Close;
        if (_refusing) return FloodVerdict.RefuseSilently;
        _refusing = true;
        return FloodVerdict.RefuseAndTell;
    }
}
