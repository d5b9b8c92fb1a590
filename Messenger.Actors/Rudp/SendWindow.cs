namespace Messenger.Rudp;

/// <summary>
/// Sender-side bookkeeping for selective repeat: which segments are unsent, in flight, acked or
/// lost, and which one to transmit next.
/// </summary>
/// <remarks>
/// <para>Every transmission (first or retransmission) gets a transmission number from one
/// increasing counter. Loss detection is RACK-like: an in-flight segment is lost once a segment
/// transmitted at least <c>reorderThreshold</c> transmissions after it has been acknowledged. Because
/// the numbers order transmissions, not segments, a lost <i>retransmission</i> is detected the same way.</para>
/// <para>Cost: arrays sized by the segment count (≈ 21 bytes per segment, ~1 MB for 50,000 segments).
/// Acks skip already-acknowledged runs through a "next unacked" union-find with path compression,
/// so a SACK range repeated in every Ack costs near O(1), not O(range). In-flight transmissions sit
/// in a FIFO ordered by transmission number, so loss detection and "oldest in flight" are O(1)
/// amortized. Lost segments wait in a min-heap (lowest sequence first; O(log n) per loss only).</para>
/// <para>Timeout choice: <see cref="OnTimeout"/> marks only the segment at the cumulative ack lost
/// (RFC 6298 §5.4 "retransmit the earliest segment that has not been acknowledged"). Acks of
/// retransmitted segments never advance loss detection (the ack may be for the original copy), so a
/// timeout that fired early cannot set off a cascade of spurious retransmissions.</para>
/// </remarks>
public sealed class SendWindow
{
    private readonly SegmentState[] _state;
    private readonly long[] _lastTransmission;
    private readonly long[] _sendTimeMicros;
    private readonly int[] _transmissionCount;
    private readonly int[] _nextUnacked; // union-find: smallest unacked index ≥ i (index n is the sentinel)

    private int[] _fifoSequence;
    private long[] _fifoTransmission;
    private int _fifoHead;
    private int _fifoCount;

    private int[] _lostHeap;
    private int _lostHeapCount;

    private int _nextNew;

    /// <summary>Creates the bookkeeping for a file of <paramref name="segmentCount"/> segments.</summary>
    public SendWindow(int segmentCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(segmentCount);
        SegmentCount = segmentCount;
        _state = new SegmentState[segmentCount];
        _lastTransmission = new long[segmentCount];
        _sendTimeMicros = new long[segmentCount];
        _transmissionCount = new int[segmentCount];
        _nextUnacked = new int[segmentCount + 1];
        for (var i = 0; i <= segmentCount; i++)
            _nextUnacked[i] = i;
        var initial = Math.Clamp(segmentCount, 16, 1024);
        _fifoSequence = new int[initial];
        _fifoTransmission = new long[initial];
        _lostHeap = new int[16];
    }

    /// <summary>Total number of segments in the file.</summary>
    public int SegmentCount { get; }

    /// <summary>Lowest segment not yet acknowledged (equals <see cref="SegmentCount"/> when done).</summary>
    public int CumulativeAck { get; private set; }

    /// <summary>Segments transmitted and neither acknowledged nor declared lost.</summary>
    public int InFlight { get; private set; }

    /// <summary>Segments declared lost and not yet retransmitted.</summary>
    public int LostCount { get; private set; }

    /// <summary>Segments acknowledged so far.</summary>
    public int AckedCount { get; private set; }

    /// <summary>Every segment has been transmitted at least once: what is left to send is retransmissions.</summary>
    public bool EverySegmentSent => _nextNew == SegmentCount;

    /// <summary>Every segment has been acknowledged (true at once for an empty file).</summary>
    public bool AllAcked => AckedCount == SegmentCount;

    /// <summary>The transmission number the next <see cref="MarkSent"/> will return.</summary>
    public long NextTransmissionNumber { get; private set; }

    /// <summary>Highest transmission number known to have arrived (from segments sent only once), or −1.</summary>
    public long HighestAckedTransmission { get; private set; } = -1;

    /// <summary>State of one segment.</summary>
    public SegmentState GetState(int sequence) => _state[sequence];

    /// <summary>How many times the segment has been transmitted (&gt; 1 means the next send is a retransmission).</summary>
    public int GetTransmissionCount(int sequence) => _transmissionCount[sequence];

    /// <summary>Time of the segment's latest transmission.</summary>
    public long GetSendTimeMicros(int sequence) => _sendTimeMicros[sequence];

