using System.Diagnostics;

namespace Messenger.Bench.Scenarios;

/// <summary>
/// Chat fan-out: N clients log in, S of them say M numbered, timestamped messages each, and every
/// client checks it got every message exactly once and in order per sender. Reports deliveries a
/// second, delivery latency percentiles, losses, reordering and the server's CPU time.
/// </summary>
public sealed class FanoutScenario(FanoutScenario.Options options)
{
    public sealed record Options(int Clients, int Senders, int Messages, double Rate, TimeSpan Deadline, string? ServerDll = null);

    /// <summary>One run on a server of its own, started for it.</summary>
    public async Task<BenchResult> RunAsync()
    {
        Hosting.OpenFileLimit.Raise(options.Clients * 2L + 256);
        var emptyFolder = Directory.CreateTempSubdirectory("messenger-bench-fanout-").FullName;
        try
        {
            await using var server = await ServerProcess.StartAsync(emptyFolder, BenchConfig.ServerHocon, serverDll: options.ServerDll);
            return await RunOnAsync(server, "f");
        }
        finally
        {
            try { Directory.Delete(emptyFolder, true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// One run on a server that is already up (<see cref="FanoutSweep"/> runs several on one): the
    /// clients log in as <paramref name="namePrefix"/>0, 1, … and are gone when it returns.
    /// </summary>
    public Task<BenchResult> RunOnAsync(ServerProcess server, string namePrefix) => RunOnAsync([server], namePrefix);

    /// <summary>
    /// One run on the nodes of one cluster, already up: client i connects to node i mod n (so the
    /// senders, the first clients, are spread too); CPU and memory are the sum over the nodes.
    /// </summary>
    public async Task<BenchResult> RunOnAsync(IReadOnlyList<ServerProcess> nodes, string namePrefix)
    {
        var o = options;
        if (o.Senders < 1 || o.Senders > o.Clients) throw new ArgumentException("--senders must be 1..clients");
        var result = new BenchResult("fanout")
            .Add("clients", o.Clients).Add("senders", o.Senders).Add("messages", o.Messages)
            .Add("rate", o.Rate > 0 ? BenchResult.Format(o.Rate) : "max");
        using var deadline = new CancellationTokenSource(o.Deadline);
        var cancel = deadline.Token;
        var clients = new Client[o.Clients];
        var readers = new List<Task>();
        try
        {
            // ---- log in
            long loginStart = Stopwatch.GetTimestamp();
            await BenchConfig.ForEachAsync(Enumerable.Range(0, o.Clients), 32, cancel, async (i, ct) =>
            {
                var node = nodes[i % nodes.Count];
                var client = new Client(await LineSocket.ConnectAsync(node.Chat, 64 * 1024, ct, node.ClientTls), o.Senders, o.Messages);
                clients[i] = client;
                lock (readers) readers.Add(client.Socket.ReadLinesAsync(client.OnLine, cancel));
                await client.Socket.SendAsync(LineSocket.Hello($"{namePrefix}{i}"), ct);
                await client.Welcome.Task.WaitAsync(ct);
            });
            result.Add("login_s", BenchConfig.SecondsSince(loginStart));
            // Let the joined-announcement storm drain before measuring: every client knows every other
            // (from its welcome's list or a joined line; a login batched with others' is in the list).
            long expectedKnown = (long)o.Clients * (o.Clients - 1);
            while (clients.Sum(c => (long)c.Known) < expectedKnown && !cancel.IsCancellationRequested) await Task.Delay(20, cancel);

            // ---- send and receive
            long expected = (long)o.Clients * o.Senders * o.Messages;
            double cpuBefore = nodes.Sum(n => n.CpuSeconds()), jitBefore = nodes.Sum(n => n.JitCpuSeconds());
            long start = Stopwatch.GetTimestamp();
            var sent = new int[o.Senders];
            var senders = Enumerable.Range(0, o.Senders).Select(s => SendAsync(clients[s], s, o, sent, cancel)).ToArray();
            long lastProgress = Stopwatch.GetTimestamp(), lastCount = -1;
            bool stalled = false;
            while (!cancel.IsCancellationRequested)
            {
                long received = clients.Sum(c => (long)Volatile.Read(ref c.Log.Received));
                if (received >= expected) break;
                if (received != lastCount) { lastCount = received; lastProgress = Stopwatch.GetTimestamp(); }
                else if (senders.All(t => t.IsCompleted) && BenchConfig.SecondsSince(lastProgress) > 5) { stalled = true; break; }
                await Task.Delay(10, CancellationToken.None);
            }
            long end = clients.Max(c => Volatile.Read(ref c.Log.LastReceiveTimestamp));
            double seconds = end > start ? Stopwatch.GetElapsedTime(start, end).TotalSeconds : BenchConfig.SecondsSince(start);
            double cpu = nodes.Sum(n => n.CpuSeconds()) - cpuBefore, jit = nodes.Sum(n => n.JitCpuSeconds()) - jitBefore;
            string threads = string.Join(" / ", nodes.Select(n => n.ThreadCpuSummary(nodes.Count == 1 ? 8 : 3)));
            long rss = nodes.Sum(n => n.RssBytes());
            await Task.WhenAll(senders.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));

            // ---- verify and report
            long delivered = clients.Sum(c => (long)c.Log.Received);
            long unique = clients.Sum(c => (long)c.Log.Unique);
            var latencies = Stats.Sorted(clients.SelectMany(c => c.Log.LatenciesMs));
            result.Add("deliveries_per_s", unique / Math.Max(seconds, 1e-9))
                .Add("p50_ms", Stats.Percentile(latencies, 50))
                .Add("p99_ms", Stats.Percentile(latencies, 99))
                .Add("max_ms", latencies.Length == 0 ? double.NaN : latencies[^1])
                .Add("expected", expected)
                .Add("sent", sent.Sum())
                .Add("delivered", delivered)
                .Add("lost", (long)sent.Sum() * o.Clients - unique)
                .Add("duplicates", clients.Sum(c => (long)c.Log.Duplicates))
                .Add("out_of_order", clients.Sum(c => (long)c.Log.OutOfOrder))
                .Add("errors", clients.Sum(c => (long)c.Log.Errors))
                .Add("seconds", seconds)
                .Add("server_cpu_s", cpu)
                .Add("server_jit_cpu_s", jit)
                .Add("server_cpu_per_1k_deliveries_ms", unique == 0 ? double.NaN : cpu * 1000 / (unique / 1000.0))
                .Add("server_rss_mb", rss / 1e6)
                .Add("status", cancel.IsCancellationRequested ? "deadline" : stalled ? "stalled" : expected == unique ? "ok" : "incomplete")
                .Add("server_threads", threads.Replace(' ', '_'));
            result.Series["latency_ms"] = latencies;
            if (result.Get("status") != "ok")
                foreach (var node in nodes) Console.Error.WriteLine($"[bench] the last lines of server {node.Pid}:\n{node.LastLines()}");
            return result;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return result.Add("status", $"deadline after {o.Deadline.TotalSeconds:0}s (clients logged in: {clients.Count(c => c is not null && c.Welcome.Task.IsCompleted)})");
        }
        finally
        {
            foreach (var c in clients) c?.Socket.Dispose();
            await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// Sender <paramref name="id"/> says M messages <c>id:seq:timestamp</c>, paced to its share of the
    /// total rate (or as fast as the socket takes them), several lines per write when behind.
    /// </summary>
    private static async Task SendAsync(Client client, int id, Options o, int[] sent, CancellationToken cancel)
    {
        var buffer = new byte[64 * 1024];
        double interval = o.Rate > 0 ? o.Senders / o.Rate : 0; // seconds between one sender's messages
        long start = Stopwatch.GetTimestamp();
        int seq = 0;
        while (seq < o.Messages)
        {
            cancel.ThrowIfCancellationRequested();
            int due = interval > 0 ? Math.Min(o.Messages, (int)(BenchConfig.SecondsSince(start) / interval) + 1) : Math.Min(o.Messages, seq + 16);
            if (due <= seq)
            {
                await Task.Delay(1, cancel);
                continue;
            }
            int length = 0;
            long now = Stopwatch.GetTimestamp();
            for (; seq < due && length < buffer.Length - 128; seq++)
            {
                System.Text.Unicode.Utf8.TryWrite(buffer.AsSpan(length), $"{{\"type\":\"say\",\"text\":\"{id}:{seq}:{now}\"}}\n", out int written);
                length += written;
            }
            await client.Socket.SendAsync(buffer.AsMemory(0, length), cancel);
            Volatile.Write(ref sent[id], seq);
        }
    }

    /// <summary>One receiving client: its socket, and what it has seen, touched only by its reader task.</summary>
    private sealed class Client(LineSocket socket, int senders, int messages)
    {
        public LineSocket Socket { get; } = socket;
        public DeliveryLog Log { get; } = new(senders, messages);
        public TaskCompletionSource Welcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        /// <summary>Other users this client has heard of: its welcome's list and joined lines.</summary>
        public int Known;

        public bool OnLine(ReadOnlySpan<byte> line, long now)
        {
            if (line.StartsWith(Lines.Msg)) Log.OnText(Lines.StringField(line, "\"text\":\""u8), now);
            else if (line.StartsWith(Lines.Joined)) Known++;
            else if (line.StartsWith(Lines.Welcome))
            {
                Known += Lines.ListedUsers(line) - 1; // the list includes this client
                Welcome.TrySetResult();
            }
            else if (line.StartsWith(Lines.Error)) Log.Errors++;
            return true;
        }
    }
}
