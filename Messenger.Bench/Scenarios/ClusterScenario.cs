using System.CommandLine;
using System.Text;

namespace Messenger.Bench.Scenarios;

/// <summary>
/// The same load on one node and on a cluster of several server processes on this machine, one
/// after the other in one run (issue 13): private-message latency between pairs of users on one
/// node and on two (<see cref="PmLatencyProbe"/>), 3 s with nobody talking, then the lobby fan-out of
/// <see cref="FanoutScenario"/> with client i on node i mod n, after a shorter unreported one. The nodes share one SQLite folder
/// (as nodes on one machine may); the others join the first through its cluster address. One row
/// per cluster size, and a row of ratios (cluster over one node). On a 2-core machine this shows
/// correctness and the cost of crossing nodes, not speed.
/// </summary>
public sealed class ClusterScenario(ClusterScenario.Options options)
{
    /// <param name="WarmupMessages">Messages each sender says in an unreported fan-out run before the measured one (every node's JIT warms up).</param>
    /// <param name="Deadline">Of each size's probes and fan-out (start-up and stop are bounded apart).</param>
    public sealed record Options(int Nodes, FanoutScenario.Options Fanout, int WarmupMessages, int PmPairs, int PmMessages, TimeSpan PmInterval, TimeSpan Deadline,
        string? ServerDll = null);

    private static readonly TimeSpan NodeStartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan IdleSample = TimeSpan.FromSeconds(3);

    /// <summary>Figures of the cluster's row divided by the single node's, as <c>NAME_ratio</c>.</summary>
    private static readonly string[] RatioKeys =
        ["deliveries_per_s", "p50_ms", "p99_ms", "server_cpu_per_1k_deliveries_ms", "server_rss_mb", "pm_same_p50_ms", "pm_same_p99_ms"];

    /// <summary>The <c>cluster</c> command: its options and what it runs.</summary>
    public static Command Command(Option<string?> serverDll)
    {
        var nodes = new Option<int>("--nodes") { Description = "Nodes of the cluster (run beside one node)", DefaultValueFactory = _ => 3 };
        var clients = new Option<int>("--clients") { Description = "Fan-out clients, spread over the nodes", DefaultValueFactory = _ => 200 };
        var senders = new Option<int>("--senders") { Description = "How many of them also send", DefaultValueFactory = _ => 5 };
        var messages = new Option<int>("--messages") { Description = "Messages each sender says", DefaultValueFactory = _ => 1000 };
        var warmup = new Option<int>("--warmup") { Description = "Messages each sender says in an unreported fan-out run first (0: none)", DefaultValueFactory = _ => 200 };
        var rate = new Option<double>("--rate") { Description = "Total messages per second over all senders", DefaultValueFactory = _ => FanoutDefaults.Rate };
        var pairs = new Option<int>("--pm-pairs") { Description = "Private-message pairs of each kind (same node, cross node)", DefaultValueFactory = _ => 6 };
        var pms = new Option<int>("--pm-messages") { Description = "Private messages each pair sends", DefaultValueFactory = _ => 200 };
        var pmInterval = new Option<int>("--pm-interval") { Description = "Milliseconds between one pair's private messages", DefaultValueFactory = _ => 20 };
        var timeout = new Option<int>("--timeout") { Description = "Hard deadline of each cluster size's probes and fan-out, in seconds", DefaultValueFactory = _ => 180 };
        var command = new Command("cluster", "Fan-out and private-message latency on N nodes beside one node, with ratios")
        {
            nodes, clients, senders, messages, warmup, rate, pairs, pms, pmInterval, timeout, serverDll,
        };
        command.SetAction(async (p, _) =>
        {
            var deadline = TimeSpan.FromSeconds(p.GetValue(timeout));
            var rows = await new ClusterScenario(new(p.GetValue(nodes),
                new FanoutScenario.Options(p.GetValue(clients), p.GetValue(senders), p.GetValue(messages), p.GetValue(rate), deadline),
                p.GetValue(warmup), p.GetValue(pairs), p.GetValue(pms), TimeSpan.FromMilliseconds(p.GetValue(pmInterval)), deadline, p.GetValue(serverDll)))
                .RunAsync(r => r.Print());
            Console.WriteLine(Table(rows));
            return rows.All(r => r.Get("status") == "ok") ? 0 : 1;
        });
        return command;
    }

