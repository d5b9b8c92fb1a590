using Messenger.Rudp;

namespace Messenger.Tests.Rudp;

public class NewRenoControllerTests
{
    /// <summary>The windows the server ships (hocon/rudp.hocon): what these controllers run with.</summary>
    private static readonly RudpSettings Shipped = RudpSettings.FromConfig(Messenger.Hosting.ServerConfig.Load());

    [Fact]
    public void Slow_start_doubles_per_round_trip_of_acks()
    {
        var cc = new NewRenoController(Shipped.MaxWindow, initialWindow: 10);
        Assert.Equal(10, cc.Window);
        for (var round = 0; round < 4; round++)
        {
            var window = cc.Window;
            for (var i = 0; i < window; i++)
                cc.OnAck(0, 1, 1000, window - i - 1);
            Assert.Equal(window * 2, cc.Window);
        }
        Assert.Equal(160, cc.Window);
        Assert.True(cc.InSlowStart);
    }

    [Fact]
    public void Congestion_avoidance_adds_one_segment_per_round_trip()
    {
        var cc = new NewRenoController(Shipped.MaxWindow, initialWindow: 40);
        cc.OnLoss(0, 100); // ssthresh = cwnd = 20
        Assert.Equal(20, cc.CongestionWindow);
        Assert.False(cc.InSlowStart);
        cc.OnAck(0, 20, null, 0);
        Assert.Equal(21, cc.CongestionWindow, 9);
        // Per-segment acks: Σ 1/cwnd over a window's worth adds just under one segment.
        for (var i = 0; i < 21; i++)
            cc.OnAck(0, 1, null, 0);
        Assert.InRange(cc.CongestionWindow, 21.9, 22.0);
        Assert.Equal(21, cc.Window);
    }

    [Fact]
    public void Slow_start_stops_at_ssthresh_and_continues_linearly()
    {
        var cc = new NewRenoController(Shipped.MaxWindow, initialWindow: 40);
        cc.OnLoss(0, 1); // ssthresh 20
        cc.OnRetransmissionTimeout(2); // ssthresh 10, cwnd 1
        Assert.Equal(1, cc.Window);
        Assert.Equal(10, cc.SlowStartThreshold);
        cc.OnAck(0, 19, null, 0); // 9 in slow start → 10, then 10 / 10 = +1
        Assert.Equal(11, cc.CongestionWindow, 9);
    }

    [Fact]
    public void Several_losses_of_one_event_halve_only_once()
    {
        var cc = new NewRenoController(Shipped.MaxWindow, initialWindow: 64);
        // Transmissions 0..63 are in flight; three of them are lost.
        cc.OnLoss(lostTransmissionNumber: 5, nextTransmissionNumber: 64);
        cc.OnLoss(lostTransmissionNumber: 9, nextTransmissionNumber: 65);
        cc.OnLoss(lostTransmissionNumber: 63, nextTransmissionNumber: 66);
        Assert.Equal(32, cc.Window);
        Assert.Equal(1, cc.LossEvents);

        // A loss of something sent after the reaction is a new event.
        cc.OnLoss(lostTransmissionNumber: 64, nextTransmissionNumber: 100);
        Assert.Equal(16, cc.Window);
        Assert.Equal(2, cc.LossEvents);
    }

    [Fact]
    public void Ssthresh_never_drops_below_two()
    {
        var cc = new NewRenoController(Shipped.MaxWindow, initialWindow: 2);
        for (var i = 0; i < 5; i++)
            cc.OnLoss(i * 10, i * 10 + 10);
        Assert.Equal(2, cc.SlowStartThreshold);
        Assert.Equal(2, cc.Window);
    }

    [Fact]
    public void Timeout_collapses_to_one_segment()
    {
        var cc = new NewRenoController(Shipped.MaxWindow, initialWindow: 100);
        cc.OnRetransmissionTimeout(100);
        Assert.Equal(1, cc.Window);
        Assert.Equal(50, cc.SlowStartThreshold);
        // Losses of transmissions sent before the timeout belong to it.
        cc.OnLoss(50, 101);
        Assert.Equal(50, cc.SlowStartThreshold);
        Assert.Equal(1, cc.Window);
    }

    [Fact]
    public void Window_respects_receiver_window_and_maximum()
    {
        var cc = new NewRenoController(maxWindow: 100, initialWindow: 10);
        Assert.Equal(4, cc.AllowedInFlight(4));
        Assert.Equal(10, cc.AllowedInFlight(1000));
        Assert.Equal(0, cc.AllowedInFlight(0));
        cc.OnAck(0, 10_000, null, 0);
        Assert.Equal(100, cc.Window);
    }
}
