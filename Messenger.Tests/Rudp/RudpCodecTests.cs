using System.Buffers.Binary;
using Messenger.Rudp;

namespace Messenger.Tests.Rudp;

public class RudpCodecTests
{
    private static readonly byte[] Ticket = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();
    private static readonly byte[] Digest = Enumerable.Range(100, 32).Select(i => (byte)i).ToArray();

    private static RudpHeader ReadOk(ReadOnlySpan<byte> datagram)
    {
        Assert.True(RudpCodec.TryRead(datagram, out var header, out var error), error);
        Assert.Null(error);
        Assert.Equal(datagram.Length, header.Length);
        return header;
    }

    private static string Reject(ReadOnlySpan<byte> datagram)
    {
        Assert.False(RudpCodec.TryRead(datagram, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
        return error!;
    }

    /// <summary>Rewrites the checksum so a deliberately malformed datagram is judged on its content.</summary>
    private static void Reseal(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], System.IO.Hashing.Crc32.HashToUInt32(d));
    }

    private static byte[] SampleData()
    {
        var buffer = new byte[RudpConstants.MaxDatagram];
        var n = RudpCodec.WriteData(buffer, 7, 42, 123456, false, "hello, segment"u8);
        return buffer[..n];
    }

    [Fact]
    public void Syn_round_trips_and_is_exactly_96_bytes()
    {
        var buffer = new byte[RudpConstants.MaxDatagram];
        var n = RudpCodec.WriteSyn(buffer, Ticket, 4096);
        Assert.Equal(RudpConstants.SynSize, n);
        var h = ReadOk(buffer.AsSpan(0, n));
        Assert.Equal(RudpPacketKind.Syn, h.Kind);
        Assert.Equal(0u, h.ConnectionId);
        var body = RudpCodec.ReadSyn(buffer.AsSpan(0, n));
        Assert.Equal(Ticket, body.Ticket.ToArray());
        Assert.Equal(4096u, body.ReceiverWindow);
    }

    [Fact]
    public void SynAck_round_trips()
    {
        var buffer = new byte[RudpConstants.MaxDatagram];
        var n = RudpCodec.WriteSynAck(buffer, 0xDEADBEEF, 10_000_000, Digest, 1452, 6888);
        var h = ReadOk(buffer.AsSpan(0, n));
        Assert.Equal(RudpPacketKind.SynAck, h.Kind);
        Assert.Equal(0xDEADBEEFu, h.ConnectionId);
        var body = RudpCodec.ReadSynAck(buffer.AsSpan(0, n));
        Assert.Equal(10_000_000, body.FileSize);
        Assert.Equal(Digest, body.Sha256.ToArray());
        Assert.Equal(1452, body.SegmentPayloadSize);
        Assert.Equal(6888, body.SegmentCount);
    }

    [Fact]
    public void SynAck_for_an_empty_file_has_zero_segments()
    {
        var buffer = new byte[RudpConstants.MaxDatagram];
        var n = RudpCodec.WriteSynAck(buffer, 1, 0, Digest, 1452, 0);
        ReadOk(buffer.AsSpan(0, n));
        Assert.Equal(0, RudpCodec.ReadSynAck(buffer.AsSpan(0, n)).SegmentCount);
    }

    [Fact]
    public void Replies_to_a_Syn_are_never_larger_than_the_Syn()
    {
        var buffer = new byte[RudpConstants.MaxDatagram];
        var synAck = RudpCodec.WriteSynAck(buffer, 1, 1_000_000, Digest, 1000, 1000);
        Assert.True(synAck <= RudpConstants.SynSize);
        foreach (var reason in Enum.GetValues<RstReason>())
            Assert.True(RudpCodec.WriteRst(buffer, 0, reason) <= RudpConstants.SynSize);
    }

