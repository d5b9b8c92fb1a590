namespace Messenger.Rudp;

/// <summary>
/// Fixed part of an Ack. The SACK ranges are copied by <see cref="RudpCodec.ReadAck"/> into a
/// caller-owned span so that reading an Ack allocates nothing.
/// </summary>
/// <param name="CumulativeAck">Next expected segment; every segment below it was received.</param>
/// <param name="ReceiveWindow">Segments the receiver can still buffer beyond the cumulative ack.</param>
/// <param name="EchoedTimestamp">Timestamp of the Data segment that triggered this Ack (RTT = now − echo).</param>
/// <param name="EchoedSequence">Sequence of that Data segment.</param>
/// <param name="EchoedRetransmission">That Data segment was a retransmission: do not take an RTT sample (Karn).</param>
/// <param name="SackRangeCount">Number of SACK ranges that follow.</param>
public readonly record struct AckBody(
    uint CumulativeAck,
    uint ReceiveWindow,
    uint EchoedTimestamp,
    uint EchoedSequence,
    bool EchoedRetransmission,
    int SackRangeCount);
