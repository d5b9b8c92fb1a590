using System.Numerics;

namespace Messenger.Rudp;

/// <summary>
/// Receiver-side bookkeeping: which segments arrived, the cumulative ack, the SACK ranges and the
/// window to advertise.
/// </summary>
/// <remarks>
/// <para>The receiver writes each payload straight to the file at sequence × payload size, so it
/// never has to reorder bytes; what matters is a bitmap of received segments (duplicate detection,
/// completion) and the acknowledgement state. The bitmap is one bit per segment, scanned a 64-bit word
/// at a time, so advancing the cumulative ack and building SACK ranges cost O(window / 64).</para>
/// <para><see cref="Capacity"/> bounds how far above the cumulative ack a segment may be accepted
/// ([cum, cum + capacity)); it models the memory the receiver is willing to dedicate to holes.</para>
/// <para>In-order delivery: after <see cref="Accept"/> returns <see cref="AcceptResult.Delivered"/>,
/// segments [previous <see cref="CumulativeAck"/>, new <see cref="CumulativeAck"/>) are complete in order.</para>
/// </remarks>
public sealed class ReceiveWindow
{
    private readonly ulong[] _received;
    private int _highestEnd; // one past the highest segment received

    /// <summary>Creates the bookkeeping for <paramref name="segmentCount"/> segments.</summary>
    public ReceiveWindow(int segmentCount, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(segmentCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        SegmentCount = segmentCount;
        Capacity = capacity;
        _received = new ulong[(segmentCount + 63) / 64];
    }

    /// <summary>Total number of segments in the file.</summary>
    public int SegmentCount { get; }

    /// <summary>How far above the cumulative ack segments are accepted.</summary>
    public int Capacity { get; }

    /// <summary>Next expected segment; every segment below it has been received.</summary>
    public int CumulativeAck { get; private set; }

    /// <summary>Segments received above the cumulative ack (out of order).</summary>
    public int BufferedCount { get; private set; }

    /// <summary>Distinct segments received.</summary>
    public int ReceivedCount { get; private set; }

    /// <summary>Window to advertise: segments we can still buffer beyond the cumulative ack.</summary>
    public int AdvertisedWindow => Capacity - BufferedCount;

    /// <summary>All segments received (true at once for an empty file).</summary>
    public bool IsComplete => CumulativeAck == SegmentCount;

    /// <summary>Whether a segment has been received.</summary>
    public bool IsReceived(int sequence) =>
        (uint)sequence < (uint)SegmentCount && (_received[sequence >> 6] & (1UL << sequence)) != 0;

    /// <summary>Records an arriving segment and says what to do with it.</summary>
    public AcceptResult Accept(uint sequence)
    {
        if (sequence >= (uint)SegmentCount)
            return AcceptResult.OutOfWindow;
        var s = (int)sequence;
        if (s < CumulativeAck || IsReceived(s))
            return AcceptResult.Duplicate;
        if ((long)s >= (long)CumulativeAck + Capacity)
            return AcceptResult.OutOfWindow;

        _received[s >> 6] |= 1UL << s;
        ReceivedCount++;
        if (s + 1 > _highestEnd)
            _highestEnd = s + 1;
        if (s != CumulativeAck)
        {
            BufferedCount++;
            return AcceptResult.Buffered;
        }

        var next = FindClear(s + 1, SegmentCount);
        BufferedCount -= next - s - 1;
        CumulativeAck = next;
        return AcceptResult.Delivered;
    }

    /// <summary>
    /// Writes the runs of segments received above the cumulative ack, lowest first, up to
    /// <paramref name="destination"/>'s length (use <see cref="RudpConstants.MaxSackRanges"/>); returns the count.
    /// </summary>
    public int WriteSackRanges(Span<SackRange> destination)
    {
        var count = 0;
        var i = CumulativeAck;
        while (count < destination.Length && i < _highestEnd)
        {
            var start = FindSet(i, _highestEnd);
            if (start >= _highestEnd)
                break;
            var end = FindClear(start, _highestEnd);
            destination[count++] = new SackRange((uint)start, (uint)end);
            i = end;
        }
        return count;
    }

    private int FindClear(int from, int limit)
    {
        var i = from;
        while (i < limit)
        {
            var word = ~_received[i >> 6] >> (i & 63);
            if (word != 0)
                return Math.Min(limit, i + BitOperations.TrailingZeroCount(word));
            i = ((i >> 6) + 1) << 6;
        }
        return limit;
    }

    private int FindSet(int from, int limit)
    {
        var i = from;
        while (i < limit)
        {
            var word = _received[i >> 6] >> (i & 63);
            if (word != 0)
                return Math.Min(limit, i + BitOperations.TrailingZeroCount(word));
            i = ((i >> 6) + 1) << 6;
        }
        return limit;
    }
}

/// <summary>What <see cref="ReceiveWindow.Accept"/> made of an arriving segment.</summary>
public enum AcceptResult
{
    /// <summary>It was the next expected segment: the cumulative ack advanced (possibly over buffered ones).</summary>
    Delivered,
    /// <summary>New, above a hole: kept (and SACKed) until the hole is filled.</summary>
    Buffered,
    /// <summary>Already received: drop it, but still acknowledge (the sender may have missed our Ack).</summary>
    Duplicate,
    /// <summary>Beyond the receive buffer or beyond the file: drop it without storing.</summary>
    OutOfWindow,
}
