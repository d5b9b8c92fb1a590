using System.CommandLine;
using System.Diagnostics;
using System.Text;
using Messenger.Persistence;
using Messenger.Protocol;

namespace Messenger.Bench.Scenarios;

/// <summary>
/// History at scale (issue 11): a lobby of <see cref="Options.Messages"/> stored messages
/// (<see cref="HistorySeed"/>, made once and cached), served by a fresh server process each run.
/// Per run, on a copy of the cached database: launch → "listening" line, launch → the answer to
/// the first <c>history</c> after login; then pages of 50 and 200, the most recent (from the
/// room's in-memory tail) and deep in the past (<c>before</c> at a random id, read from the
/// journal), each timed from the request's write to the answer's read, first once cold and then
/// <see cref="Options.Fetches"/> times warm. Every run on the full database alternates with one on
/// an empty database (tables made, no messages) for the start-up ratio. Also reports the
/// database's bytes on disk per message. Bounded: <see cref="Options.Runs"/> pairs of runs, each
/// under <see cref="Options.Deadline"/>; seeding under <see cref="Options.SeedDeadline"/>.
/// </summary>
public sealed class HistoryScenario(HistoryScenario.Options options)
{
    public sealed record Options(int Messages, int Runs, int Fetches, string CacheRoot, TimeSpan SeedDeadline, TimeSpan Deadline,
        string? ServerDll = null);

    /// <summary>The <c>history</c> command: its options and action.</summary>
    public static Command Command(Option<string?> serverDll)
    {
        var messages = new Option<int>("--messages") { Description = "Messages in the lobby of the full database", DefaultValueFactory = _ => 1_000_000 };
        var runs = new Option<int>("--runs") { Description = "Fresh server processes on each database (full and empty, alternating)", DefaultValueFactory = _ => 3 };
        var fetches = new Option<int>("--fetches") { Description = "Warm fetches of each page kind per run", DefaultValueFactory = _ => 20 };
        var cache = new Option<string>("--cache")
        {
            Description = "Folder of the seeded databases, made on first use",
            DefaultValueFactory = _ => Path.Combine(Path.GetTempPath(), "messenger-bench-history"),
        };
        var seedTimeout = new Option<int>("--seed-timeout") { Description = "Deadline of seeding, in seconds", DefaultValueFactory = _ => 1200 };
        var timeout = new Option<int>("--timeout") { Description = "Deadline of one run, in seconds", DefaultValueFactory = _ => 120 };
        var command = new Command("history", "History pages from a lobby of 1,000,000 stored messages; start-up beside an empty database; bytes per message")
        {
            messages, runs, fetches, cache, seedTimeout, timeout, serverDll,
        };
        command.SetAction(async (p, _) =>
        {
            var rows = await new HistoryScenario(new(p.GetValue(messages), p.GetValue(runs), p.GetValue(fetches), p.GetValue(cache)!,
                TimeSpan.FromSeconds(p.GetValue(seedTimeout)), TimeSpan.FromSeconds(p.GetValue(timeout)), p.GetValue(serverDll))).RunAsync(r => r.Print());
            return rows.All(r => r.Get("status") == "ok") ? 0 : 1;
        });
        return command;
    }

    private static readonly string[] Kinds = ["recent50", "recent200", "deep50", "deep200"];

