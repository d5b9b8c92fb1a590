using System.Buffers.Binary;
using System.IO.Hashing;
using System.Numerics;

using L = Messenger.Rudp.RudpLayout;

namespace Messenger.Rudp;

/// <summary>
/// Encodes and decodes RUDP datagrams (big-endian, see docs/protocol.md, "Datagram layout").
/// </summary>
/// <remarks>
/// <para>Writers fill a caller-owned buffer and return the datagram length; they throw only on
/// programming errors (buffer too small, payload out of range). <see cref="TryRead"/> validates
/// a datagram completely (length, version, kind, CRC-32, flags and every body invariant) and
/// never throws: anything arriving from the network may be garbage or hostile. After it
/// succeeds, the typed body readers (<see cref="ReadSyn"/>, <see cref="ReadAck"/>, …) cannot fail.</para>
/// <para>Nothing here allocates: every per-datagram path works on spans.</para>
/// </remarks>
public static class RudpCodec
{
    [ThreadStatic] private static Crc32? _crc;

    // ---- Writers --------------------------------------------------------------------------

    /// <summary>Writes a Syn, zero-padded to exactly <see cref="RudpConstants.SynSize"/> bytes.</summary>
    public static int WriteSyn(Span<byte> dest, ReadOnlySpan<byte> ticket, uint receiverWindow)
    {
        if (ticket.Length != RudpConstants.TicketSize)
            throw new ArgumentException($"A ticket is exactly {RudpConstants.TicketSize} bytes.", nameof(ticket));
        var d = Begin(dest, RudpConstants.SynSize, RudpPacketKind.Syn, 0, 0);
        ticket.CopyTo(d[L.Syn.Ticket..]);
        BinaryPrimitives.WriteUInt32BigEndian(d[L.Syn.Window..], receiverWindow);
        d[L.Syn.Padding..].Clear();
        return Seal(d);
    }

