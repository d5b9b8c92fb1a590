namespace Messenger.Chat;

/// <summary>
/// Classic token bucket: <see cref="Burst"/> tokens at most, refilled at <see cref="RatePerSecond"/>.
/// Pure: the caller passes the clock, so tests need no waiting.
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

    /// <summary>Takes one token if there is one. <paramref name="nowTicks"/> is in <see cref="TimeSpan"/> ticks.</summary>
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
}
