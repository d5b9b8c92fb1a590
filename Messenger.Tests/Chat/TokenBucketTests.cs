using Messenger.Chat;

namespace Messenger.Tests.Chat;

public class TokenBucketTests
{
    [Fact]
    public void Allows_a_burst_then_refills_at_the_rate()
    {
        var bucket = new TokenBucket(ratePerSecond: 10, burst: 3, nowTicks: 0);
        Assert.True(bucket.TryTake(0));
        Assert.True(bucket.TryTake(0));
        Assert.True(bucket.TryTake(0));
        Assert.False(bucket.TryTake(0));
        Assert.False(bucket.TryTake(TimeSpan.FromMilliseconds(99).Ticks));
        Assert.True(bucket.TryTake(TimeSpan.FromMilliseconds(100).Ticks));
        Assert.False(bucket.TryTake(TimeSpan.FromMilliseconds(100).Ticks));
    }

    [Fact]
    public void Never_holds_more_than_the_burst()
    {
        var bucket = new TokenBucket(ratePerSecond: 1000, burst: 2, nowTicks: 0);
        long later = TimeSpan.FromHours(1).Ticks;
        Assert.True(bucket.TryTake(later));
        Assert.True(bucket.TryTake(later));
        Assert.False(bucket.TryTake(later));
    }
}

public class KeyedThrottleTests
{
    private const long Second = TimeSpan.TicksPerSecond;

    [Fact]
    public void Each_key_has_its_own_bucket()
    {
        var throttle = new KeyedThrottle<string>(1, 2);
        Assert.True(throttle.TryTake("a", 0));
        Assert.True(throttle.TryTake("a", 0));
        Assert.False(throttle.TryTake("a", 0));
        Assert.True(throttle.TryTake("b", 0));
        Assert.True(throttle.TryTake("a", Second));
    }

    [Fact]
    public void Refilled_buckets_are_forgotten_when_the_table_grows_and_busy_ones_are_kept()
    {
        var throttle = new KeyedThrottle<int>(1, 2);
        for (int key = 0; key < 1024; key++) throttle.TryTake(key, 0);
        throttle.TryTake(0, 2 * Second); // key 0 used again: partly empty at 2 s
        throttle.TryTake(0, 2 * Second);
        Assert.Equal(1024, throttle.Count);
        throttle.TryTake(5000, 2 * Second); // the table is full: sweep first
        Assert.Equal(2, throttle.Count);
        Assert.False(throttle.TryTake(0, 2 * Second)); // its bucket survived the sweep, empty
    }
}
