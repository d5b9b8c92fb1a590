using BenchmarkDotNet.Attributes;
using Messenger.Rudp;

namespace Messenger.Bench.Micro;

/// <summary>
/// Selective-repeat bookkeeping over 4,096 segments per operation (figures are per 4,096):
/// send all, then acknowledge with a cumulative ack per segment or with SACK ranges around holes.
/// </summary>
[MemoryDiagnoser]
public class WindowBenchmarks
{
    private const int Segments = 4096;
    private readonly SackRange[] _sack = new SackRange[RudpConstants.MaxSackRanges];

    [Benchmark(Description = "SendWindow send+cum-ack x4096")]
    public int SendWindowInOrder()
    {
        var window = new SendWindow(Segments, Segments);
        for (int i = 0; i < Segments; i++)
        {
            window.MarkSent(window.NextToSend(int.MaxValue), i);
            if (i >= 64) window.ApplyAck((uint)(i - 63), ReadOnlySpan<SackRange>.Empty);
        }
        window.ApplyAck(Segments, ReadOnlySpan<SackRange>.Empty);
        return window.AckedCount;
    }

    [Benchmark(Description = "SendWindow SACK+loss x4096")]
    public int SendWindowWithHoles()
    {
        var window = new SendWindow(Segments, Segments);
        for (int i = 0; i < Segments; i++) window.MarkSent(window.NextToSend(int.MaxValue), i);
        // Every 100th segment lost: SACK everything above the first hole, in one range per gap.
        for (uint start = 0; start < Segments; start += 100)
        {
            var ranges = _sack.AsSpan(0, 1);
            ranges[0] = new SackRange(start + 1, Math.Min(start + 100, Segments));
            window.ApplyAck(0, ranges);
            window.DetectLosses(RudpConstants.DefaultReorderThreshold, out _);
        }
        int next;
        while ((next = window.NextToSend(int.MaxValue)) >= 0 && window.GetState(next) == SegmentState.Lost) window.MarkSent(next, 1);
        window.ApplyAck(Segments, ReadOnlySpan<SackRange>.Empty);
        return window.AckedCount;
    }

    [Benchmark(Description = "ReceiveWindow accept+SACK x4096")]
    public int ReceiveWindowWithHoles()
    {
        var window = new ReceiveWindow(Segments, Segments);
        int ranges = 0;
        for (uint i = 0; i < Segments; i++)
        {
            if (i % 100 == 50) continue; // hole, filled below
            window.Accept(i);
            ranges += window.WriteSackRanges(_sack);
        }
        for (uint i = 50; i < Segments; i += 100) window.Accept(i);
        return ranges + window.CumulativeAck;
    }
}

/// <summary>Congestion controllers: 4,096 acknowledgements per operation, with an RTT sample each.</summary>
[MemoryDiagnoser]
public class CongestionBenchmarks
{
    private const int Acks = 4096;

    [Benchmark(Description = "NewReno.OnAck x4096")]
    public int NewReno()
    {
        var cc = new NewRenoController();
        for (int i = 0; i < Acks; i++)
        {
            cc.OnAck(i * 100L, 1, 20_000 + (i & 255), 64);
            if (i % 1000 == 999) cc.OnLoss(i, i + 64);
        }
        return cc.Window;
    }

    [Benchmark(Description = "RateBased.OnAck x4096")]
    public int RateBased()
    {
        var cc = new RateBasedController();
        for (int i = 0; i < Acks; i++)
        {
            cc.OnAck(i * 100L, 1, 20_000 + (i & 255), 64);
            if (i % 1000 == 999) cc.OnLoss(i, i + 64);
        }
        return cc.Window;
    }
}
