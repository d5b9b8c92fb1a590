using System.Buffers.Text;
using System.Diagnostics;

namespace Messenger.Bench;

/// <summary>
/// What one receiving client has seen of numbered, timestamped messages whose text is
/// <c>sender:seq:timestamp</c> (<see cref="Text"/>; a <see cref="Stopwatch"/> timestamp of this
/// process, so sender and receiver share one clock): each (sender, seq) counted once, whether it
/// came in order per sender, and its latency. Touched only by the client's reader task; the
/// counters are read by others with <see cref="Volatile"/>.
/// </summary>
public sealed class DeliveryLog
{
    private static readonly double MillisecondsPerTick = 1000.0 / Stopwatch.Frequency;
    private readonly int _messages;
    private readonly bool[] _seen;
    private readonly int[] _highest;

    public DeliveryLog(int senders, int messages)
    {
        _messages = messages;
        _seen = new bool[senders * messages];
        _highest = Enumerable.Repeat(-1, senders).ToArray();
        Latencies = new double[senders * messages];
    }

    /// <summary>Latency in ms of each first delivery, in arrival order; the first <see cref="LatencyCount"/> are filled.</summary>
    public double[] Latencies { get; }
    public int LatencyCount;
    /// <summary>Every message received, duplicates included.</summary>
    public int Received;
    public int Unique;
    public int Duplicates;
    public int OutOfOrder;
    /// <summary>Unreadable texts, and whatever else the client counts as an error (e.g. <c>error</c> frames).</summary>
    public int Errors;
    public long LastReceiveTimestamp;

    public IEnumerable<double> LatenciesMs => Latencies.Take(LatencyCount);

    /// <summary>The text of message <paramref name="seq"/> of <paramref name="sender"/>, sent at <paramref name="timestamp"/>.</summary>
    public static string Text(int sender, int seq, long timestamp) => $"{sender}:{seq}:{timestamp}";

    /// <summary>A message's text (escapes left as they are), received at <paramref name="now"/>.</summary>
    public void OnText(ReadOnlySpan<byte> text, long now)
    {
        if (!Utf8Parser.TryParse(text, out int sender, out int used) || used >= text.Length || text[used] != ':') { Errors++; return; }
        text = text[(used + 1)..];
        if (!Utf8Parser.TryParse(text, out int seq, out used) || used >= text.Length || text[used] != ':') { Errors++; return; }
        if (!Utf8Parser.TryParse(text[(used + 1)..], out long sent, out _)) { Errors++; return; }
        if ((uint)sender >= (uint)_highest.Length || (uint)seq >= (uint)_messages) { Errors++; return; }
        int slot = sender * _messages + seq;
        if (_seen[slot]) Duplicates++;
        else
        {
            _seen[slot] = true;
            Unique++;
            if (seq < _highest[sender]) OutOfOrder++;
            else _highest[sender] = seq;
            Latencies[LatencyCount++] = (now - sent) * MillisecondsPerTick;
        }
        Volatile.Write(ref LastReceiveTimestamp, now);
        Volatile.Write(ref Received, Received + 1);
    }
}
