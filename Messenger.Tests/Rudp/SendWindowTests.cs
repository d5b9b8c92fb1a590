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
        var window = new SendWindow(0, 16);
        Assert.True(window.AllAcked);
        Assert.Equal(-1, window.NextToSend(10));
        window.OnTimeout();
        Assert.Equal(0, window.LostCount);
        Assert.True(window.ApplyAck(0, []).Accepted);
        Assert.False(window.ApplyAck(1, []).Accepted);
    }

    [Fact]
    public void Single_segment_round_trip()
    {
        var window = new SendWindow(1, 1);
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
        var window = new SendWindow(100, 100);
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
        var window = new SendWindow(100, 100);
        int seq;
        while ((seq = window.NextToSend(50, sequenceLimit: 4)) >= 0)
            window.MarkSent(seq, 0);
        Assert.Equal(4, window.InFlight);
    }

    [Fact]
    public void Out_of_order_sack_acks_only_the_ranges()
    {
        var window = new SendWindow(20, 20);
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
        var window = new SendWindow(20, 20);
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
        var window = new SendWindow(20, 20);
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
        var window = new SendWindow(10, 10);
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
        var window = new SendWindow(10, 10);
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
    public void An_ack_for_a_retransmitted_segment_does_not_declare_what_was_sent_meanwhile_lost()
    {
        var window = new SendWindow(20, 20);
        SendAll(window, 5); // segments 0..4 as tx 0..4
        window.OnTimeout(); // the timer fires early: segment 0 is presumed lost ...
        Assert.Equal(SegmentState.Lost, window.GetState(0));
        window.MarkSent(0, 1); // ... and resent as tx 5
        SendAll(window, 12); // segments 5..11 as tx 6..12, all still on their way
        // The original copy of 0 arrives: the ack cannot say which copy it was.
        window.ApplyAck(1, []);
        Assert.Equal(0, window.DetectLosses(3, out _)); // segments 1..11 are not presumed lost
        Assert.Equal(11, window.InFlight);
    }

    [Fact]
    public void An_echo_confirming_a_retransmission_lets_it_reveal_losses_sent_before_it()
    {
        var window = new SendWindow(8, 8);
        SendAll(window, 8, now: 10); // tx 0..7, all the data there is
        window.ApplyAck(0, [new SackRange(5, 8)]);
        Assert.Equal(5, window.DetectLosses(3, out _)); // 0..4 lost
        for (int seq = 0; seq < 5; seq++) window.MarkSent(seq, 100 + seq); // tx 8..12
        // Only the retransmission of 4 arrives. Its ack alone is ambiguous (which copy of 4?) ...
        window.ApplyAck(0, [new SackRange(4, 8)]);
        Assert.Equal(0, window.DetectLosses(3, out _));
        // ... but the echoed timestamp says it was the copy sent at 104 (tx 12): 0 (tx 8) and
        // 1 (tx 9) were sent three or more transmissions before it, so they are lost again.
        window.ConfirmDelivery(4, 104);
        Assert.Equal(2, window.DetectLosses(3, out _));
        Assert.Equal(SegmentState.Lost, window.GetState(0));
        Assert.Equal(SegmentState.Lost, window.GetState(1));
        Assert.Equal(SegmentState.InFlight, window.GetState(2));
        // An echo of the original copy (sent at 10) proves nothing about the retransmission.
        var before = window.HighestAckedTransmission;
        window.ConfirmDelivery(3, 13);
        Assert.Equal(before, window.HighestAckedTransmission);
    }

    [Fact]
    public void Lost_retransmission_is_detected()
    {
        var window = new SendWindow(10, 10);
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
        var window = new SendWindow(6, 6);
        SendAll(window, 6);
        window.ApplyAck(0, [new SackRange(1, 5)]);
        Assert.Equal(1, window.DetectLosses(3, out _));
        window.ApplyAck(6, []); // the "lost" segment arrived after all
        Assert.True(window.AllAcked);
        Assert.Equal(0, window.LostCount);
        Assert.Equal(-1, window.NextToSend(10));
    }

    [Fact]
    public void Timeout_marks_the_segment_at_the_cumulative_ack()
    {
        var window = new SendWindow(10, 10);
        SendAll(window, 5, now: 100);
        window.ApplyAck(1, [new SackRange(3, 4)]); // 0 and 3 acknowledged
        window.OnTimeout();
        Assert.Equal(SegmentState.Lost, window.GetState(1));
        Assert.Equal(SegmentState.InFlight, window.GetState(2)); // only the earliest unacknowledged one
        Assert.Equal(2, window.InFlight);
        window.OnTimeout(); // still waiting to be resent: nothing changes
        Assert.Equal(1, window.LostCount);
        Assert.Equal(1, window.NextToSend(10));

        // Its retransmission is acknowledged: that alone says nothing about 2 and 4.
        window.MarkSent(1, 200); // tx 5
        window.ApplyAck(2, [new SackRange(3, 4)]);
        Assert.Equal(0, window.DetectLosses(3, out _));
        // New segments sent after it and acknowledged do: 2 and 4 were overtaken.
        SendAll(window, 10); // segments 5..9 as tx 6..10
        window.ApplyAck(2, [new SackRange(3, 4), new SackRange(5, 10)]);
        Assert.Equal(2, window.DetectLosses(3, out _));
        Assert.Equal(SegmentState.Lost, window.GetState(2));
        Assert.Equal(SegmentState.Lost, window.GetState(4));
    }

    [Fact]
    public void Timeout_with_nothing_in_flight_does_nothing()
    {
        var window = new SendWindow(3, 3);
        window.OnTimeout();
        Assert.Equal(0, window.LostCount);
        Assert.Equal(0, window.InFlight);
    }

    [Fact]
    public void Misuse_throws()
    {
        var window = new SendWindow(3, 3);
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
        var window = new SendWindow(segments, segments);
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
            else
            {
                window.OnTimeout();
                Assert.True(window.NextToSend(int.MaxValue) >= 0, "stuck");
            }
        }
        Assert.True(window.AllAcked);
        Assert.True(receiver.IsComplete);
    }

    [Fact]
    public void No_new_segment_goes_beyond_the_cumulative_ack_plus_capacity_whatever_is_sacked()
    {
        var window = new SendWindow(100, 8);
        for (int i = 0; i < 8; i++) window.MarkSent(window.NextToSend(int.MaxValue), i);
        Assert.Equal(-1, window.NextToSend(int.MaxValue));
        Assert.Throws<InvalidOperationException>(() => window.MarkSent(8, 8));
        window.ApplyAck(0, [new SackRange(1, 8)]); // all but the hole at 0: still nothing new
        Assert.Equal(-1, window.NextToSend(int.MaxValue));
        window.ApplyAck(8, []);
        Assert.Equal(8, window.NextToSend(int.MaxValue));
    }

    [Fact]
    public void A_window_for_the_largest_file_holds_state_for_its_capacity_only()
    {
        // 2^31 − 1 segments of state would be 50 GB; this holds 8,193 slots and wraps them many times.
        var window = new SendWindow(int.MaxValue, 8192);
        long now = 0;
        for (int round = 0; round < 5; round++)
        {
            int first = window.CumulativeAck, sent = 0;
            for (int seq; (seq = window.NextToSend(int.MaxValue)) >= 0; sent++) window.MarkSent(seq, now++);
            Assert.Equal(8192, sent);
            window.ApplyAck((uint)(first + 4096), [new SackRange((uint)(first + 4097), (uint)(first + 8192))]);
            Assert.Equal(SegmentState.InFlight, window.GetState(first + 4096));
            window.ApplyAck((uint)(first + 8192), []);
            Assert.Equal(first + 8192, window.CumulativeAck);
            Assert.Equal(0, window.InFlight);
        }
    }

    /// <summary>
    /// The ring (capacity 64) against the same window over the whole file, driven by one seeded lossy,
    /// reordering link whose receiver holds 64: every decision, ack and loss must be the same.
    /// </summary>
    [Theory]
    [InlineData(1, 0.05)]
    [InlineData(2, 0.2)]
    public void A_ring_window_decides_exactly_as_a_window_over_the_whole_file(int seed, double loss)
    {
        const int segments = 20_000, capacity = 64;
        var whole = new SendWindow(segments, segments);
        var ring = new SendWindow(segments, capacity);
        var receiver = new ReceiveWindow(segments, capacity);
        var random = new Random(seed);
        var ranges = new SackRange[RudpConstants.MaxSackRanges];
        var wire = new List<(int Sequence, uint Timestamp)>();
        long now = 0;
        for (int guard = 0; !whole.AllAcked && guard < 2_000_000; guard++)
        {
            now++;
            int limit = whole.CumulativeAck + capacity;
            int seq = whole.NextToSend(32, limit);
            Assert.Equal(seq, ring.NextToSend(32, limit));
            if (seq >= 0)
            {
                Assert.Equal(whole.GetTransmissionCount(seq), ring.GetTransmissionCount(seq));
                Assert.Equal(whole.MarkSent(seq, now), ring.MarkSent(seq, now));
                if (random.NextDouble() >= loss) wire.Add((seq, WireTimestamp.Of(now)));
                if (wire.Count < 4 && random.NextDouble() < 0.7) continue; // a few in flight at once
            }
            if (wire.Count == 0)
            {
                whole.OnTimeout();
                ring.OnTimeout();
                continue;
            }
            var (arrived, timestamp) = wire[random.Next(Math.Min(wire.Count, 3))]; // mild reordering
            wire.Remove((arrived, timestamp));
            receiver.Accept((uint)arrived);
            int n = receiver.WriteSackRanges(ranges);
            var a = whole.ApplyAck((uint)receiver.CumulativeAck, ranges.AsSpan(0, n));
            var b = ring.ApplyAck((uint)receiver.CumulativeAck, ranges.AsSpan(0, n));
            Assert.Equal(a, b);
            whole.ConfirmDelivery((uint)arrived, timestamp);
            ring.ConfirmDelivery((uint)arrived, timestamp);
            Assert.Equal(whole.DetectLosses(3, out long lostA), ring.DetectLosses(3, out long lostB));
            Assert.Equal(lostA, lostB);
            Assert.Equal((whole.CumulativeAck, whole.InFlight, whole.LostCount, whole.AckedCount, whole.HighestAckedTransmission),
                (ring.CumulativeAck, ring.InFlight, ring.LostCount, ring.AckedCount, ring.HighestAckedTransmission));
        }
        Assert.True(whole.AllAcked);
        Assert.True(ring.AllAcked);
    }
}