    /// <summary>One node, then <see cref="Options.Nodes"/>, then the ratios: three rows.</summary>
    public async Task<IReadOnlyList<BenchResult>> RunAsync(Action<BenchResult> onRow)
    {
        if (options.Nodes < 2) throw new ArgumentException("--nodes must be 2 or more");
        Hosting.OpenFileLimit.Raise(options.Fanout.Clients * 2L + 4L * options.PmPairs + 512L * options.Nodes);
        var rows = new List<BenchResult>();
        foreach (var count in new[] { 1, options.Nodes })
        {
            rows.Add(await RunOnAsync(count));
            onRow(rows[^1]);
        }
        rows.Add(Ratios(rows[1], rows[0]));
        onRow(rows[^1]);
        return rows;
    }

    private async Task<BenchResult> RunOnAsync(int count)
    {
        var o = options;
        var files = Directory.CreateTempSubdirectory("messenger-bench-cluster-files-").FullName;
        var data = Directory.CreateTempSubdirectory("messenger-bench-cluster-data-").FullName;
        var nodes = new List<ServerProcess>();
        var row = new BenchResult("cluster").Add("nodes", count);
        try
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            nodes.Add(await ServerProcess.StartAsync(files, BenchConfig.ServerHocon, ["--data", data], NodeStartTimeout, o.ServerDll));
            var seed = nodes[0].ClusterSeed ?? throw new InvalidOperationException($"the first node named no cluster address:\n{nodes[0].LastLines()}");
            // Each node answers only once it is up in the cluster, so they start one after the other.
            for (int i = 1; i < count; i++)
                nodes.Add(await ServerProcess.StartAsync(files, BenchConfig.ServerHocon, ["--data", data, "--seed-node", seed], NodeStartTimeout, o.ServerDll));
            row.Add("start_s", BenchConfig.SecondsSince(start));

            using var deadline = new CancellationTokenSource(o.Deadline);
            var pm = await PmLatencyProbe.RunAsync(Pairs(nodes, o.PmPairs), $"p{count}-", o.PmMessages, o.PmInterval, deadline.Token);
            // What the nodes cost with nobody talking (cluster heartbeats and gossip, timers), apart from the load.
            double idleBefore = nodes.Sum(n => n.CpuSeconds()), idleJitBefore = nodes.Sum(n => n.JitCpuSeconds());
            long idleStart = System.Diagnostics.Stopwatch.GetTimestamp();
            await Task.Delay(IdleSample, deadline.Token);
            double idleSeconds = BenchConfig.SecondsSince(idleStart);
            row.Add("idle_cpu_cores", (nodes.Sum(n => n.CpuSeconds()) - idleBefore) / idleSeconds)
                .Add("idle_jit_cpu_cores", (nodes.Sum(n => n.JitCpuSeconds()) - idleJitBefore) / idleSeconds);
            if (o.WarmupMessages > 0) await new FanoutScenario(o.Fanout with { Messages = o.WarmupMessages }).RunOnAsync(nodes, $"w{count}-");
            var fanout = await new FanoutScenario(o.Fanout).RunOnAsync(nodes, $"f{count}-");
            row = fanout.As("cluster", [.. row.Fields.Select(f => (f.Key, f.Value))]);
            foreach (var kind in pm) kind.AddTo(row);
            var fanoutStatus = fanout.Get("status");
            return row.Add("status", fanoutStatus != "ok" ? $"fan-out: {fanoutStatus}"
                : pm.FirstOrDefault(k => !k.Clean) is { } bad ? $"pm {bad.Kind}: lost {bad.Lost}, out of order {bad.OutOfOrder}, errors {bad.Errors}"
                : "ok");
        }
        catch (OperationCanceledException)
        {
            return row.Add("status", $"deadline after {o.Deadline.TotalSeconds:0}s (private messages)");
        }
        finally
        {
            foreach (var node in Enumerable.Reverse(nodes)) await node.DisposeAsync();
            foreach (var folder in new[] { files, data })
            {
                try { Directory.Delete(folder, true); } catch (IOException) { }
            }
        }
    }

    /// <summary>
    /// <paramref name="perKind"/> pairs on one node each (<c>same</c>, the k-th on node k mod n) and,
    /// with two nodes or more, as many with the recipient on the next node (<c>cross</c>).
    /// </summary>
    public static IReadOnlyList<PmLatencyProbe.Pair> Pairs(IReadOnlyList<ServerProcess> nodes, int perKind)
    {
        var pairs = new List<PmLatencyProbe.Pair>();
        for (int k = 0; k < perKind; k++)
        {
            pairs.Add(new("same", nodes[k % nodes.Count], nodes[k % nodes.Count]));
            if (nodes.Count > 1) pairs.Add(new("cross", nodes[k % nodes.Count], nodes[(k + 1) % nodes.Count]));
        }
        return pairs;
    }

    /// <summary>
    /// The cluster's figures over the single node's (<c>NAME_ratio</c> for each of <see cref="RatioKeys"/>),
    /// and cross-node private-message latency over the single node's (<c>pm_cross_p50_vs_single</c>, <c>_p99_</c>)
    /// and over same-node latency in the cluster (<c>pm_cross_p50_vs_same</c>, <c>_p99_</c>). NaN where a figure is missing.
    /// </summary>
    public static BenchResult Ratios(BenchResult cluster, BenchResult single)
    {
        var ratios = new BenchResult("cluster-ratio").Add("nodes", $"{cluster.Get("nodes")}/{single.Get("nodes")}");
        foreach (var key in RatioKeys) ratios.Add(key + "_ratio", cluster.GetNumber(key) / single.GetNumber(key));
        foreach (var p in new[] { "p50", "p99" })
        {
            ratios.Add($"pm_cross_{p}_vs_single", cluster.GetNumber($"pm_cross_{p}_ms") / single.GetNumber($"pm_same_{p}_ms"));
            ratios.Add($"pm_cross_{p}_vs_same", cluster.GetNumber($"pm_cross_{p}_ms") / cluster.GetNumber($"pm_same_{p}_ms"));
        }
        bool both = cluster.Get("status") == "ok" && single.Get("status") == "ok";
        return ratios.Add("status", both ? "ok" : "not comparable: a run failed");
    }

    /// <summary>The rows side by side as a Markdown table, for the issue and bench/README.md.</summary>
    public static string Table(IReadOnlyList<BenchResult> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| nodes | deliveries/s | p50 ms | p99 ms | lost | dup | out of order | server CPU µs/delivery | server RSS MB | pm same node p50/p99 ms | pm cross node p50/p99 ms | status |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
        {
            string Pm(string kind, string suffix = "_ms") => r.Get($"pm_{kind}_p50{suffix}") is { } p50 ? $"{p50} / {r.Get($"pm_{kind}_p99{suffix}")}" : "";
            if (r.Scenario == "cluster")
                sb.AppendLine($"| {r.Get("nodes")} | {r.Get("deliveries_per_s")} | {r.Get("p50_ms")} | {r.Get("p99_ms")} | {r.Get("lost")} | {r.Get("duplicates")} | {r.Get("out_of_order")} | "
                    + $"{r.Get("server_cpu_per_1k_deliveries_ms")} | {r.Get("server_rss_mb")} | {Pm("same")} | {Pm("cross")} | {r.Get("status")} |");
            else
                sb.AppendLine($"| ratio {r.Get("nodes")} | {r.Get("deliveries_per_s_ratio")} | {r.Get("p50_ms_ratio")} | {r.Get("p99_ms_ratio")} | | | | "
                    + $"{r.Get("server_cpu_per_1k_deliveries_ms_ratio")} | {r.Get("server_rss_mb_ratio")} | {r.Get("pm_same_p50_ms_ratio")} / {r.Get("pm_same_p99_ms_ratio")} | "
                    + $"{Pm("cross", "_vs_single")} × one node's | {r.Get("status")} |");
        }
        return sb.ToString();
    }
}
