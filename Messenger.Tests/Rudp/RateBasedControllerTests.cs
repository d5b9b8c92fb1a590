using Messenger.Rudp;

namespace Messenger.Tests.Rudp;

public class RateBasedControllerTests
{
    /// <summary>The windows the server ships (hocon/rudp.hocon): what these controllers run with.</summary>
    private static readonly RudpSettings Shipped = RudpSettings.FromConfig(Messenger.Hosting.ServerConfig.Load());

    private const long BaseRtt = 10_000; // 10 ms

    /// <summary>
    /// A bottleneck that delivers <paramref name="capacity"/> segments per base RTT. A window above the
    /// capacity builds a queue: the round then lasts RTT × window / capacity (and so does the RTT sample).
    /// Each round is acknowledged in ten acks; <paramref name="rttOverride"/> fixes the reported RTT.
    /// </summary>
    private static void RunRounds(RateBasedController cc, ref long now, int rounds, int capacity,
        long? rttOverride = null, int lossesPerRound = 0, long transmissionBase = 0)
    {
        for (var r = 0; r < rounds; r++)
        {
            var window = cc.Window;
            var rtt = rttOverride ?? BaseRtt * Math.Max(window, capacity) / capacity;
            var acked = 0;
            for (var j = 1; j <= 10; j++)
            {
                now += rtt / 10;
                var upTo = window * j / 10;
                cc.OnAck(now, upTo - acked, rtt, window);
                acked = upTo;
                if (j == 5)
                    for (var l = 0; l < lossesPerRound; l++)
                        cc.OnLoss(transmissionBase + l, transmissionBase + window);
            }
        }
    }

    private static RateBasedController SteadyController(int capacity, out long now)
    {
        var cc = new RateBasedController(Shipped.MinWindow, Shipped.MaxWindow);
        now = 0;
        RunRounds(cc, ref now, 40, capacity, rttOverride: BaseRtt);
        Assert.Equal(RateBasedPhase.ProbeBandwidth, cc.Phase);
        return cc;
    }

    [Fact]
    public void Startup_grows_the_window_exponentially()
    {
        var cc = new RateBasedController(Shipped.MinWindow, Shipped.MaxWindow);
        long now = 0;
        Assert.Equal(Shipped.MinWindow, cc.Window);
        RunRounds(cc, ref now, 3, capacity: 100_000);
        Assert.Equal(RateBasedPhase.Startup, cc.Phase);
        Assert.Equal(Shipped.MinWindow * 8, cc.Window); // doubled in each of the three rounds (below max-window)
    }

    [Fact]
    public void Leaves_startup_when_the_delivery_rate_plateaus_and_settles_at_two_bdp()
    {
        var cc = new RateBasedController(Shipped.MinWindow, Shipped.MaxWindow);
        long now = 0;
        RunRounds(cc, ref now, 30, capacity: 200);
        Assert.Equal(RateBasedPhase.ProbeBandwidth, cc.Phase);
        Assert.Equal(BaseRtt, cc.MinRttMicros);
        // Bottleneck: 200 segments per 10 ms = 20,000 segments/s; BDP = 200; window = 2 × BDP.
        Assert.InRange(cc.BottleneckBandwidth, 19_000, 21_000);
        Assert.InRange(cc.Window, 380, 420);
    }

    [Fact]
    public void Random_loss_with_stable_rtt_does_not_shrink_the_window()
    {
        var cc = SteadyController(capacity: 200, out var now);
        var before = cc.Window;
        RunRounds(cc, ref now, 50, capacity: 200, rttOverride: BaseRtt, lossesPerRound: 3, transmissionBase: 1_000_000);
        Assert.Equal(0, cc.Reductions);
        Assert.InRange(cc.Window, before * 0.95, before * 1.05);
    }

    [Fact]
    public void Timeout_shrinks_the_window_every_time_but_never_below_the_floor()
    {
        var cc = SteadyController(capacity: 200, out var now);
        var before = cc.Window;
        cc.OnRetransmissionTimeout(0);
        Assert.Equal(before / 2, cc.Window);
        for (var i = 0; i < 20; i++)
            cc.OnRetransmissionTimeout(0);
        Assert.Equal(Shipped.MinWindow, cc.Window);
    }