    public async Task<IReadOnlyList<BenchResult>> RunAsync(Action<BenchResult> onResult)
    {
        var o = options;
        var seed = new HistorySeed(o.CacheRoot, o.Messages, o.ServerDll);
        double? seeding = await seed.EnsureAsync(Console.Error, o.SeedDeadline);

        var listen = new Dictionary<bool, List<double>> { [false] = [], [true] = [] };
        var firstAnswer = new Dictionary<bool, List<double>> { [false] = [], [true] = [] };
        var rss = new Dictionary<bool, List<double>> { [false] = [], [true] = [] };
        var cold = Kinds.ToDictionary(k => k, _ => new List<double>());
        var warm = Kinds.ToDictionary(k => k, _ => new List<double>());
        string status = "ok";
        var random = new Random(5);
        for (int run = 0; run < o.Runs && status == "ok"; run++)
        {
            foreach (bool full in new[] { false, true })
            {
                var r = await RunOnceAsync(full ? seed.FullFolder : seed.EmptyFolder, full ? o.Messages : 0, seed.ServerHocon, random);
                if (r.Error is not null)
                {
                    status = $"{(full ? "full" : "empty")} run {run + 1}: {r.Error}";
                    break;
                }
                listen[full].Add(r.ListenSeconds);
                firstAnswer[full].Add(r.FirstAnswerSeconds);
                rss[full].Add(r.RssMb);
                foreach (var (kind, ms) in r.Cold) cold[kind].Add(ms);
                foreach (var (kind, ms) in r.Warm) warm[kind].AddRange(ms);
                Console.Error.WriteLine($"[history] run {run + 1} {(full ? "full" : "empty")}: listening {r.ListenSeconds:0.000} s, "
                    + $"first history {r.FirstAnswerSeconds:0.000} s, {string.Join(", ", r.Cold.Select(c => $"{c.Key} {c.Value:0.0} ms"))}");
            }
        }

        static double Median(List<double> values) => Stats.Percentile(Stats.Sorted(values), 50);
        var results = new List<BenchResult>();

        var history = new BenchResult("history").Add("messages", o.Messages).Add("runs", listen[true].Count).Add("fetches", o.Fetches);
        foreach (var kind in Kinds)
        {
            var sorted = Stats.Sorted(warm[kind]);
            history.Add($"{kind}_first_ms", Median(cold[kind]))
                .Add($"{kind}_p50_ms", Stats.Percentile(sorted, 50))
                .Add($"{kind}_p99_ms", Stats.Percentile(sorted, 99));
        }
        history.Add("status", status);
        results.Add(history);

        var startup = new BenchResult("startup").Add("messages", o.Messages).Add("runs", listen[true].Count)
            .Add("empty_listen_s", Median(listen[false])).Add("full_listen_s", Median(listen[true]))
            .Add("listen_ratio", Median(listen[true]) / Median(listen[false]))
            .Add("empty_first_history_s", Median(firstAnswer[false])).Add("full_first_history_s", Median(firstAnswer[true]))
            .Add("first_history_ratio", Median(firstAnswer[true]) / Median(firstAnswer[false]))
            .Add("empty_rss_mb", Median(rss[false])).Add("full_rss_mb", Median(rss[true]))
            .Add("status", status);
        results.Add(startup);

        var size = new BenchResult("dbsize").Add("messages", o.Messages);
        long journal = FileBytes(seed.FullFolder, DataStore.JournalFile), snapshots = FileBytes(seed.FullFolder, DataStore.SnapshotFile);
        long emptyBytes = FileBytes(seed.EmptyFolder, DataStore.JournalFile) + FileBytes(seed.EmptyFolder, DataStore.SnapshotFile);
        var (rows, payload) = HistorySeed.JournalPayload(seed.FullFolder);
        size.Add("journal_mb", journal / 1e6).Add("snapshots_mb", snapshots / 1e6).Add("empty_kb", emptyBytes / 1e3)
            .Add("bytes_per_message", (double)(journal + snapshots) / o.Messages)
            .Add("event_bytes_per_message", payload)
            .Add("journal_rows", rows)
            .Add("seeded_s", seeding ?? double.NaN)
            .Add("status", rows == o.Messages ? "ok" : $"{rows} rows");
        results.Add(size);
        foreach (var r in results) onResult(r);
        return results;
    }

    private static long FileBytes(string folder, string file)
    {
        var path = Path.Combine(folder, file);
        return (File.Exists(path) ? new FileInfo(path).Length : 0)
            + (File.Exists(path + "-wal") ? new FileInfo(path + "-wal").Length : 0);
    }

    private sealed record RunFigures(double ListenSeconds, double FirstAnswerSeconds, double RssMb,
        Dictionary<string, double> Cold, Dictionary<string, List<double>> Warm, string? Error);

