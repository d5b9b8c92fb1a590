namespace Messenger.Rudp;

// The reliable-UDP wire types: what RudpCodec reads and writes (layouts in docs/protocol.md).

/// <summary>Byte 1 of every datagram: what the rest of the datagram means.</summary>
public enum RudpPacketKind : byte
{
    /// <summary>Client → server: open a transfer with a ticket (padded to <see cref="RudpConstants.SynSize"/>).</summary>
    Syn = 1,
    /// <summary>Server → client: the transfer's file size, digest and segmentation.</summary>
    SynAck = 2,
    /// <summary>Client → server: handshake complete, start sending; carries the receiver window.</summary>
    HandshakeAck = 3,
    /// <summary>One file segment.</summary>
    Data = 4,
    /// <summary>Cumulative + selective acknowledgement.</summary>
    Ack = 5,
    /// <summary>Sender: everything was acknowledged, closing.</summary>
    Fin = 6,
    /// <summary>Receiver: close acknowledged.</summary>
    FinAck = 7,
    /// <summary>Abort the connection, with a reason.</summary>
    Rst = 8,
}

/// <summary>
/// The validated common header of a datagram, returned by <see cref="RudpCodec.TryRead"/>.
/// Once a header exists, the body has also been validated, so the typed body readers cannot fail.
/// </summary>
/// <param name="Kind">What the datagram is.</param>
/// <param name="Flags">Kind-specific flags (only <see cref="RudpConstants.RetransmissionFlag"/> is defined).</param>
/// <param name="ConnectionId">Connection the datagram belongs to (0 in a Syn).</param>
/// <param name="Length">Total datagram length in bytes.</param>
public readonly record struct RudpHeader(RudpPacketKind Kind, ushort Flags, uint ConnectionId, int Length)
{
    /// <summary>Data: the segment is a retransmission. Ack: the echoed segment was a retransmission.</summary>
    public bool IsRetransmission => (Flags & RudpConstants.RetransmissionFlag) != 0;
}

/// <summary>Why a connection was reset; carried as the single body byte of an Rst.</summary>
public enum RstReason : byte
{
    /// <summary>The Syn's ticket is unknown, expired or already used.</summary>
    BadTicket = 1,
    /// <summary>A datagram arrived for a connection id we do not know.</summary>
    UnknownConnection = 2,
    /// <summary>One side gave up (user cancelled, silence, no progress, too many retransmissions of one segment, the client's disk error).</summary>
    Aborted = 3,
    /// <summary>The server is at one of its limits: half-open handshakes, transfers in total or per client address.</summary>
    Busy = 4,
    /// <summary>The server could not read the file: it changed or vanished since the ticket was issued, or during the transfer.</summary>
    InternalError = 5,
}

/// <summary>
/// Body of a Syn: the ticket that authorises the transfer and the client's receive window.
/// A ref struct so reading it never copies the ticket out of the datagram buffer.
/// </summary>
public readonly ref struct SynBody
{
    /// <summary>Creates a body view.</summary>
    public SynBody(ReadOnlySpan<byte> ticket, uint receiverWindow)
    {
        Ticket = ticket;
        ReceiverWindow = receiverWindow;
    }

    /// <summary>The 16-byte transfer ticket (a view into the datagram).</summary>
    public ReadOnlySpan<byte> Ticket { get; }

    /// <summary>Segments the client can buffer out of order.</summary>
    public uint ReceiverWindow { get; }
}

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

/// <summary>
/// Fixed part of an Ack. <see cref="RudpCodec.ReadAck"/> turns the Ack's bitmap into SACK ranges
/// in a caller-owned span, so that reading an Ack allocates nothing.
/// </summary>
/// <param name="CumulativeAck">Next expected segment; every segment below it was received.</param>
/// <param name="ReceiveWindow">Segments the receiver can still buffer beyond the cumulative ack.</param>
/// <param name="EchoedTimestamp">Timestamp of the Data segment that triggered this Ack (RTT = now − echo).</param>
/// <param name="EchoedSequence">Sequence of that Data segment.</param>
/// <param name="EchoedRetransmission">That Data segment was a retransmission: do not take an RTT sample (Karn).</param>
/// <param name="SackRangeCount">Number of SACK ranges (runs of received segments) read from the bitmap.</param>
public readonly record struct AckBody(
    uint CumulativeAck,
    uint ReceiveWindow,
    uint EchoedTimestamp,
    uint EchoedSequence,
    bool EchoedRetransmission,
    int SackRangeCount);

/// <summary>
/// A run of segments [<paramref name="Start"/>, <paramref name="End"/>) received above the cumulative
/// ack. Ranges let the sender retransmit only what is actually missing (selective repeat).
/// </summary>
public readonly record struct SackRange(uint Start, uint End)
{
    /// <summary>Number of segments in the range.</summary>
    public uint Count => End - Start;
}

/// <summary>
/// Where every field sits in a datagram, by kind: the offsets of docs/protocol.md's
/// "Datagram layout" tables. All integers are big-endian.
/// </summary>
public static class RudpLayout
{
    /// <summary>The 12-byte header every datagram starts with.</summary>
    public static class Header
    {
        public const int Version = 0, Kind = 1, Flags = 2, ConnectionId = 4, Checksum = 8;
    }

    /// <summary>SYN: the ticket, the client's receive window, zero padding to 96 bytes.</summary>
    public static class Syn
    {
        public const int Ticket = 12, Window = Ticket + RudpConstants.TicketSize, Padding = Window + 4;
    }

    /// <summary>SYN-ACK: file size, SHA-256, payload bytes per segment, segment count.</summary>
    public static class SynAck
    {
        public const int FileSize = 12, Sha256 = FileSize + 8, PayloadSize = Sha256 + RudpConstants.Sha256Size, SegmentCount = PayloadSize + 2;
    }

    /// <summary>Handshake ACK: the client's receive window.</summary>
    public static class HandshakeAck
    {
        public const int Window = 12;
    }

    /// <summary>DATA: sequence, send timestamp, payload.</summary>
    public static class Data
    {
        public const int Sequence = 12, Timestamp = 16, Payload = 20;
    }

    /// <summary>ACK: cumulative ack, receive window, echoed timestamp and sequence, SACK bitmap.</summary>
    public static class Ack
    {
        public const int CumulativeAck = 12, Window = 16, EchoedTimestamp = 20, EchoedSequence = 24, Bitmap = 28;
    }

    /// <summary>RST: the reason byte.</summary>
    public static class Rst
    {
        public const int Reason = 12;
    }
}
