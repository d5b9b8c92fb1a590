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
/// <para>Cost: per-segment state only for the segments from the cumulative ack up to
/// <c>capacity</c> beyond it, in rings of capacity + 1 slots indexed by sequence mod (capacity + 1)
/// (25 bytes a slot: ~200 KB for 8,192 segments, whatever the file's size); no new segment is
/// offered beyond the cumulative ack + capacity. A slot is reset when the segment that takes it
/// becomes the next new one, so the segments just below the cumulative ack keep theirs for
/// <see cref="ConfirmDelivery"/>. Acks skip already-acknowledged runs through a "next unacked" union-find with path compression,
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
    private readonly int _span; // segments tracked beyond the cumulative ack: min(capacity, segment count)
    private readonly int _slots; // _span + 1: the sentinel at CumulativeAck + _span has its own slot
    private readonly ulong _slotsMultiplier; // for FastMod
    private readonly SegmentState[] _state;
    private readonly long[] _lastTransmission;
    private readonly long[] _sendTimeMicros;
    private readonly int[] _transmissionCount;
    private readonly int[] _nextUnacked; // union-find over absolute sequences: smallest unacked one ≥ i

    private int[] _fifoSequence;
    private long[] _fifoTransmission;
    private int _fifoHead;
    private int _fifoCount;

    private int[] _lostHeap;
    private int _lostHeapCount;

    private int _nextNew;

    /// <summary>
    /// Creates the bookkeeping for a file of <paramref name="segmentCount"/> segments, of which at
    /// most <paramref name="capacity"/> from the cumulative ack on are ever tracked (sent and not
    /// yet cumulatively acknowledged).
    /// </summary>
    public SendWindow(int segmentCount, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(segmentCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        SegmentCount = segmentCount;
        _span = Math.Min(capacity, segmentCount);
        _slots = _span + 1;
        _slotsMultiplier = ulong.MaxValue / (uint)_slots + 1;
        _state = new SegmentState[_slots];
        _lastTransmission = new long[_slots];
        _sendTimeMicros = new long[_slots];
        _transmissionCount = new int[_slots];
        _nextUnacked = new int[_slots];
        for (var i = 0; i < _slots; i++)
            _nextUnacked[i] = i;
        var initial = Math.Clamp(_span, 16, 1024);
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
    public SegmentState GetState(int sequence) =>
        sequence < CumulativeAck ? SegmentState.Acked : sequence >= _nextNew ? SegmentState.NotSent : _state[Slot(sequence)];

    /// <summary>How many times a segment not yet cumulatively acknowledged has been transmitted (&gt; 0 means the next send is a retransmission).</summary>
    public int GetTransmissionCount(int sequence) => Tracked(sequence) ? _transmissionCount[Slot(sequence)] : 0;

    /// <summary>Time of the latest transmission of a segment not yet cumulatively acknowledged.</summary>
    public long GetSendTimeMicros(int sequence) => Tracked(sequence) ? _sendTimeMicros[Slot(sequence)] : 0;

    /// <summary>Segments from the cumulative ack on that may be sent and not cumulatively acknowledged at once.</summary>
    public int Capacity => _span;

    private bool Tracked(int sequence) => sequence >= CumulativeAck && sequence < _nextNew;

    /// <summary>The ring slot of <paramref name="sequence"/>: sequence mod (capacity + 1), by Lemire's fastmod (no division on the ack path).</summary>
    private int Slot(int sequence) =>
        (int)(((((_slotsMultiplier * (uint)sequence) >> 32) + 1) * (uint)_slots) >> 32);

    /// <summary>
    /// The segment to transmit next, or −1: a lost segment (lowest sequence first) before any new
    /// one, and nothing while <see cref="InFlight"/> ≥ <paramref name="windowLimit"/>. New segments
    /// are also held back at <paramref name="sequenceLimit"/> (e.g. cumulative ack + receiver buffer size)
    /// and at the cumulative ack + <see cref="Capacity"/>.
    /// Does not change state; call <see cref="MarkSent"/> once the datagram is out.
    /// </summary>
    public int NextToSend(int windowLimit, int sequenceLimit = int.MaxValue)
    {
        if (InFlight >= windowLimit)
            return -1;
        while (_lostHeapCount > 0 && GetState(_lostHeap[0]) != SegmentState.Lost)
            PopLost(); // stale: acknowledged (spurious loss) or already resent
        if (_lostHeapCount > 0)
            return _lostHeap[0];
        return _nextNew < SegmentCount && _nextNew < sequenceLimit && _nextNew < (long)CumulativeAck + _span ? _nextNew : -1;
    }

    /// <summary>
    /// Records a transmission of <paramref name="sequence"/> at <paramref name="nowMicros"/> and returns its
    /// transmission number. New segments must be sent in order; acknowledged ones cannot be sent.
    /// </summary>
    public long MarkSent(int sequence, long nowMicros)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sequence);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(sequence, SegmentCount);
        switch (GetState(sequence))
        {
            case SegmentState.Acked:
                throw new InvalidOperationException($"Segment {sequence} is already acknowledged.");
            case SegmentState.NotSent:
                if (sequence != _nextNew)
                    throw new InvalidOperationException($"New segments go out in order: expected {_nextNew}, got {sequence}.");
                if (sequence >= (long)CumulativeAck + _span)
                    throw new InvalidOperationException($"Segment {sequence} is beyond the cumulative ack {CumulativeAck} + capacity {_span}.");
                _nextNew++;
                ResetSlot(_nextNew); // the next new one (or the end's sentinel) takes a slot from below the cumulative ack
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
        var slot = Slot(sequence);
        _state[slot] = SegmentState.InFlight;
        _lastTransmission[slot] = transmission;
        _sendTimeMicros[slot] = nowMicros;
        _transmissionCount[slot]++;
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
            AckRun((int)Math.Max(range.Start, (uint)CumulativeAck), (int)range.End, ref newlyAcked, ref highest);
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
        // Sent, and its slot not yet taken by a later segment (true from the segment below the cumulative ack on).
        if (sequence >= (uint)_nextNew || sequence + (long)_slots <= _nextNew) return;
        var slot = Slot((int)sequence);
        if (_transmissionCount[slot] == 0) return;
        if (WireTimestamp.Of(_sendTimeMicros[slot]) != echoedTimestamp) return; // an older copy, or a forged echo
        if (_lastTransmission[slot] > HighestAckedTransmission)
            HighestAckedTransmission = _lastTransmission[slot];
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
        if (sequence < SegmentCount && GetState(sequence) == SegmentState.InFlight)
            MarkLost(sequence); // its FIFO entry goes stale
    }

    private void AckRun(int start, int end, ref int newlyAcked, ref long highest)
    {
        for (var i = Find(start); i < end; i = Find(i + 1))
        {
            var slot = Slot(i);
            switch (_state[slot])
            {
                case SegmentState.InFlight: InFlight--; break;
                case SegmentState.Lost: LostCount--; break; // spurious loss; its heap entry goes stale
            }
            _state[slot] = SegmentState.Acked;
            _nextUnacked[slot] = i + 1;
            AckedCount++;
            newlyAcked++;
            // Only a segment sent once says which transmission arrived. For a retransmitted one the
            // ack may be for the original copy; crediting the latest transmission would make every
            // segment sent in between look overtaken, and declare them lost (a spurious cascade).
            if (_transmissionCount[slot] == 1 && _lastTransmission[slot] > highest)
                highest = _lastTransmission[slot];
        }
    }

    /// <summary>Smallest unacknowledged segment ≥ <paramref name="i"/> (i from the cumulative ack up to the next new segment).</summary>
    private int Find(int i)
    {
        var root = i;
        while (_nextUnacked[Slot(root)] != root)
            root = _nextUnacked[Slot(root)];
        while (_nextUnacked[Slot(i)] != root)
        {
            var slot = Slot(i);
            i = _nextUnacked[slot];
            _nextUnacked[slot] = root;
        }
        return root;
    }

    /// <summary>Gives <paramref name="sequence"/>'s slot to it, never sent.</summary>
    private void ResetSlot(int sequence)
    {
        var slot = Slot(sequence);
        _state[slot] = SegmentState.NotSent;
        _lastTransmission[slot] = 0;
        _sendTimeMicros[slot] = 0;
        _transmissionCount[slot] = 0;
        _nextUnacked[slot] = sequence;
    }

    private void MarkLost(int sequence)
    {
        _state[Slot(sequence)] = SegmentState.Lost;
        InFlight--;
        LostCount++;
        PushLost(sequence);
    }

    private bool IsStale(int sequence, long transmission) =>
        GetState(sequence) != SegmentState.InFlight || _lastTransmission[Slot(sequence)] != transmission;

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
