namespace Messenger.Rudp;

/// <summary>Body of a Data datagram: one file segment, viewed in place in the datagram buffer.</summary>
public readonly ref struct DataSegment
{
    /// <summary>Creates a segment view.</summary>
    public DataSegment(uint sequence, uint timestamp, bool isRetransmission, ReadOnlySpan<byte> payload)
    {
        Sequence = sequence;
        Timestamp = timestamp;
        IsRetransmission = isRetransmission;
        Payload = payload;
    }

    /// <summary>Segment index 0..n−1; the payload belongs at file offset Sequence × payload size.</summary>
    public uint Sequence { get; }

    /// <summary>Sender clock in microseconds truncated to 32 bits, echoed back for RTT measurement.</summary>
    public uint Timestamp { get; }

    /// <summary>True when the sender had transmitted this segment before.</summary>
    public bool IsRetransmission { get; }

    /// <summary>1..<see cref="RudpConstants.MaxPayload"/> bytes of file content.</summary>
    public ReadOnlySpan<byte> Payload { get; }
}