    /// <summary>One fresh server on a copy of <paramref name="source"/>: start-up, then (with messages) the pages.</summary>
    private async Task<RunFigures> RunOnceAsync(string source, int messages, string hocon, Random random)
    {
        var o = options;
        var data = Directory.CreateTempSubdirectory("messenger-bench-history-data-").FullName;
        var files = Directory.CreateTempSubdirectory("messenger-bench-history-files-").FullName;
        var cold = new Dictionary<string, double>();
        var warm = Kinds.ToDictionary(k => k, _ => new List<double>());
        double listenSeconds = double.NaN, firstSeconds = double.NaN, rssMb = double.NaN;
        using var deadline = new CancellationTokenSource(o.Deadline);
        var cancel = deadline.Token;
        Task? reader = null;
        Reader? client = null;
        try
        {
            foreach (var file in new[] { DataStore.JournalFile, DataStore.SnapshotFile })
                File.Copy(Path.Combine(source, file), Path.Combine(data, file));
            long launch = Stopwatch.GetTimestamp();
            await using var server = await ServerProcess.StartAsync(files, hocon, ["--data", data], o.Deadline, o.ServerDll);
            listenSeconds = BenchConfig.SecondsSince(launch);
            client = new Reader(await LineSocket.ConnectAsync(server.Chat, 1 << 20, cancel, server.ClientTls));
            reader = client.Socket.ReadLinesAsync(client.OnLine, cancel);
            await client.Socket.SendAsync(LineSocket.Hello("reader"), cancel);
            await client.Welcome.Task.WaitAsync(cancel);
            var (first, firstAt) = await client.FetchAsync(null, 50, messages, cancel);
            firstSeconds = Stopwatch.GetElapsedTime(launch, firstAt).TotalSeconds;
            rssMb = server.RssBytes() / 1e6;
            if (messages == 0) return new(listenSeconds, firstSeconds, rssMb, cold, warm, null);
            cold["recent50"] = first;
            for (int round = -1; round < o.Fetches; round++)
            {
                foreach (var kind in round < 0 ? Kinds[1..] : Kinds)
                {
                    int limit = kind.EndsWith("200", StringComparison.Ordinal) ? 200 : 50;
                    long? before = kind.StartsWith("deep", StringComparison.Ordinal) ? random.NextInt64(1000, messages - 1000) : null;
                    var (ms, _) = await client.FetchAsync(before, limit, messages, cancel);
                    if (round < 0) cold[kind] = ms;
                    else warm[kind].Add(ms);
                }
            }
            return new(listenSeconds, firstSeconds, rssMb, cold, warm, null);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or IOException or TimeoutException)
        {
            return new(listenSeconds, firstSeconds, rssMb, cold, warm, cancel.IsCancellationRequested ? $"deadline after {o.Deadline.TotalSeconds:0} s" : e.Message);
        }
        finally
        {
            client?.Socket.Dispose();
            if (reader is not null) await reader.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
            foreach (var folder in new[] { data, files })
            {
                try { Directory.Delete(folder, true); } catch (IOException) { }
            }
        }
    }

    /// <summary>One logged-in client asking for pages one at a time; each answer is checked with the real codec.</summary>
    private sealed class Reader(LineSocket socket)
    {
        public LineSocket Socket => socket;
        public TaskCompletionSource Welcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource<(byte[] Line, long At)>? _answer;

        public bool OnLine(ReadOnlySpan<byte> line, long now)
        {
            if (line.StartsWith(Lines.Welcome)) Welcome.TrySetResult();
            else if (line.StartsWith("{\"type\":\"history\""u8) || line.StartsWith(Lines.Error))
            {
                if (Volatile.Read(ref _answer) is { } answer) answer.TrySetResult((line.ToArray(), now));
                else Welcome.TrySetException(new InvalidOperationException(Encoding.UTF8.GetString(line)));
            }
            return true;
        }

        /// <summary>
        /// Asks for the page below <paramref name="before"/> (null: the newest) and checks it holds the
        /// <paramref name="limit"/> ids expected of a lobby of <paramref name="messages"/>, in order.
        /// Returns the time from the request's write to the read of its answer, and when that read was.
        /// </summary>
        public async Task<(double Ms, long At)> FetchAsync(long? before, int limit, int messages, CancellationToken cancel)
        {
            var answer = new TaskCompletionSource<(byte[] Line, long At)>(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _answer, answer);
            var request = before is { } b
                ? $"{{\"type\":\"history\",\"room\":\"lobby\",\"before\":{b},\"limit\":{limit}}}\n"
                : $"{{\"type\":\"history\",\"room\":\"lobby\",\"limit\":{limit}}}\n";
            long sent = Stopwatch.GetTimestamp();
            await socket.SendAsync(Encoding.ASCII.GetBytes(request), cancel);
            var (line, at) = await answer.Task.WaitAsync(cancel);
            if (ChatCodec.ParseFrame(line).Value is not HistoryFrame page)
                throw new InvalidOperationException($"asked for history, got: {Encoding.UTF8.GetString(line)}");
            long end = (before ?? messages + 1L) - 1;
            long expected = Math.Min(limit, end);
            if (page.Messages.Count != expected || (expected > 0 && (page.Messages[^1].Id != end || page.Messages[0].Id != end - expected + 1)))
                throw new InvalidOperationException($"history before {before?.ToString() ?? "newest"} limit {limit}: got {page.Messages.Count} "
                    + $"messages, ids {page.Messages.FirstOrDefault()?.Id}..{page.Messages.LastOrDefault()?.Id}");
            return (Stopwatch.GetElapsedTime(sent, at).TotalMilliseconds, at);
        }
    }
}
