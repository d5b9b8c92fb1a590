using Messenger.Rudp;

namespace Messenger.Tests.Rudp;

public class ImpairmentPlanTests
{
    private static readonly LinkImpairment Nasty = new(lossRate: 0.1, duplicateRate: 0.05, reorderRate: 0.1,
        corruptRate: 0.02, delayMilliseconds: 5);

    [Fact]
    public void Same_seed_gives_the_same_decisions()
    {
        var a = new ImpairmentPlan(Nasty, 42);
        var b = new ImpairmentPlan(Nasty, 42);
        var c = new ImpairmentPlan(Nasty, 43);
        var differs = false;
        for (var i = 0; i < 10_000; i++)
        {
            var da = a.Next(1000);
            Assert.Equal(da, b.Next(1000));
            differs |= da != c.Next(1000);
        }
        Assert.True(differs);
    }

    [Theory]
    [InlineData(0.01)]
    [InlineData(0.1)]
    [InlineData(0.5)]
    public void Loss_rate_is_within_one_percent(double rate)
    {
        var plan = new ImpairmentPlan(new LinkImpairment(lossRate: rate), 7);
        var dropped = 0;
        const int n = 100_000;
        for (var i = 0; i < n; i++)
            if (plan.Next(1472).Drop)
                dropped++;
        Assert.InRange((double)dropped / n, rate - 0.01, rate + 0.01);
    }

    [Fact]
    public void Corruption_flips_exactly_one_bit()
    {
        var plan = new ImpairmentPlan(new LinkImpairment(corruptRate: 1), 1);
        var original = new byte[100];
        new Random(5).NextBytes(original);
        for (var i = 0; i < 1000; i++)
        {
            var decision = plan.Next(original.Length);
            Assert.True(decision.Corrupt);
            var copy = (byte[])original.Clone();
            decision.ApplyCorruption(copy);
            var flipped = 0;
            for (var j = 0; j < copy.Length; j++)
                flipped += System.Numerics.BitOperations.PopCount((uint)(copy[j] ^ original[j]));
            Assert.Equal(1, flipped);
        }
    }

    [Fact]
    public void Transparent_plan_never_touches_anything()
    {
        Assert.True(LinkImpairment.None.IsTransparent);
        var plan = new ImpairmentPlan(LinkImpairment.None, 1);
        Assert.True(plan.IsTransparent);
        for (var i = 0; i < 10_000; i++)
            Assert.Equal(ImpairmentDecision.Untouched, plan.Next(1472));
        Assert.False(new LinkImpairment(delayMilliseconds: 1).IsTransparent);
    }

    [Fact]
    public void Delay_and_reordering_hold_datagrams_back()
    {
        var plan = new ImpairmentPlan(new LinkImpairment(reorderRate: 0.5, delayMilliseconds: 10), 9);
        int reordered = 0;
        for (var i = 0; i < 10_000; i++)
        {
            var d = plan.Next(100);
            if (d.Reordered)
            {
                reordered++;
                Assert.InRange(d.Delay, TimeSpan.FromMilliseconds(10) + TimeSpan.FromTicks(1), TimeSpan.FromMilliseconds(31));
            }
            else
            {
                Assert.Equal(TimeSpan.FromMilliseconds(10), d.Delay);
            }
        }
        Assert.InRange(reordered, 4500, 5500);
    }

    [Fact]
    public void Duplicates_follow_their_rate()
    {
        var plan = new ImpairmentPlan(new LinkImpairment(duplicateRate: 0.2), 11);
        var duplicates = 0;
        for (var i = 0; i < 100_000; i++)
            if (plan.Next(100).Duplicate)
                duplicates++;
        Assert.InRange(duplicates, 19_000, 21_000);
    }

    [Theory]
    [InlineData(-0.1, 0, 0, 0, 0, "lossRate")]
    [InlineData(0, 1.1, 0, 0, 0, "duplicateRate")]
    [InlineData(0, 0, double.NaN, 0, 0, "reorderRate")]
    [InlineData(0, 0, 0, 2, 0, "corruptRate")]
    [InlineData(0, 0, 0, 0, -1, "delayMilliseconds")]
    public void Invalid_settings_are_rejected_with_a_clear_message(double loss, double dup, double reorder,
        double corrupt, double delay, string parameter)
    {
        var ex = Assert.Throws<ArgumentException>(() => new LinkImpairment(loss, dup, reorder, corrupt, delay));
        Assert.Equal(parameter, ex.ParamName);
        Assert.Contains(parameter, ex.Message);
    }
}