    /// <summary>Writes a SynAck (58 bytes, smaller than the Syn it answers).</summary>
    public static int WriteSynAck(Span<byte> dest, uint connectionId, long fileSize, ReadOnlySpan<byte> sha256,
        int segmentPayloadSize, int segmentCount)
    {
        if (sha256.Length != RudpConstants.Sha256Size)
            throw new ArgumentException($"A SHA-256 digest is exactly {RudpConstants.Sha256Size} bytes.", nameof(sha256));
        ArgumentOutOfRangeException.ThrowIfNegative(fileSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(segmentPayloadSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(segmentPayloadSize, RudpConstants.MaxPayload);
        if (segmentCount != ExpectedSegmentCount(fileSize, segmentPayloadSize))
            throw new ArgumentException("Segment count must be ⌈fileSize / segmentPayloadSize⌉.", nameof(segmentCount));
        var d = Begin(dest, RudpConstants.SynAckSize, RudpPacketKind.SynAck, 0, connectionId);
        BinaryPrimitives.WriteUInt64BigEndian(d[L.SynAck.FileSize..], (ulong)fileSize);
        sha256.CopyTo(d[L.SynAck.Sha256..]);
        BinaryPrimitives.WriteUInt16BigEndian(d[L.SynAck.PayloadSize..], (ushort)segmentPayloadSize);
        BinaryPrimitives.WriteUInt32BigEndian(d[L.SynAck.SegmentCount..], (uint)segmentCount);
        return Seal(d);
    }

    /// <summary>Writes a HandshakeAck carrying the receiver window.</summary>
    public static int WriteHandshakeAck(Span<byte> dest, uint connectionId, uint receiverWindow)
    {
        var d = Begin(dest, RudpConstants.HandshakeAckSize, RudpPacketKind.HandshakeAck, 0, connectionId);
        BinaryPrimitives.WriteUInt32BigEndian(d[L.HandshakeAck.Window..], receiverWindow);
        return Seal(d);
    }

    /// <summary>Writes a Data datagram with 1..<see cref="RudpConstants.MaxPayload"/> payload bytes.</summary>
    public static int WriteData(Span<byte> dest, uint connectionId, uint sequence, uint timestamp,
        bool retransmission, ReadOnlySpan<byte> payload)
    {
        if (payload.Length is < 1 or > RudpConstants.MaxPayload)
            throw new ArgumentOutOfRangeException(nameof(payload), payload.Length,
                $"A Data payload is 1..{RudpConstants.MaxPayload} bytes.");
        var d = Begin(dest, RudpConstants.DataHeaderSize + payload.Length, RudpPacketKind.Data,
            retransmission ? RudpConstants.RetransmissionFlag : (ushort)0, connectionId);
        BinaryPrimitives.WriteUInt32BigEndian(d[L.Data.Sequence..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(d[L.Data.Timestamp..], timestamp);
        payload.CopyTo(d[L.Data.Payload..]);
        return Seal(d);
    }

    /// <summary>
    /// Writes an Ack. The SACK ranges (ascending, disjoint, above the cumulative ack, ending at most
    /// <see cref="RudpConstants.MaxAckBitmapSegments"/> segments above it) travel as a bitmap:
    /// bit i (byte i / 8, bit i % 8, least significant first) = segment cumulativeAck + 1 + i arrived.
    /// </summary>
    public static int WriteAck(Span<byte> dest, uint connectionId, uint cumulativeAck, uint receiveWindow,
        uint echoedTimestamp, uint echoedSequence, bool echoedRetransmission, ReadOnlySpan<SackRange> sackRanges)
    {
        long first = (long)cumulativeAck + 1; // segment of bit 0
        long previousEnd = cumulativeAck;
        foreach (var range in sackRanges)
        {
            if (range.Start <= previousEnd || range.End <= range.Start)
                throw new ArgumentException("SACK ranges must be ascending, disjoint, non-empty and above the cumulative ack.", nameof(sackRanges));
            if (range.End - first > RudpConstants.MaxAckBitmapSegments)
                throw new ArgumentOutOfRangeException(nameof(sackRanges), range.End,
                    $"An Ack describes at most {RudpConstants.MaxAckBitmapSegments} segments above the cumulative ack.");
            previousEnd = range.End;
        }
        int bitmapBytes = sackRanges.IsEmpty ? 0 : (int)((sackRanges[^1].End - first + 7) / 8);
        var d = Begin(dest, RudpConstants.AckFixedSize + bitmapBytes,
            RudpPacketKind.Ack, echoedRetransmission ? RudpConstants.RetransmissionFlag : (ushort)0, connectionId);
        BinaryPrimitives.WriteUInt32BigEndian(d[L.Ack.CumulativeAck..], cumulativeAck);
        BinaryPrimitives.WriteUInt32BigEndian(d[L.Ack.Window..], receiveWindow);
        BinaryPrimitives.WriteUInt32BigEndian(d[L.Ack.EchoedTimestamp..], echoedTimestamp);
        BinaryPrimitives.WriteUInt32BigEndian(d[L.Ack.EchoedSequence..], echoedSequence);
        var bitmap = d[L.Ack.Bitmap..];
        bitmap.Clear();
        foreach (var range in sackRanges)
            SetBits(bitmap, (int)(range.Start - first), (int)(range.End - first));
        return Seal(d);
    }

    private static void SetBits(Span<byte> bitmap, int from, int to)
    {
        while (from < to && (from & 7) != 0) { bitmap[from >> 3] |= (byte)(1 << (from & 7)); from++; }
        int wholeBytes = (to - from) >> 3;
        if (wholeBytes > 0)
        {
            bitmap.Slice(from >> 3, wholeBytes).Fill(0xFF);
            from += wholeBytes << 3;
        }
        while (from < to) { bitmap[from >> 3] |= (byte)(1 << (from & 7)); from++; }
    }

    /// <summary>Writes a Fin (header only).</summary>
    public static int WriteFin(Span<byte> dest, uint connectionId) =>
        Seal(Begin(dest, RudpConstants.FinSize, RudpPacketKind.Fin, 0, connectionId));

    /// <summary>Writes a FinAck (header only).</summary>
    public static int WriteFinAck(Span<byte> dest, uint connectionId) =>
        Seal(Begin(dest, RudpConstants.FinSize, RudpPacketKind.FinAck, 0, connectionId));

    /// <summary>Writes an Rst (13 bytes, smaller than any Syn it may answer).</summary>
    public static int WriteRst(Span<byte> dest, uint connectionId, RstReason reason)
    {
        if (!Enum.IsDefined(reason))
            throw new ArgumentOutOfRangeException(nameof(reason), reason, "Unknown reset reason.");
        var d = Begin(dest, RudpConstants.RstSize, RudpPacketKind.Rst, 0, connectionId);
        d[L.Rst.Reason] = (byte)reason;
        return Seal(d);
    }

    // ---- Reader ---------------------------------------------------------------------------

    /// <summary>
    /// Validates a received datagram. Returns false with a human-readable reason (a constant
    /// string, no allocation) when it must be dropped; never throws.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, out RudpHeader header, out string? error)
    {
        header = default;
        if (datagram.Length < RudpConstants.HeaderSize)
            return Fail(out error, "datagram shorter than the 12-byte header");
        if (datagram.Length > RudpConstants.MaxDatagram)
            return Fail(out error, "datagram longer than 1472 bytes");
        if (datagram[L.Header.Version] != RudpConstants.Version)
            return Fail(out error, "unsupported protocol version");
        var kind = (RudpPacketKind)datagram[L.Header.Kind];
        if (kind is < RudpPacketKind.Syn or > RudpPacketKind.Rst)
            return Fail(out error, "unknown datagram kind");
        var stored = BinaryPrimitives.ReadUInt32BigEndian(datagram[L.Header.Checksum..]);
        if (stored != ComputeChecksum(datagram))
            return Fail(out error, "checksum mismatch");
        var flags = BinaryPrimitives.ReadUInt16BigEndian(datagram[L.Header.Flags..]);
        var connectionId = BinaryPrimitives.ReadUInt32BigEndian(datagram[L.Header.ConnectionId..]);
        error = ValidateBody(kind, flags, connectionId, datagram);
        if (error is not null)
            return false;
        header = new RudpHeader(kind, flags, connectionId, datagram.Length);
        return true;
    }

    /// <summary>Reads a Syn body. Only valid after <see cref="TryRead"/> returned Syn.</summary>
    public static SynBody ReadSyn(ReadOnlySpan<byte> datagram) =>
        new(datagram.Slice(L.Syn.Ticket, RudpConstants.TicketSize), BinaryPrimitives.ReadUInt32BigEndian(datagram[L.Syn.Window..]));

    /// <summary>Reads a SynAck body. Only valid after <see cref="TryRead"/> returned SynAck.</summary>
    public static SynAckBody ReadSynAck(ReadOnlySpan<byte> datagram) =>
        new((long)BinaryPrimitives.ReadUInt64BigEndian(datagram[L.SynAck.FileSize..]),
            datagram.Slice(L.SynAck.Sha256, RudpConstants.Sha256Size),
            BinaryPrimitives.ReadUInt16BigEndian(datagram[L.SynAck.PayloadSize..]),
            (int)BinaryPrimitives.ReadUInt32BigEndian(datagram[L.SynAck.SegmentCount..]));

    /// <summary>Reads the receiver window of a HandshakeAck.</summary>
    public static uint ReadHandshakeAck(ReadOnlySpan<byte> datagram) =>
        BinaryPrimitives.ReadUInt32BigEndian(datagram[L.HandshakeAck.Window..]);

    /// <summary>Reads a Data body; the payload is a view into <paramref name="datagram"/>.</summary>
    public static DataSegment ReadData(ReadOnlySpan<byte> datagram) =>
        new(BinaryPrimitives.ReadUInt32BigEndian(datagram[L.Data.Sequence..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[L.Data.Timestamp..]),
            (BinaryPrimitives.ReadUInt16BigEndian(datagram[L.Header.Flags..]) & RudpConstants.RetransmissionFlag) != 0,
            datagram[L.Data.Payload..]);

    /// <summary>
    /// Reads an Ack, turning its bitmap back into SACK ranges (runs of received segments, lowest
    /// first) in <paramref name="rangesDestination"/>. Decoding stops once the destination is
    /// full: the ranges above are left out (a later Ack repeats them), so the work one Ack causes
    /// is bounded by the destination's length, however its bitmap alternates.
    /// </summary>
    public static AckBody ReadAck(ReadOnlySpan<byte> datagram, Span<SackRange> rangesDestination)
    {
        var cumulativeAck = BinaryPrimitives.ReadUInt32BigEndian(datagram[L.Ack.CumulativeAck..]);
        var bitmap = datagram[L.Ack.Bitmap..];
        uint first = cumulativeAck + 1;
        int count = 0;
        int runStart = -1;
        // 64 bits at a time: the bits where the bitmap changes from the bit before it (a run's
        // first and one-past-last) are word ^ (word << 1 | previous word's top bit), and each is
        // found with one TrailingZeroCount, so an Ack costs its ranges, not its bits.
        ulong carry = 0;
        for (int w = 0; w * 8 < bitmap.Length && count < rangesDestination.Length; w++)
        {
            ulong word = ReadBitmapWord(bitmap, w * 8);
            ulong edges = word ^ ((word << 1) | carry);
            carry = word >> 63;
            while (edges != 0 && count < rangesDestination.Length)
            {
                int bit = w * 64 + BitOperations.TrailingZeroCount(edges);
                edges &= edges - 1;
                if (runStart < 0) runStart = bit;
                else
                {
                    rangesDestination[count++] = new SackRange(first + (uint)runStart, first + (uint)bit);
                    runStart = -1;
                }
            }
        }
        if (runStart >= 0 && count < rangesDestination.Length)
            rangesDestination[count++] = new SackRange(first + (uint)runStart, first + (uint)(bitmap.Length * 8));
        return new AckBody(
            cumulativeAck,
            BinaryPrimitives.ReadUInt32BigEndian(datagram[L.Ack.Window..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[L.Ack.EchoedTimestamp..]),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[L.Ack.EchoedSequence..]),
            (BinaryPrimitives.ReadUInt16BigEndian(datagram[L.Header.Flags..]) & RudpConstants.RetransmissionFlag) != 0,
            count);
    }

    /// <summary>Bitmap bytes <paramref name="offset"/>.. as one little-endian word (bit i = byte i / 8, bit i % 8), zero past the end.</summary>
    private static ulong ReadBitmapWord(ReadOnlySpan<byte> bitmap, int offset)
    {
        if (bitmap.Length - offset >= 8) return BinaryPrimitives.ReadUInt64LittleEndian(bitmap[offset..]);
        Span<byte> tail = stackalloc byte[8];
        tail.Clear();
        bitmap[offset..].CopyTo(tail);
        return BinaryPrimitives.ReadUInt64LittleEndian(tail);
    }

    /// <summary>Reads the reason of an Rst.</summary>
    public static RstReason ReadRst(ReadOnlySpan<byte> datagram) => (RstReason)datagram[L.Rst.Reason];

    /// <summary>⌈fileSize / payloadSize⌉: the one segmentation rule both sides must agree on.</summary>
    public static long ExpectedSegmentCount(long fileSize, int segmentPayloadSize) =>
        (long)(((ulong)fileSize + (ulong)segmentPayloadSize - 1) / (ulong)segmentPayloadSize);

    // ---- Internals ------------------------------------------------------------------------

    private static string? ValidateBody(RudpPacketKind kind, ushort flags, uint connectionId, ReadOnlySpan<byte> d)
    {
        switch (kind)
        {
            case RudpPacketKind.Syn:
                if (d.Length != RudpConstants.SynSize) return "Syn must be exactly 96 bytes";
                if (flags != 0) return "Syn has undefined flags";
                if (connectionId != 0) return "Syn must carry connection id 0";
                if (BinaryPrimitives.ReadUInt32BigEndian(d[L.Syn.Window..]) == 0) return "Syn advertises a zero receiver window";
                if (d[L.Syn.Padding..].IndexOfAnyExcept((byte)0) >= 0) return "Syn padding is not zero";
                return null;

            case RudpPacketKind.SynAck:
            {
                if (d.Length != RudpConstants.SynAckSize) return "SynAck has the wrong length";
                if (flags != 0) return "SynAck has undefined flags";
                var fileSize = BinaryPrimitives.ReadUInt64BigEndian(d[L.SynAck.FileSize..]);
                if (fileSize > long.MaxValue) return "SynAck file size out of range";
                int payloadSize = BinaryPrimitives.ReadUInt16BigEndian(d[L.SynAck.PayloadSize..]);
                if (payloadSize is < 1 or > RudpConstants.MaxPayload) return "SynAck segment payload size out of range";
                var segmentCount = BinaryPrimitives.ReadUInt32BigEndian(d[L.SynAck.SegmentCount..]);
                if (segmentCount > int.MaxValue || segmentCount != ExpectedSegmentCount((long)fileSize, payloadSize))
                    return "SynAck segment count inconsistent with file size";
                return null;
            }

            case RudpPacketKind.HandshakeAck:
                if (d.Length != RudpConstants.HandshakeAckSize) return "HandshakeAck has the wrong length";
                if (flags != 0) return "HandshakeAck has undefined flags";
                return null;

            case RudpPacketKind.Data:
                if (d.Length <= RudpConstants.DataHeaderSize) return "Data has no payload";
                if ((flags & ~RudpConstants.RetransmissionFlag) != 0) return "Data has undefined flags";
                return null;

            case RudpPacketKind.Ack:
            {
                if (d.Length < RudpConstants.AckFixedSize) return "Ack truncated";
                if ((flags & ~RudpConstants.RetransmissionFlag) != 0) return "Ack has undefined flags";
                if (d.Length > RudpConstants.AckFixedSize && d[^1] == 0) return "Ack bitmap has a trailing zero byte";
                var cumulative = BinaryPrimitives.ReadUInt32BigEndian(d[L.Ack.CumulativeAck..]);
                if ((ulong)cumulative + 1 + (ulong)(d.Length - RudpConstants.AckFixedSize) * 8 > uint.MaxValue)
                    return "Ack bitmap reaches past the last sequence number";
                return null;
            }

            case RudpPacketKind.Fin:
            case RudpPacketKind.FinAck:
                if (d.Length != RudpConstants.FinSize) return "Fin/FinAck must have no body";
                if (flags != 0) return "Fin/FinAck has undefined flags";
                return null;

            case RudpPacketKind.Rst:
                if (d.Length != RudpConstants.RstSize) return "Rst has the wrong length";
                if (flags != 0) return "Rst has undefined flags";
                if (d[L.Rst.Reason] is < (byte)RstReason.BadTicket or > (byte)RstReason.InternalError) return "Rst has an unknown reason";
                return null;

            default:
                return "unknown datagram kind";
        }
    }

    private static Span<byte> Begin(Span<byte> dest, int length, RudpPacketKind kind, ushort flags, uint connectionId)
    {
        if (dest.Length < length)
            throw new ArgumentException($"Destination needs {length} bytes, has {dest.Length}.", nameof(dest));
        var d = dest[..length];
        d[L.Header.Version] = RudpConstants.Version;
        d[L.Header.Kind] = (byte)kind;
        BinaryPrimitives.WriteUInt16BigEndian(d[L.Header.Flags..], flags);
        BinaryPrimitives.WriteUInt32BigEndian(d[L.Header.ConnectionId..], connectionId);
        BinaryPrimitives.WriteUInt32BigEndian(d[L.Header.Checksum..], 0);
        return d;
    }

    private static int Seal(Span<byte> d)
    {
        // The checksum field is still zero here, so a one-shot hash gives the same value as ComputeChecksum.
        BinaryPrimitives.WriteUInt32BigEndian(d[L.Header.Checksum..], Crc32.HashToUInt32(d));
        return d.Length;
    }

    /// <summary>CRC-32 of the datagram with the checksum field taken as zero, without copying it.</summary>
    private static uint ComputeChecksum(ReadOnlySpan<byte> d)
    {
        var crc = _crc ??= new Crc32();
        crc.Reset();
        crc.Append(d[..L.Header.Checksum]);
        crc.Append([0, 0, 0, 0]);
        crc.Append(d[(L.Header.Checksum + 4)..]);
        return crc.GetCurrentHashAsUInt32();
    }

    private static bool Fail(out string? error, string reason)
    {
        error = reason;
        return false;
    }
}