    [Fact]
    public void HandshakeAck_round_trips()
    {
        var buffer = new byte[RudpConstants.MaxDatagram];
        var n = RudpCodec.WriteHandshakeAck(buffer, 9, 512);
        Assert.Equal(RudpPacketKind.HandshakeAck, ReadOk(buffer.AsSpan(0, n)).Kind);
        Assert.Equal(512u, RudpCodec.ReadHandshakeAck(buffer.AsSpan(0, n)));
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, RudpConstants.MaxPayload)]
    public void Data_round_trips(bool retransmission, int payloadLength)
    {
        var payload = Enumerable.Range(0, payloadLength).Select(i => (byte)(i * 7)).ToArray();
        var buffer = new byte[RudpConstants.MaxDatagram];
        var n = RudpCodec.WriteData(buffer, 3, 99, uint.MaxValue, retransmission, payload);
        Assert.Equal(RudpConstants.DataHeaderSize + payloadLength, n);
        var h = ReadOk(buffer.AsSpan(0, n));
        Assert.Equal(RudpPacketKind.Data, h.Kind);
        Assert.Equal(retransmission, h.IsRetransmission);
        var data = RudpCodec.ReadData(buffer.AsSpan(0, n));
        Assert.Equal(99u, data.Sequence);
        Assert.Equal(uint.MaxValue, data.Timestamp);
        Assert.Equal(retransmission, data.IsRetransmission);
        Assert.Equal(payload, data.Payload.ToArray());
    }

    [Fact]
    public void Ack_round_trips_with_ranges()
    {
        SackRange[] ranges = [new(12, 15), new(20, 21), new(30, 100)];
        var buffer = new byte[RudpConstants.MaxDatagram];
        var n = RudpCodec.WriteAck(buffer, 5, 10, 700, 123, 29, true, ranges);
        Assert.Equal(RudpConstants.AckFixedSize + (100 - 11 + 7) / 8, n); // a bitmap from segment 11 to 99
        var h = ReadOk(buffer.AsSpan(0, n));
        Assert.Equal(RudpPacketKind.Ack, h.Kind);
        Assert.True(h.IsRetransmission);
        var read = new SackRange[RudpConstants.MaxSackRanges];
        var ack = RudpCodec.ReadAck(buffer.AsSpan(0, n), read);
        Assert.Equal(new AckBody(10, 700, 123, 29, true, 3), ack);
        Assert.Equal(ranges, read[..3]);
    }

    [Fact]
    public void Ack_with_every_other_segment_received_across_the_whole_bitmap_round_trips()
    {
        var ranges = Enumerable.Range(0, RudpConstants.MaxSackRanges)
            .Select(i => new SackRange((uint)(1 + i * 2), (uint)(2 + i * 2))).ToArray();
        var buffer = new byte[RudpConstants.MaxDatagram];
        var n = RudpCodec.WriteAck(buffer, 5, 0, 1, 0, 0, false, ranges);
        Assert.Equal(RudpConstants.MaxAckSize, n);
        ReadOk(buffer.AsSpan(0, n));
        var read = new SackRange[RudpConstants.MaxSackRanges];
        Assert.Equal(ranges.Length, RudpCodec.ReadAck(buffer.AsSpan(0, n), read).SackRangeCount);
        Assert.Equal(ranges, read);
        // One segment further than a bitmap can say is refused.
        Assert.Throws<ArgumentOutOfRangeException>(() => RudpCodec.WriteAck(buffer, 5, 0, 1, 0, 0, false,
            [new SackRange(RudpConstants.MaxAckBitmapSegments + 1, RudpConstants.MaxAckBitmapSegments + 2)]));
    }

    [Fact]
    public void Ack_bitmaps_carry_a_receive_windows_ranges_exactly_for_random_arrivals()
    {
        var random = new Random(1234);
        var buffer = new byte[RudpConstants.MaxDatagram];
        var written = new SackRange[RudpConstants.MaxSackRanges];
        var read = new SackRange[RudpConstants.MaxSackRanges];
        for (int trial = 0; trial < 500; trial++)
        {
            var window = new ReceiveWindow(20_000, capacity: 8192);
            double loss = random.NextDouble() * 0.5;
            int upTo = random.Next(1, 8000);
            for (uint seq = 0; seq < upTo; seq++)
                if (random.NextDouble() >= loss) window.Accept(seq);
            int count = window.WriteSackRanges(written);
            var n = RudpCodec.WriteAck(buffer, 1, (uint)window.CumulativeAck, 1, 0, 0, false, written.AsSpan(0, count));
            Assert.True(RudpCodec.TryRead(buffer.AsSpan(0, n), out _, out var error), error);
            var ack = RudpCodec.ReadAck(buffer.AsSpan(0, n), read);
            Assert.Equal((uint)window.CumulativeAck, ack.CumulativeAck);
            Assert.Equal(written[..count], read[..ack.SackRangeCount]);
        }
    }

    [Fact]
    public void Ack_runs_that_end_inside_a_byte_or_at_the_bitmap_end_are_read_back_exactly()
    {
        var buffer = new byte[RudpConstants.MaxDatagram];
        var read = new SackRange[RudpConstants.MaxSackRanges];
        foreach (SackRange[] ranges in new[]
                 {
                     new SackRange[] { new(101, 102) },
                     new SackRange[] { new(101, 109) },
                     new SackRange[] { new(102, 110), new(111, 200) },
                     new SackRange[] { new(108, 117), new(125, 126), new(140, 141) },
                 })
        {
            var n = RudpCodec.WriteAck(buffer, 5, 100, 1, 0, 0, false, ranges);
            ReadOk(buffer.AsSpan(0, n));
            var count = RudpCodec.ReadAck(buffer.AsSpan(0, n), read).SackRangeCount;
            Assert.Equal(ranges, read[..count]);
        }
    }

    [Fact]
    public void Ack_runs_that_cross_or_end_at_a_64_bit_word_boundary_are_read_back_exactly()
    {
        // Bit i is segment 101 + i: bit 64 starts the second word of the bitmap.
        var buffer = new byte[RudpConstants.MaxDatagram];
        var read = new SackRange[RudpConstants.MaxSackRanges];
        foreach (SackRange[] ranges in new[]
                 {
                     new SackRange[] { new(101, 165) },                   // the whole first word, ending at the bitmap's end
                     new SackRange[] { new(164, 166) },                   // bits 63..64: across the boundary
                     new SackRange[] { new(110, 165), new(166, 167) },    // ends at bit 64, one more at 65
                     new SackRange[] { new(165, 229), new(300, 301) },    // exactly the second word, then a lone one
                     new SackRange[] { new(102, 300) },                   // across several words, ending inside a byte
                 })
        {
            var n = RudpCodec.WriteAck(buffer, 5, 100, 1, 0, 0, false, ranges);
            ReadOk(buffer.AsSpan(0, n));
            var count = RudpCodec.ReadAck(buffer.AsSpan(0, n), read).SackRangeCount;
            Assert.Equal(ranges, read[..count]);
        }
    }

    [Fact]
    public void Ack_decoding_stops_when_the_destination_is_full_so_an_alternating_bitmap_costs_no_more_than_the_cap()
    {
        // Every other segment for the whole bitmap: 5,776 ranges on the wire.
        var alternating = Enumerable.Range(0, RudpConstants.MaxSackRanges)
            .Select(i => new SackRange((uint)(101 + 2 * i), (uint)(102 + 2 * i))).ToArray();
        var buffer = new byte[RudpConstants.MaxDatagram];
        var n = RudpCodec.WriteAck(buffer, 5, 100, 1, 0, 0, false, alternating);
        Assert.Equal(RudpConstants.MaxDatagram, n);
        ReadOk(buffer.AsSpan(0, n));

        var capped = new SackRange[16];
        var ack = RudpCodec.ReadAck(buffer.AsSpan(0, n), capped);
        Assert.Equal(16, ack.SackRangeCount);
        Assert.Equal(alternating[..16], capped); // the lowest ranges, exactly
        Assert.Equal(100u, ack.CumulativeAck);
    }

    [Fact]
    public void Fin_FinAck_and_Rst_round_trip()
    {
        var buffer = new byte[RudpConstants.MaxDatagram];
        var n = RudpCodec.WriteFin(buffer, 11);
        Assert.Equal(RudpPacketKind.Fin, ReadOk(buffer.AsSpan(0, n)).Kind);
        n = RudpCodec.WriteFinAck(buffer, 11);
        Assert.Equal(RudpPacketKind.FinAck, ReadOk(buffer.AsSpan(0, n)).Kind);
        foreach (var reason in Enum.GetValues<RstReason>())
        {
            n = RudpCodec.WriteRst(buffer, 11, reason);
            var h = ReadOk(buffer.AsSpan(0, n));
            Assert.Equal(RudpPacketKind.Rst, h.Kind);
            Assert.Equal(11u, h.ConnectionId);
            Assert.Equal(reason, RudpCodec.ReadRst(buffer.AsSpan(0, n)));
        }
    }

    [Fact]
    public void Too_short_and_too_long_datagrams_are_rejected()
    {
        Reject([]);
        Reject(SampleData()[..11]);
        var tooLong = new byte[RudpConstants.MaxDatagram + 1];
        RudpCodec.WriteData(tooLong, 1, 1, 1, false, new byte[RudpConstants.MaxPayload]);
        Reject(tooLong);
    }

    [Fact]
    public void Every_truncation_of_every_kind_is_rejected()
    {
        var buffer = new byte[RudpConstants.MaxDatagram];
        var samples = new List<byte[]>
        {
            buffer[..RudpCodec.WriteSyn(buffer, Ticket, 1)],
            buffer[..RudpCodec.WriteSynAck(buffer, 1, 5000, Digest, 1000, 5)],
            buffer[..RudpCodec.WriteHandshakeAck(buffer, 1, 1)],
            buffer[..RudpCodec.WriteData(buffer, 1, 1, 1, false, "abc"u8)],
            buffer[..RudpCodec.WriteAck(buffer, 1, 1, 1, 1, 1, false, [new SackRange(3, 4), new SackRange(6, 9)])],
            buffer[..RudpCodec.WriteFin(buffer, 1)],
            buffer[..RudpCodec.WriteFinAck(buffer, 1)],
            buffer[..RudpCodec.WriteRst(buffer, 1, RstReason.Aborted)],
        };
        foreach (var sample in samples)
            for (var length = 0; length < sample.Length; length++)
            {
                // As received: the checksum catches it.
                Reject(sample[..length]);

                // Resealed, the structure must still be rejected, except a shorter Data payload or
                // Ack bitmap, which is a valid datagram in its own right (only the checksum can tell).
                var truncated = sample[..length];
                if (length >= RudpConstants.HeaderSize)
                    Reseal(truncated);
                if (sample[1] == (byte)RudpPacketKind.Data && length > RudpConstants.DataHeaderSize)
                    continue;
                if (sample[1] == (byte)RudpPacketKind.Ack && length >= RudpConstants.AckFixedSize)
                    continue;
                Reject(truncated);
            }
    }

    [Fact]
    public void Wrong_version_is_rejected()
    {
        var d = SampleData();
        d[0] = 2;
        Reseal(d);
        Assert.Equal("unsupported protocol version", Reject(d));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    [InlineData(255)]
    public void Unknown_kind_is_rejected(byte kind)
    {
        var d = SampleData();
        d[1] = kind;
        Reseal(d);
        Assert.Equal("unknown datagram kind", Reject(d));
    }

    [Fact]
    public void Every_single_bit_flip_of_a_data_datagram_is_rejected()
    {
        var original = SampleData();
        for (var bit = 0; bit < original.Length * 8; bit++)
        {
            var d = (byte[])original.Clone();
            d[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.False(RudpCodec.TryRead(d, out _, out _), $"bit {bit} flip accepted");
        }
    }

    [Fact]
    public void Inconsistent_bodies_are_rejected()
    {
        var buffer = new byte[RudpConstants.MaxDatagram];

        // Syn shorter than 96 bytes (even with a valid checksum), nonzero padding, nonzero connection id.
        var syn = buffer[..RudpCodec.WriteSyn(buffer, Ticket, 1)];
        var shortSyn = syn[..40];
        Reseal(shortSyn);
        Assert.Equal("Syn must be exactly 96 bytes", Reject(shortSyn));
        var padded = (byte[])syn.Clone();
        padded[95] = 1;
        Reseal(padded);
        Reject(padded);
        var withConn = (byte[])syn.Clone();
        withConn[7] = 1;
        Reseal(withConn);
        Reject(withConn);

        // Data with no payload.
        var data = SampleData()[..RudpConstants.DataHeaderSize];
        Reseal(data);
        Assert.Equal("Data has no payload", Reject(data));

        // Ack whose bitmap ends in a zero byte (not the shortest form).
        var ack = buffer[..RudpCodec.WriteAck(buffer, 1, 5, 1, 0, 0, false, [new SackRange(7, 9)])];
        var zeroTail = ack.Append((byte)0).ToArray();
        Reseal(zeroTail);
        Reject(zeroTail);

        // SACK ranges that are empty, below the cumulative ack or out of order cannot be written.
        foreach (SackRange[] bad in new[]
                 {
                     new SackRange[] { new(7, 7) },
                     new SackRange[] { new(3, 9) },
                     new SackRange[] { new(5, 9) },
                     new SackRange[] { new(20, 30), new(10, 15) },
                     new SackRange[] { new(10, 15), new(15, 20) },
                 })
            Assert.Throws<ArgumentException>(() => RudpCodec.WriteAck(buffer, 1, 5, 1, 0, 0, false, bad));

        // SynAck whose segment count disagrees with its file size, or zero payload size.
        var synAck = buffer[..RudpCodec.WriteSynAck(buffer, 1, 5000, Digest, 1000, 5)];
        var badCount = (byte[])synAck.Clone();
        BinaryPrimitives.WriteUInt32BigEndian(badCount.AsSpan(54), 6);
        Reseal(badCount);
        Reject(badCount);
        var zeroPayload = (byte[])synAck.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(zeroPayload.AsSpan(52), 0);
        Reseal(zeroPayload);
        Reject(zeroPayload);

        // Undefined flags, unknown Rst reason.
        var flagged = SampleData();
        flagged[3] = 0x02;
        Reseal(flagged);
        Reject(flagged);
        var rst = buffer[..RudpCodec.WriteRst(buffer, 1, RstReason.BadTicket)];
        rst[12] = 9;
        Reseal(rst);
        Reject(rst);
    }

    [Fact]
    public void Garbage_never_throws()
    {
        var random = new Random(1234);
        var buffer = new byte[RudpConstants.MaxDatagram + 10];
        for (var i = 0; i < 20_000; i++)
        {
            var length = random.Next(buffer.Length);
            random.NextBytes(buffer.AsSpan(0, length));
            buffer[0] = 1;
            if (length >= 12)
                Reseal(buffer.AsSpan(0, length));
            RudpCodec.TryRead(buffer.AsSpan(0, length), out _, out _);
        }
    }

    [Fact]
    public void Writers_reject_programming_errors()
    {
        var buffer = new byte[RudpConstants.MaxDatagram];
        Assert.Throws<ArgumentOutOfRangeException>(() => RudpCodec.WriteData(buffer, 1, 1, 1, false, ReadOnlySpan<byte>.Empty));
        Assert.Throws<ArgumentOutOfRangeException>(() => RudpCodec.WriteData(buffer, 1, 1, 1, false, new byte[RudpConstants.MaxPayload + 1]));
        Assert.Throws<ArgumentException>(() => RudpCodec.WriteSyn(buffer, new byte[15], 1));
        Assert.Throws<ArgumentException>(() => RudpCodec.WriteData(new byte[30], 1, 1, 1, false, new byte[100]));
    }
}
