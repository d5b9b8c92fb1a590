namespace Messenger.Rudp;

/// <summary>
/// Every number the reliable-UDP file transfer protocol depends on, each with the reason it has
/// the value it has. Keeping them in one place makes the wire format and the tuning auditable.
/// </summary>
public static class RudpConstants
{
    // ---- Wire format ----------------------------------------------------------------------

    /// <summary>Protocol version carried in byte 0; a peer speaking another version is rejected outright.</summary>
    public const byte Version = 1;

    /// <summary>
    /// Largest datagram we send or accept: Ethernet MTU 1500 − 20 (IPv4 header) − 8 (UDP header).
    /// Staying under it avoids IP fragmentation, where losing one fragment loses the whole datagram.
    /// </summary>
    public const int MaxDatagram = 1472;

    /// <summary>Common header: version, kind, flags, connection id, CRC-32.</summary>
    public const int HeaderSize = 12;


    /// <summary>Data header: common header + sequence number + send timestamp.</summary>
    public const int DataHeaderSize = HeaderSize + 8;

    /// <summary>Largest Data payload: what is left of <see cref="MaxDatagram"/> after the Data header (1,452 bytes).</summary>
    public const int MaxPayload = MaxDatagram - DataHeaderSize;

    /// <summary>Length of the opaque transfer ticket in a Syn (128 bits: unguessable).</summary>
    public const int TicketSize = 16;

    /// <summary>Length of the SHA-256 file digest in a SynAck.</summary>
    public const int Sha256Size = 32;

    /// <summary>
    /// Exact size of a Syn. The Syn is padded so that nothing we send in reply to an unauthenticated
    /// Syn (SynAck, Rst) is larger than it: the server can never be used as a traffic amplifier.
    /// </summary>
    public const int SynSize = 96;

    /// <summary>SynAck: header + u64 file size + SHA-256 + u16 payload size + u32 segment count (58 bytes).</summary>
    public const int SynAckSize = HeaderSize + 8 + Sha256Size + 2 + 4;

    /// <summary>HandshakeAck: header + u32 receiver window.</summary>
    public const int HandshakeAckSize = HeaderSize + 4;

    /// <summary>Fin and FinAck carry no body.</summary>
    public const int FinSize = HeaderSize;

    /// <summary>Rst: header + u8 reason (13 bytes, far below <see cref="SynSize"/>).</summary>
    public const int RstSize = HeaderSize + 1;

    /// <summary>Ack before its bitmap: header + cum-ack + window + echoed timestamp + echoed sequence.</summary>
    public const int AckFixedSize = HeaderSize + 16;

    /// <summary>
    /// The selective-ack bitmap fills the rest of the datagram at most: bit i says whether segment
    /// cum-ack + 1 + i arrived. 1,444 bytes cover 11,552 segments, more than any receive window we
    /// allow, so an Ack always tells the whole truth about the window: nothing is ever left out (a
    /// list of a few SACK ranges runs out on a lossy link with a large window, and then the sender
    /// has to guess).
    /// </summary>
    public const int MaxAckBitmapBytes = MaxDatagram - AckFixedSize;

    /// <summary>Segments above the cumulative ack one Ack can describe.</summary>
    public const int MaxAckBitmapSegments = MaxAckBitmapBytes * 8;

    /// <summary>
    /// Most runs of received segments (SACK ranges) one Ack can hold: every other segment received.
    /// Size the span given to <see cref="RudpCodec.ReadAck"/> with this.
    /// </summary>
    public const int MaxSackRanges = (MaxAckBitmapSegments + 1) / 2;

    /// <summary>Largest possible Ack.</summary>
    public const int MaxAckSize = MaxDatagram;

    /// <summary>Data flag bit 0: this segment is a retransmission (the receiver echoes it so the sender can apply Karn's rule).</summary>
    public const ushort RetransmissionFlag = 0x0001;

    // ---- Loss detection and timers --------------------------------------------------------

    /// <summary>RFC 6298 §2.1: initial RTO of one second when nothing is known about the path.</summary>
    public const long RfcInitialRtoMicros = 1_000_000;

    /// <summary>RFC 6298 §2.4: RTO lower bound of one second (conservative; we pass a smaller one on LANs).</summary>
    public const long RfcMinRtoMicros = 1_000_000;

    /// <summary>RFC 6298 §2.5: an upper bound of at least 60 seconds may be placed on the RTO.</summary>
    public const long MaxRtoMicros = 60_000_000;

    /// <summary>RFC 6298 smoothing gain for SRTT (α = 1/8).</summary>
    public const double RttAlpha = 1.0 / 8;

    /// <summary>RFC 6298 smoothing gain for RTTVAR (β = 1/4).</summary>
    public const double RttBeta = 1.0 / 4;

    /// <summary>RFC 6298 variance multiplier K = 4.</summary>
    public const double RttK = 4;

    /// <summary>Clock granularity G of our microsecond timestamps.</summary>
    public const long DefaultClockGranularityMicros = 1;

    // ---- Congestion control ---------------------------------------------------------------

    /// <summary>RFC 6928 initial window of 10 segments.</summary>
    public const int InitialWindow = 10;

    /// <summary>RFC 5681: ssthresh never drops below 2 segments.</summary>
    public const int MinSlowStartThreshold = 2;

    /// <summary>RFC 5681 loss window: one segment after a retransmission timeout.</summary>
    public const int LossWindow = 1;


    /// <summary>BBR: the pipe is "full" when the bottleneck rate grew by less than 25% ...</summary>
    public const double FullBandwidthGrowth = 1.25;

    /// <summary>... for 3 consecutive rounds.</summary>
    public const int FullBandwidthRounds = 3;

    /// <summary>Steady-state window gain: cwnd = 2 × BDP absorbs delayed/stretched acks without becoming a standing queue.</summary>
    public const double SteadyWindowGain = 2.0;

    /// <summary>Bottleneck bandwidth max filter length in rounds (BBR: 10).</summary>
    public const int BandwidthFilterRounds = 10;

    /// <summary>Minimum RTT filter window (BBR: 10 s). Routes change; an older minimum may be stale.</summary>
    public const long MinRttWindowMicros = 10_000_000;

    /// <summary>Congestion evidence: a round whose every RTT sample is above this multiple of the minimum RTT had a standing queue.</summary>
    public const double CongestionRttInflation = 2.0;

    /// <summary>
    /// ... and at least this much above it in absolute terms. On a sub-millisecond path (loopback,
    /// a LAN) scheduling jitter alone doubles the RTT; a queue worth reacting to adds milliseconds.
    /// </summary>
    public const long DefaultCongestionDelayMicros = 2_000;

    /// <summary>Multiplicative decrease on clear congestion evidence (BBRv2's β = 0.7: gentler than Reno's 0.5).</summary>
    public const double CongestionDecrease = 0.7;

    /// <summary>Multiplicative decrease on a retransmission timeout (the path may have changed completely).</summary>
    public const double TimeoutDecrease = 0.5;

    /// <summary>After a decrease, the in-flight cap grows back by this factor per clean round (BBR's probing gain).</summary>
    public const double CapRegrowth = 1.25;


    // ---- Receiver -------------------------------------------------------------------------

    /// <summary>A receive window must fit in one Ack's bitmap.</summary>
    public const int MaxReceiveCapacity = MaxAckBitmapSegments;
}
