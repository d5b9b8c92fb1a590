using Messenger.Rudp;

namespace Messenger.Tests.Rudp;

public class RttEstimatorTests
{
    [Fact]
    public void Before_any_sample_the_initial_rto_applies()
    {
        Assert.Equal(1_000_000, new RttEstimator().RtoMicros);
        var estimator = new RttEstimator(initialRtoMicros: 200_000, minRtoMicros: 20_000);
        Assert.False(estimator.HasSample);
        Assert.Equal(200_000, estimator.RtoMicros);
    }

    [Fact]
    public void Samples_follow_the_rfc_6298_formulas_exactly()
    {
        var estimator = new RttEstimator(initialRtoMicros: 200_000, minRtoMicros: 1, maxRtoMicros: 60_000_000, clockGranularityMicros: 1);

        // First sample: SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, 4·RTTVAR).
        estimator.AddSample(100_000);
        Assert.Equal(100_000, estimator.SmoothedRttMicros);
        Assert.Equal(50_000, estimator.RttVariationMicros);
        Assert.Equal(300_000, estimator.RtoMicros);

        // Subsequent samples: RTTVAR = 3/4·RTTVAR + 1/4·|SRTT − R| (old SRTT), SRTT = 7/8·SRTT + 1/8·R.
        double srtt = 100_000, rttvar = 50_000;
        foreach (var r in new long[] { 120_000, 80_000, 80_000, 200_000, 100_000 })
        {
            rttvar = 0.75 * rttvar + 0.25 * Math.Abs(srtt - r);
            srtt = 0.875 * srtt + 0.125 * r;
            estimator.AddSample(r);
            Assert.Equal(srtt, estimator.SmoothedRttMicros, 9);
            Assert.Equal(rttvar, estimator.RttVariationMicros, 9);
            Assert.Equal((long)Math.Ceiling(srtt + Math.Max(1, 4 * rttvar)), estimator.RtoMicros);
        }
    }

    [Fact]
    public void Second_sample_worked_example()
    {
        var estimator = new RttEstimator(minRtoMicros: 1);
        estimator.AddSample(100_000);
        estimator.AddSample(200_000);
        // RTTVAR = 0.75·50,000 + 0.25·100,000 = 62,500; SRTT = 87,500 + 25,000 = 112,500; RTO = 112,500 + 250,000.
        Assert.Equal(62_500, estimator.RttVariationMicros);
        Assert.Equal(112_500, estimator.SmoothedRttMicros);
        Assert.Equal(362_500, estimator.RtoMicros);
    }

    [Fact]
    public void Clock_granularity_dominates_a_vanishing_variance()
    {
        var estimator = new RttEstimator(minRtoMicros: 1, clockGranularityMicros: 10_000);
        estimator.AddSample(0);
        Assert.Equal(10_000, estimator.RtoMicros);
        for (var i = 0; i < 200; i++)
            estimator.AddSample(1_000);
        // RTTVAR has decayed far below G/4, so RTO = SRTT + G.
        Assert.Equal((long)Math.Ceiling(estimator.SmoothedRttMicros + 10_000), estimator.RtoMicros);
    }

    [Fact]
    public void Rto_is_clamped_to_min_and_max()
    {
        var low = new RttEstimator(minRtoMicros: 20_000, maxRtoMicros: 1_000_000);
        low.AddSample(1_000);
        Assert.Equal(20_000, low.RtoMicros);

        var high = new RttEstimator(minRtoMicros: 20_000, maxRtoMicros: 1_000_000);
        high.AddSample(5_000_000);
        Assert.Equal(1_000_000, high.RtoMicros);

        Assert.Equal(1_000_000, new RttEstimator(initialRtoMicros: 5_000_000, minRtoMicros: 20_000, maxRtoMicros: 1_000_000).RtoMicros);
    }

    [Fact]
    public void Backoff_doubles_up_to_the_cap()
    {
        var estimator = new RttEstimator(initialRtoMicros: 200_000, minRtoMicros: 20_000, maxRtoMicros: 1_000_000);
        estimator.Backoff();
        Assert.Equal(400_000, estimator.RtoMicros);
        estimator.Backoff();
        Assert.Equal(800_000, estimator.RtoMicros);
        estimator.Backoff();
        Assert.Equal(1_000_000, estimator.RtoMicros);
        estimator.Backoff();
        Assert.Equal(1_000_000, estimator.RtoMicros);
        Assert.Equal(4, estimator.BackoffCount);
    }

    [Fact]
    public void A_new_sample_resets_the_backoff()
    {
        var estimator = new RttEstimator(minRtoMicros: 1);
        estimator.AddSample(100_000);
        estimator.Backoff();
        estimator.Backoff();
        Assert.Equal(1_200_000, estimator.RtoMicros);
        estimator.AddSample(100_000);
        // RTTVAR = 37,500, SRTT = 100,000 → RTO = 250,000 with no backoff factor.
        Assert.Equal(250_000, estimator.RtoMicros);
        Assert.Equal(0, estimator.BackoffCount);
    }

    [Fact]
    public void Negative_samples_are_ignored()
    {
        var estimator = new RttEstimator();
        Assert.False(estimator.AddSample(-1));
        Assert.False(estimator.HasSample);
    }
}
