using System.Diagnostics;
using System.Text;

namespace Messenger.Bench.Scenarios;

/// <summary>
/// One-way private-message latency between pairs of users, each pair of a kind (<c>same</c>: both
/// on one node; <c>cross</c>: on two). Each sender sends its recipient <c>messages</c> `pm`s, one
/// every <c>interval</c>, whose text is <see cref="DeliveryLog.Text"/>; the recipient's
/// <see cref="DeliveryLog"/> takes the time (both ends are in this process: one clock). All pairs
/// run at once, so drift in the machine's load hits every kind alike. A `pm` passes the
/// recipient's name claim (a sharded entity per bucket of names, on whichever node its shard
/// lives), so the hops of one pair depend on where that is: several pairs per kind average over it.
/// </summary>
public static class PmLatencyProbe
{
    public sealed record Pair(string Kind, ServerProcess SenderNode, ServerProcess RecipientNode);

    /// <summary>What the pairs of one kind measured; <see cref="SortedMs"/> are the one-way latencies.</summary>
    public sealed record Latency(string Kind, int Pairs, long Sent, long Unique, long Duplicates, long OutOfOrder, long Errors, double[] SortedMs)
    {
        public long Lost => Sent - Unique;
        public bool Clean => Sent > 0 && Lost == 0 && Duplicates == 0 && OutOfOrder == 0 && Errors == 0;

        /// <summary>Adds <c>pm_KIND_p50_ms</c>, <c>_p99_ms</c>, <c>_max_ms</c>, <c>_sent</c>, <c>_lost</c>, <c>_out_of_order</c>, <c>_duplicates</c>, <c>_errors</c>.</summary>
        public void AddTo(BenchResult row)
        {
            var p = $"pm_{Kind}_";
            row.Add(p + "p50_ms", Stats.Percentile(SortedMs, 50)).Add(p + "p99_ms", Stats.Percentile(SortedMs, 99))
                .Add(p + "max_ms", SortedMs.Length == 0 ? double.NaN : SortedMs[^1])
                .Add(p + "sent", Sent).Add(p + "lost", Lost).Add(p + "out_of_order", OutOfOrder).Add(p + "duplicates", Duplicates).Add(p + "errors", Errors);
        }
    }

    /// <summary>
    /// Logs in every pair (users <paramref name="namePrefix"/>r0, s0, r1, s1, …; recipients first, since a
    /// `pm` to nobody is an error), sends, waits until every recipient has everything (or 5 s without
    /// progress after the last send), and logs them out again.
    /// </summary>
    public static async Task<IReadOnlyList<Latency>> RunAsync(IReadOnlyList<Pair> pairs, string namePrefix, int messages, TimeSpan interval,
        CancellationToken cancel)
    {
        var ends = new List<End>();
        try
        {
            var recipients = new End[pairs.Count];
            var senders = new End[pairs.Count];
            for (int i = 0; i < pairs.Count; i++)
            {
                recipients[i] = await End.LoginAsync(pairs[i].RecipientNode, $"{namePrefix}r{i}", messages, ends, cancel);
                senders[i] = await End.LoginAsync(pairs[i].SenderNode, $"{namePrefix}s{i}", messages, ends, cancel);
            }
            var sent = new long[pairs.Count];
            var sending = Task.WhenAll(pairs.Select((_, i) =>
                SendAsync(senders[i], recipients[i].User, messages, interval, interval * i / pairs.Count, sent, i, cancel)));
            long lastProgress = Stopwatch.GetTimestamp(), lastCount = -1;
            while (true)
            {
                cancel.ThrowIfCancellationRequested();
                long received = recipients.Sum(r => (long)Volatile.Read(ref r.Log.Received));
                if (sending.IsCompleted && received >= sent.Sum()) break;
                if (received != lastCount) { lastCount = received; lastProgress = Stopwatch.GetTimestamp(); }
                else if (sending.IsCompleted && BenchConfig.SecondsSince(lastProgress) > 5) break;
                await Task.Delay(10, cancel); // polling interval, bounded by the caller's token
            }
            await sending;
            return pairs.Select((pair, i) => (pair.Kind, i)).GroupBy(p => p.Kind, p => p.i).Select(kind =>
            {
                var logs = kind.Select(i => recipients[i].Log).ToList();
                return new Latency(kind.Key, logs.Count, kind.Sum(i => sent[i]), logs.Sum(l => (long)l.Unique), logs.Sum(l => (long)l.Duplicates),
                    logs.Sum(l => (long)l.OutOfOrder), kind.Sum(i => (long)recipients[i].Log.Errors + senders[i].Log.Errors),
                    Stats.Sorted(logs.SelectMany(l => l.LatenciesMs)));
            }).ToList();
        }
        finally
        {
            foreach (var end in ends) end.Socket.Dispose();
            await Task.WhenAll(ends.Select(e => e.Reader)).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private static async Task SendAsync(End sender, string to, int messages, TimeSpan interval, TimeSpan offset, long[] sent, int pair,
        CancellationToken cancel)
    {
        long start = Stopwatch.GetTimestamp();
        for (int seq = 0; seq < messages; seq++)
        {
            var wait = offset + interval * seq - Stopwatch.GetElapsedTime(start);
            if (wait > TimeSpan.Zero) await Task.Delay(wait, cancel);
            var text = DeliveryLog.Text(0, seq, Stopwatch.GetTimestamp());
            await sender.Socket.SendAsync(Encoding.ASCII.GetBytes($"{{\"type\":\"pm\",\"to\":\"{to}\",\"text\":\"{text}\"}}\n"), cancel);
            sent[pair] = seq + 1;
        }
    }

    /// <summary>
    /// One logged-in user: every `pm` it gets goes into its log (a sender's are its echoes, not
    /// counted), every `error` frame counts as an error.
    /// </summary>
    private sealed class End
    {
        private readonly TaskCompletionSource _welcome = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private End(LineSocket socket, string user, int messages)
        {
            Socket = socket;
            User = user;
            Log = new DeliveryLog(1, messages);
        }

        public LineSocket Socket { get; }
        public string User { get; }
        public DeliveryLog Log { get; }
        public Task Reader { get; private set; } = Task.CompletedTask;

        public static async Task<End> LoginAsync(ServerProcess node, string user, int messages, List<End> all, CancellationToken cancel)
        {
            var end = new End(await LineSocket.ConnectAsync(node.Chat, 64 * 1024, cancel, node.ClientTls), user, messages);
            all.Add(end);
            end.Reader = end.Socket.ReadLinesAsync(end.OnLine, cancel);
            await end.Socket.SendAsync(LineSocket.Hello(user), cancel);
            await end._welcome.Task.WaitAsync(cancel);
            return end;
        }

        private bool OnLine(ReadOnlySpan<byte> line, long now)
        {
            if (line.StartsWith(Lines.Pm)) Log.OnText(Lines.StringField(line, "\"text\":\""u8), now);
            else if (line.StartsWith(Lines.Welcome)) _welcome.TrySetResult();
            else if (line.StartsWith(Lines.Error)) Log.Errors++;
            return true;
        }
    }
}
