namespace Messenger.Rudp;

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