    /// <summary>
    /// The segment to transmit next, or −1: a lost segment (lowest sequence first) before any new
    /// one, and nothing while <see cref="InFlight"/> ≥ <paramref name="windowLimit"/>. New segments
    /// are also held back at <paramref name="sequenceLimit"/> (e.g. cumulative ack + receiver buffer size).
    /// Does not change state; call <see cref="MarkSent"/> once the datagram is out.
    /// </summary>
    public int NextToSend(int windowLimit, int sequenceLimit = int.MaxValue)
    {
        if (InFlight >= windowLimit)
            return -1;
        while (_lostHeapCount > 0 && _state[_lostHeap[0]] != SegmentState.Lost)
            PopLost(); // stale: acknowledged (spurious loss) or already resent
        if (_lostHeapCount > 0)
            return _lostHeap[0];
        return _nextNew < SegmentCount && _nextNew < sequenceLimit ? _nextNew : -1;
    }

    /// <summary>
    /// Records a transmission of <paramref name="sequence"/> at <paramref name="nowMicros"/> and returns its
    /// transmission number. New segments must be sent in order; acknowledged ones cannot be sent.
    /// </summary>
    public long MarkSent(int sequence, long nowMicros)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sequence);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(sequence, SegmentCount);
        switch (_state[sequence])
        {
            case SegmentState.Acked:
                throw new InvalidOperationException($"Segment {sequence} is already acknowledged.");
            case SegmentState.NotSent:
                if (sequence != _nextNew)
                    throw new InvalidOperationException($"New segments go out in order: expected {_nextNew}, got {sequence}.");
                _nextNew++;
                InFlight++;
                break;
            case SegmentState.Lost:
                if (_lostHeapCount > 0 && _lostHeap[0] == sequence)
                    PopLost();
                LostCount--;
                InFlight++;
                break;
            case SegmentState.InFlight:
                break; // forced early retransmission: the old transmission is superseded
        }

        var transmission = NextTransmissionNumber++;
        _state[sequence] = SegmentState.InFlight;
        _lastTransmission[sequence] = transmission;
        _sendTimeMicros[sequence] = nowMicros;
        _transmissionCount[sequence]++;
        PushFifo(sequence, transmission);
        return transmission;
    }

    /// <summary>
    /// Applies an Ack: everything below <paramref name="cumulativeAck"/> and inside the SACK ranges is
    /// acknowledged. Old and duplicate information is harmless. An Ack that covers segments never
    /// sent is rejected as a whole (nothing applied).
    /// </summary>
    public AckOutcome ApplyAck(uint cumulativeAck, ReadOnlySpan<SackRange> sackRanges)
    {
        if (cumulativeAck > (uint)_nextNew)
            return AckOutcome.Rejected;
        foreach (var range in sackRanges)
            if (range.End <= range.Start || range.End > (uint)_nextNew)
                return AckOutcome.Rejected;

        var newlyAcked = 0;
        var highest = -1L;
        AckRun(CumulativeAck, (int)cumulativeAck, ref newlyAcked, ref highest);
        foreach (var range in sackRanges)
            AckRun((int)range.Start, (int)range.End, ref newlyAcked, ref highest);
        CumulativeAck = Find(CumulativeAck);
        if (highest > HighestAckedTransmission)
            HighestAckedTransmission = highest;
        return new AckOutcome(true, newlyAcked, highest);
    }

    /// <summary>
    /// The receiver echoed the send timestamp of the datagram that triggered its Ack. When it is
    /// <paramref name="sequence"/>'s latest transmission, that transmission certainly arrived, even
    /// if it was a retransmission: loss detection may count it (see <see cref="DetectLosses"/>).
    /// This is what lets a burst of retransmissions (the tail of a lossy transfer) find its own
    /// losses without waiting for the timer.
    /// </summary>
    public void ConfirmDelivery(uint sequence, uint echoedTimestamp)
    {
        if (sequence >= (uint)SegmentCount || _transmissionCount[sequence] == 0) return;
        if (WireTimestamp.Of(_sendTimeMicros[sequence]) != echoedTimestamp) return; // an older copy, or a forged echo
        if (_lastTransmission[sequence] > HighestAckedTransmission)
            HighestAckedTransmission = _lastTransmission[sequence];
    }

    /// <summary>
    /// RACK-style loss detection: declares lost every in-flight segment whose latest transmission is at
    /// least <paramref name="reorderThreshold"/> transmissions older than the highest acknowledged one.
    /// Returns how many were declared lost, and the highest lost transmission number (−1 if none) so the
    /// caller can tell the congestion controller.
    /// </summary>
    public int DetectLosses(int reorderThreshold, out long highestLostTransmission)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(reorderThreshold);
        highestLostTransmission = -1;
        var limit = HighestAckedTransmission - reorderThreshold; // lost when transmission ≤ limit
        var lost = 0;
        while (_fifoCount > 0)
        {
            var sequence = _fifoSequence[_fifoHead];
            var transmission = _fifoTransmission[_fifoHead];
            if (IsStale(sequence, transmission))
            {
                PopFifo();
                continue;
            }
            if (transmission > limit)
                break;
            PopFifo();
            MarkLost(sequence);
            highestLostTransmission = transmission;
            lost++;
        }
        return lost;
    }

    /// <summary>
    /// The retransmission timer expired: declares the earliest unacknowledged segment (the one at
    /// the cumulative ack, RFC 6298 5.4) lost, unless nothing is in flight there. It is that
    /// segment, not the oldest transmission, because segments above it may have arrived already;
    /// and only it, because after a timeout nothing says what else is missing.
    /// </summary>
    public void OnTimeout()
    {
        var sequence = CumulativeAck;
        if (sequence < SegmentCount && _state[sequence] == SegmentState.InFlight)
            MarkLost(sequence); // its FIFO entry goes stale
    }

    private void AckRun(int start, int end, ref int newlyAcked, ref long highest)
    {
        for (var i = Find(Math.Max(start, 0)); i < end; i = Find(i + 1))
        {
            switch (_state[i])
            {
                case SegmentState.InFlight: InFlight--; break;
                case SegmentState.Lost: LostCount--; break; // spurious loss; its heap entry goes stale
            }
            _state[i] = SegmentState.Acked;
            _nextUnacked[i] = i + 1;
            AckedCount++;
            newlyAcked++;
            // Only a segment sent once says which transmission arrived. For a retransmitted one the
            // ack may be for the original copy; crediting the latest transmission would make every
            // segment sent in between look overtaken, and declare them lost (a spurious cascade).
            if (_transmissionCount[i] == 1 && _lastTransmission[i] > highest)
                highest = _lastTransmission[i];
        }
    }

    private int Find(int i)
    {
        var root = i;
        while (_nextUnacked[root] != root)
            root = _nextUnacked[root];
        while (_nextUnacked[i] != root)
        {
            var next = _nextUnacked[i];
            _nextUnacked[i] = root;
            i = next;
        }
        return root;
    }

    private void MarkLost(int sequence)
    {
        _state[sequence] = SegmentState.Lost;
        InFlight--;
        LostCount++;
        PushLost(sequence);
    }

    private bool IsStale(int sequence, long transmission) =>
        _state[sequence] != SegmentState.InFlight || _lastTransmission[sequence] != transmission;

    private void PushFifo(int sequence, long transmission)
    {
        if (_fifoCount == _fifoSequence.Length)
        {
            var seqs = new int[_fifoCount * 2];
            var txs = new long[_fifoCount * 2];
            for (var i = 0; i < _fifoCount; i++)
            {
                var at = (_fifoHead + i) % _fifoCount;
                seqs[i] = _fifoSequence[at];
                txs[i] = _fifoTransmission[at];
            }
            _fifoSequence = seqs;
            _fifoTransmission = txs;
            _fifoHead = 0;
        }
        var tail = (_fifoHead + _fifoCount) % _fifoSequence.Length;
        _fifoSequence[tail] = sequence;
        _fifoTransmission[tail] = transmission;
        _fifoCount++;
    }

    private void PopFifo()
    {
        _fifoHead = (_fifoHead + 1) % _fifoSequence.Length;
        _fifoCount--;
    }

    private void PushLost(int sequence)
    {
        if (_lostHeapCount == _lostHeap.Length)
            Array.Resize(ref _lostHeap, _lostHeap.Length * 2);
        var i = _lostHeapCount++;
        while (i > 0)
        {
            var parent = (i - 1) / 2;
            if (_lostHeap[parent] <= sequence)
                break;
            _lostHeap[i] = _lostHeap[parent];
            i = parent;
        }
        _lostHeap[i] = sequence;
    }

    private void PopLost()
    {
        var last = _lostHeap[--_lostHeapCount];
        var i = 0;
        while (true)
        {
            var child = 2 * i + 1;
            if (child >= _lostHeapCount)
                break;
            if (child + 1 < _lostHeapCount && _lostHeap[child + 1] < _lostHeap[child])
                child++;
            if (last <= _lostHeap[child])
                break;
            _lostHeap[i] = _lostHeap[child];
            i = child;
        }
        if (_lostHeapCount > 0)
            _lostHeap[i] = last;
    }
}

/// <summary>What applying one Ack to a <see cref="SendWindow"/> changed.</summary>
/// <param name="Accepted">False when the Ack acknowledged segments never sent (corrupt or hostile); nothing was applied.</param>
/// <param name="NewlyAcked">Segments acknowledged for the first time.</param>
/// <param name="HighestAckedTransmission">Highest transmission number among them, or −1 when none.</param>
public readonly record struct AckOutcome(bool Accepted, int NewlyAcked, long HighestAckedTransmission)
{
    /// <summary>The outcome of an Ack that was rejected.</summary>
    public static AckOutcome Rejected => new(false, 0, -1);
}

/// <summary>Where one segment stands from the sender's point of view.</summary>
public enum SegmentState : byte
{
    /// <summary>Never transmitted.</summary>
    NotSent,
    /// <summary>Transmitted, neither acknowledged nor declared lost.</summary>
    InFlight,
    /// <summary>Acknowledged (cumulatively or by SACK); final.</summary>
    Acked,
    /// <summary>Declared lost; waiting to be retransmitted.</summary>
    Lost,
}
