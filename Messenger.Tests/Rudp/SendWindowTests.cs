using Messenger.Rudp;

namespace Messenger.Tests.Rudp;

public class SendWindowTests
{
    private static void SendAll(SendWindow window, int limit, long now = 0)
    {
        int seq;
        while ((seq = window.NextToSend(limit)) >= 0)
            window.MarkSent(seq, now);
    }

    [Fact]
    public void Empty_file_is_done_at_once()
    {
        var window = new SendWindow(0);
        Assert.True(window.AllAcked);
        Assert.Equal(-1, window.NextToSend(10));
        Assert.Equal(-1, window.OnTimeout());
        Assert.True(window.ApplyAck(0, []).Accepted);
        Assert.False(window.ApplyAck(1, []).Accepted);
    }

    [Fact]
    public void Single_segment_round_trip()
    {
        var window = new SendWindow(1);
        Assert.Equal(0, window.NextToSend(10));
        Assert.Equal(0, window.MarkSent(0, 1234));
        Assert.Equal(SegmentState.InFlight, window.GetState(0));
        Assert.Equal(1234, window.GetSendTimeMicros(0));
        Assert.Equal(-1, window.NextToSend(10));
        var outcome = window.ApplyAck(1, []);
        Assert.Equal(new AckOutcome(true, 1, 0), outcome);
        Assert.True(window.AllAcked);
        Assert.Equal(0, window.InFlight);
        Assert.Equal(1, window.CumulativeAck);
    }

    [Fact]
    public void Window_limits_what_is_in_flight()
    {
        var window = new SendWindow(100);
        SendAll(window, 8);
        Assert.Equal(8, window.InFlight);
        Assert.Equal(-1, window.NextToSend(8));
        window.ApplyAck(3, []);
        Assert.Equal(5, window.InFlight);
        SendAll(window, 8);
        Assert.Equal(11, window.NextTransmissionNumber);
        Assert.Equal(8, window.InFlight);
    }

    [Fact]
    public void Sequence_limit_holds_back_new_segments()
    {
        var window = new SendWindow(100);
        int seq;
        while ((seq = window.NextToSend(50, sequenceLimit: 4)) >= 0)
            window.MarkSent(seq, 0);
        Assert.Equal(4, window.InFlight);
    }

    [Fact]
    public void Out_of_order_sack_acks_only_the_ranges()
    {
        var window = new SendWindow(20);
        SendAll(window, 20);
        var outcome = window.ApplyAck(2, [new SackRange(5, 8), new SackRange(10, 11)]);
        Assert.Equal(6, outcome.NewlyAcked);
        Assert.Equal(10, outcome.HighestAckedTransmission);
        Assert.Equal(2, window.CumulativeAck);
        Assert.Equal(SegmentState.InFlight, window.GetState(2));
        Assert.Equal(SegmentState.Acked, window.GetState(6));
        Assert.Equal(14, window.InFlight);

        // Filling the hole moves the cumulative ack over the SACKed run.
        outcome = window.ApplyAck(8, [new SackRange(10, 11)]);
        Assert.Equal(3, outcome.NewlyAcked);
        Assert.Equal(8, window.CumulativeAck);
    }

    [Fact]
    public void Duplicate_and_old_acks_change_nothing()
    {
        var window = new SendWindow(20);
        SendAll(window, 20);
        window.ApplyAck(10, [new SackRange(12, 14)]);
        var again = window.ApplyAck(10, [new SackRange(12, 14)]);
        Assert.Equal(new AckOutcome(true, 0, -1), again);
        var old = window.ApplyAck(4, []);
        Assert.Equal(0, old.NewlyAcked);
        Assert.Equal(10, window.CumulativeAck);
        Assert.Equal(8, window.InFlight);
    }

    [Fact]
    public void Ack_beyond_what_was_sent_is_rejected_whole()
    {
        var window = new SendWindow(20);
        SendAll(window, 5);
        Assert.False(window.ApplyAck(6, []).Accepted);
        Assert.False(window.ApplyAck(2, [new SackRange(3, 6)]).Accepted);
        Assert.False(window.ApplyAck(2, [new SackRange(3, 3)]).Accepted);
        Assert.Equal(0, window.AckedCount);
        Assert.Equal(0, window.CumulativeAck);
        Assert.True(window.ApplyAck(5, []).Accepted);
    }

    [Fact]
    public void Losses_are_detected_after_three_later_transmissions_are_acked()
    {
        var window = new SendWindow(10);
        SendAll(window, 10); // transmissions 0..9 = segments 0..9
        window.ApplyAck(0, [new SackRange(1, 3)]); // highest acked transmission 2
        Assert.Equal(0, window.DetectLosses(3, out _));
        window.ApplyAck(0, [new SackRange(1, 4)]); // highest acked 3 → transmission 0 is 3 older
        Assert.Equal(1, window.DetectLosses(3, out var highestLost));
        Assert.Equal(0, highestLost);
        Assert.Equal(SegmentState.Lost, window.GetState(0));
        Assert.Equal(1, window.LostCount);
        Assert.Equal(6, window.InFlight);

        // Retransmissions go first, even when the window has room for new segments.
        Assert.Equal(0, window.NextToSend(100));
        Assert.Equal(10, window.MarkSent(0, 5));
        Assert.Equal(2, window.GetTransmissionCount(0));
        Assert.Equal(0, window.LostCount);
    }

