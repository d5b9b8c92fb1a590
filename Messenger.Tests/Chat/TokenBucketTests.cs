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
