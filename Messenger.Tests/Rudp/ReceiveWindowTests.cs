using Messenger.Rudp;

namespace Messenger.Tests.Rudp;

public class ReceiveWindowTests
{
    private static SackRange[] Ranges(ReceiveWindow window, int max = RudpConstants.MaxSackRanges)
    {
        var buffer = new SackRange[max];
        return buffer[..window.WriteSackRanges(buffer)];
    }

    [Fact]
    public void In_order_segments_are_delivered()
    {
        var window = new ReceiveWindow(5, capacity: 10);
        for (uint i = 0; i < 5; i++)
        {
            Assert.Equal(AcceptResult.Delivered, window.Accept(i));
            Assert.Equal((int)i + 1, window.CumulativeAck);
        }
        Assert.True(window.IsComplete);
        Assert.Empty(Ranges(window));
        Assert.Equal(10, window.AdvertisedWindow);
    }

    [Fact]
    public void Empty_file_is_complete_and_rejects_everything()
    {
        var window = new ReceiveWindow(0, capacity: 8);
        Assert.True(window.IsComplete);
        Assert.Equal(AcceptResult.OutOfWindow, window.Accept(0));
    }

    [Fact]
    public void Out_of_order_segments_are_buffered_then_delivered_together()
    {
        var window = new ReceiveWindow(10, capacity: 8);
        Assert.Equal(AcceptResult.Buffered, window.Accept(2));
        Assert.Equal(AcceptResult.Buffered, window.Accept(3));
        Assert.Equal(AcceptResult.Buffered, window.Accept(5));
        Assert.Equal(0, window.CumulativeAck);
        Assert.Equal(3, window.BufferedCount);
        Assert.Equal(5, window.AdvertisedWindow);
        Assert.Equal([new SackRange(2, 4), new SackRange(5, 6)], Ranges(window));

        Assert.Equal(AcceptResult.Buffered, window.Accept(1));
        Assert.Equal(AcceptResult.Delivered, window.Accept(0)); // delivers 0..3
        Assert.Equal(4, window.CumulativeAck);
        Assert.Equal(1, window.BufferedCount);
        Assert.Equal([new SackRange(5, 6)], Ranges(window));
    }

    [Fact]
    public void Duplicates_are_detected_below_and_above_the_cumulative_ack()
    {
        var window = new ReceiveWindow(10, capacity: 8192);
        window.Accept(0);
        window.Accept(4);
        Assert.Equal(AcceptResult.Duplicate, window.Accept(0));
        Assert.Equal(AcceptResult.Duplicate, window.Accept(4));
        Assert.Equal(2, window.ReceivedCount);
        Assert.Equal(1, window.BufferedCount);
    }

    [Fact]
    public void Segments_beyond_the_window_or_the_file_are_refused()
    {
        var window = new ReceiveWindow(100, capacity: 4);
        Assert.Equal(AcceptResult.Buffered, window.Accept(3));
        Assert.Equal(AcceptResult.OutOfWindow, window.Accept(4));
        Assert.Equal(AcceptResult.OutOfWindow, window.Accept(100));
        Assert.Equal(AcceptResult.OutOfWindow, window.Accept(uint.MaxValue));
        window.Accept(0);
        Assert.Equal(AcceptResult.Buffered, window.Accept(4)); // window slid
        Assert.False(window.IsReceived(5));
    }

    [Fact]
    public void Ranges_cross_word_boundaries_and_stop_at_the_maximum()
    {
        var window = new ReceiveWindow(1000, capacity: 1000);
        for (uint i = 60; i < 140; i++)
            window.Accept(i);
        window.Accept(199);
        window.Accept(999);
        Assert.Equal([new SackRange(60, 140), new SackRange(199, 200), new SackRange(999, 1000)], Ranges(window));

        var sparse = new ReceiveWindow(1000, capacity: 1000);
        for (uint i = 1; i < 400; i += 2)
            sparse.Accept(i);
        var ranges = Ranges(sparse, max: 64);
        Assert.Equal(64, ranges.Length); // a short destination takes the lowest runs
        Assert.Equal(new SackRange(1, 2), ranges[0]);
        Assert.Equal(new SackRange(127, 128), ranges[^1]);
        Assert.Equal(200, Ranges(sparse).Length); // a full-size one takes them all
    }

    [Fact]
    public void Random_arrival_order_completes()
    {
        const int count = 5000;
        var order = Enumerable.Range(0, count).Select(i => (uint)i).ToArray();
        new Random(3).Shuffle(order);
        var window = new ReceiveWindow(count, capacity: count);
        foreach (var seq in order)
            Assert.NotEqual(AcceptResult.Duplicate, window.Accept(seq));
        Assert.True(window.IsComplete);
        Assert.Equal(0, window.BufferedCount);
        Assert.Equal(count, window.ReceivedCount);
    }
}