    [Fact]
    public void Lost_segments_are_resent_lowest_first()
    {
        var window = new SendWindow(10);
        SendAll(window, 10);
        window.ApplyAck(0, [new SackRange(2, 3), new SackRange(4, 5), new SackRange(9, 10)]);
        Assert.Equal(5, window.DetectLosses(3, out var highestLost)); // 0, 1, 3, 5, 6 (transmissions ≤ 6)
        Assert.Equal(6, highestLost);
        var order = new List<int>();
        int seq;
        while ((seq = window.NextToSend(100)) >= 0 && window.GetState(seq) == SegmentState.Lost)
        {
            order.Add(seq);
            window.MarkSent(seq, 1);
        }
        Assert.Equal([0, 1, 3, 5, 6], order);
    }

    [Fact]
    public void Lost_retransmission_is_detected()
    {
        var window = new SendWindow(10);
        SendAll(window, 4); // tx 0..3
        window.ApplyAck(0, [new SackRange(1, 4)]);
        Assert.Equal(1, window.DetectLosses(3, out _));
        var retransmission = window.MarkSent(0, 1); // tx 4
        Assert.Equal(4, retransmission);
        SendAll(window, 10); // segments 4..9 as tx 5..10
        // Segments 4..7 (tx 5..8) arrive, the retransmission of 0 does not.
        window.ApplyAck(0, [new SackRange(1, 8)]);
        Assert.Equal(1, window.DetectLosses(3, out var lostTx));
        Assert.Equal(4, lostTx);
        Assert.Equal(SegmentState.Lost, window.GetState(0));
        Assert.Equal(0, window.NextToSend(10));
    }

    [Fact]
    public void Spuriously_lost_segment_acked_later_is_not_resent()
    {
        var window = new SendWindow(6);
        SendAll(window, 6);
        window.ApplyAck(0, [new SackRange(1, 5)]);
        Assert.Equal(1, window.DetectLosses(3, out _));
        window.ApplyAck(6, []); // the "lost" segment arrived after all
        Assert.True(window.AllAcked);
        Assert.Equal(0, window.LostCount);
        Assert.Equal(-1, window.NextToSend(10));
    }

    [Fact]
    public void Timeout_marks_the_oldest_in_flight_transmission()
    {
        var window = new SendWindow(10);
        SendAll(window, 5, now: 100);
        window.ApplyAck(1, []);
        Assert.True(window.TryGetOldestInFlight(out var oldest, out var sentAt));
        Assert.Equal((1, 100L), (oldest, sentAt));
        Assert.Equal(1, window.OnTimeout());
        Assert.Equal(SegmentState.Lost, window.GetState(1));
        Assert.Equal(3, window.InFlight);
        Assert.True(window.TryGetOldestInFlight(out oldest, out _));
        Assert.Equal(2, oldest);

        // After the retransmission is acknowledged, everything sent before it is declared lost too.
        window.MarkSent(window.NextToSend(10), 200); // tx 5
        window.ApplyAck(2, []);
        // Highest acked transmission 5: transmission 2 (segment 2) is ≥ 3 older; 3 and 4 are not yet.
        Assert.Equal(1, window.DetectLosses(3, out _));
        Assert.Equal(SegmentState.Lost, window.GetState(2));
        Assert.Equal(SegmentState.InFlight, window.GetState(3));
    }

    [Fact]
    public void Timeout_with_nothing_in_flight_does_nothing()
    {
        var window = new SendWindow(3);
        Assert.Equal(-1, window.OnTimeout());
        Assert.False(window.TryGetOldestInFlight(out _, out _));
    }

    [Fact]
    public void Misuse_throws()
    {
        var window = new SendWindow(3);
        Assert.Throws<InvalidOperationException>(() => window.MarkSent(1, 0));
        window.MarkSent(0, 0);
        window.ApplyAck(1, []);
        Assert.Throws<InvalidOperationException>(() => window.MarkSent(0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => window.MarkSent(3, 0));
    }

    [Fact]
    public void Large_lossy_transfer_completes()
    {
        const int segments = 50_000;
        var window = new SendWindow(segments);
        var receiver = new ReceiveWindow(segments, capacity: 1024);
        var random = new Random(7);
        var ranges = new SackRange[RudpConstants.MaxSackRanges];
        long now = 0;
        var guard = 0;
        while (!window.AllAcked && guard++ < 1_000_000)
        {
            var seq = window.NextToSend(256, window.CumulativeAck + receiver.Capacity);
            if (seq >= 0)
            {
                window.MarkSent(seq, now++);
                if (random.NextDouble() < 0.05)
                    continue; // lost on the wire
                receiver.Accept((uint)seq);
                var n = receiver.WriteSackRanges(ranges);
                Assert.True(window.ApplyAck((uint)receiver.CumulativeAck, ranges.AsSpan(0, n)).Accepted);
                window.DetectLosses(RudpConstants.DefaultReorderThreshold, out _);
            }
            else if (window.OnTimeout() < 0)
            {
                Assert.Fail("stuck");
            }
        }
        Assert.True(window.AllAcked);
        Assert.True(receiver.IsComplete);
    }
}