    [Fact]
    public void Loss_with_rtt_inflation_shrinks_once_per_round()
    {
        var cc = SteadyController(capacity: 200, out var now);
        var before = cc.Window;
        // Two round trips with a standing queue (every RTT sample 3 × the minimum) and losses: the
        // controller's first round wholly inside them ends with one cut, the next has not ended yet.
        RunRounds(cc, ref now, 2, capacity: 200, rttOverride: 3 * BaseRtt, lossesPerRound: 3);
        Assert.Equal(1, cc.Reductions);
        Assert.Equal((int)(before * RudpConstants.CongestionDecrease), cc.Window);
    }

    [Fact]
    public void Loss_in_a_round_with_a_few_late_acks_is_not_congestion()
    {
        // A busy CPU delays some acks by milliseconds; with random loss every round also has losses.
        var cc = SteadyController(capacity: 200, out var now);
        var before = cc.Window;
        for (var round = 0; round < 5; round++)
        {
            var window = cc.Window;
            for (var j = 1; j <= 10; j++)
            {
                now += BaseRtt / 10;
                cc.OnAck(now, window / 10, j == 5 ? 5 * BaseRtt : BaseRtt, window);
                if (j == 5) cc.OnLoss(round, round + window);
            }
        }
        Assert.Equal(0, cc.Reductions);
        Assert.InRange(cc.Window, before * 0.95, before * 1.05);
    }

    [Fact]
    public void Loss_with_sub_millisecond_rtt_jitter_on_a_fast_path_is_not_congestion()
    {
        // minRtt 60 µs (loopback): 3 x is still only 180 µs, far below the 2 ms congestion delay.
        var cc = new RateBasedController(Shipped.MinWindow, Shipped.MaxWindow, congestionDelayMicros: 2_000);
        long now = 0;
        cc.OnAck(now += 60, 1, 60, 16);
        for (int round = 0; round < 20; round++)
        {
            cc.OnAck(now += 100, 16, 180, 16);
            cc.OnLoss(round, round + 1);
        }
        Assert.Equal(0, cc.Reductions);
    }

    [Fact]
    public void Reduced_window_grows_back_after_clean_rounds()
    {
        var cc = SteadyController(capacity: 200, out var now);
        var before = cc.Window;
        cc.OnRetransmissionTimeout(0);
        RunRounds(cc, ref now, 10, capacity: 200, rttOverride: BaseRtt);
        Assert.InRange(cc.Window, before * 0.95, before * 1.05);
    }

    [Fact]
    public void Rtt_inflation_without_loss_is_not_congestion_evidence()
    {
        var cc = SteadyController(capacity: 200, out var now);
        RunRounds(cc, ref now, 3, capacity: 200, rttOverride: 3 * BaseRtt);
        Assert.Equal(0, cc.Reductions);
    }

    [Fact]
    public void Window_never_exceeds_the_ceiling_or_the_receiver_window()
    {
        var cc = new RateBasedController(Shipped.MinWindow, maxWindow: 1000);
        long now = 0;
        RunRounds(cc, ref now, 40, capacity: 100_000);
        Assert.Equal(1000, cc.Window);
        Assert.Equal(64, cc.AllowedInFlight(64));
        Assert.Equal(0, cc.AllowedInFlight(0));
        Assert.Equal(1000, cc.AllowedInFlight(5000));
    }

    [Fact]
    public void Both_controllers_share_the_interface()
    {
        ICongestionController[] controllers = [Shipped.NewCongestionController(), new NewRenoController(Shipped.MaxWindow)];
        foreach (var cc in controllers)
        {
            Assert.False(string.IsNullOrEmpty(cc.Name));
            cc.OnAck(1000, 5, 500, 5);
            cc.OnLoss(0, 10);
            cc.OnRetransmissionTimeout(10);
            Assert.True(cc.Window >= 1);
            Assert.Equal(Math.Min(3, cc.Window), cc.AllowedInFlight(3));
        }
    }
}
