namespace Messenger.Rudp;

/// <summary>
/// Body of a SynAck: what the client is about to receive, so it can preallocate the file, size its
/// bitmap and verify the digest at the end.
/// </summary>
public readonly ref struct SynAckBody
{
    /// <summary>Creates a body view.</summary>
    public SynAckBody(long fileSize, ReadOnlySpan<byte> sha256, int segmentPayloadSize, int segmentCount)
    {
        FileSize = fileSize;
        Sha256 = sha256;
        SegmentPayloadSize = segmentPayloadSize;
        SegmentCount = segmentCount;
    }

    /// <summary>File size in bytes.</summary>
    public long FileSize { get; }

    /// <summary>SHA-256 of the whole file (a view into the datagram).</summary>
    public ReadOnlySpan<byte> Sha256 { get; }

    /// <summary>Payload bytes of every segment except possibly the last.</summary>
    public int SegmentPayloadSize { get; }

    /// <summary>Number of segments: ⌈FileSize / SegmentPayloadSize⌉ (validated by the codec).</summary>
    public int SegmentCount { get; }
}
