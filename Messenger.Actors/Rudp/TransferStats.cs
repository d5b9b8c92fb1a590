using System.Globalization;

namespace Messenger.Rudp;

/// <summary>
/// What one reliable-UDP transfer did, reported by both ends when it finishes. The sender
/// counts duplicate acks, its congestion window and the smoothed RTT; the receiver counts
/// duplicate segments, datagrams dropped for a bad checksum, and its advertised window (it
/// measures no RTT: <see cref="SmoothedRttMs"/> is null, and not printed). Timeouts are the sender's.
/// </summary>
public sealed record TransferStats(
    long Bytes,
    double Seconds,
    long DatagramsSent,
    long DatagramsReceived,
    long Retransmitted,
    long Timeouts,
    long Duplicates,
    long ChecksumDrops,
    int SmallestWindow,
    int LargestWindow,
    double? SmoothedRttMs)
{
    public double GoodputMBps => Bytes / Math.Max(Seconds, 1e-9) / 1e6;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"bytes={Bytes} seconds={Seconds:0.000} goodput={GoodputMBps:0.0}MB/s sent={DatagramsSent} received={DatagramsReceived} " +
        $"retransmitted={Retransmitted} timeouts={Timeouts} duplicates={Duplicates} checksum-drops={ChecksumDrops} " +
        $"window={SmallestWindow}..{LargestWindow}{(SmoothedRttMs is { } srtt ? $" srtt={srtt.ToString("0.000", CultureInfo.InvariantCulture)}ms" : "")}");
}
