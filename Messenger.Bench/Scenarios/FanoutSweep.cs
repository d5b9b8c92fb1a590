namespace Messenger.Bench.Scenarios;

/// <summary>
/// The server's CPU per delivery across loads, on one server process: first a flood on the
/// freshly started server (how fast it is before the JIT has warmed up), then one paced run at the
/// highest rate that is not reported (the paced path, small journal batches among it, is still
/// being recompiled after the flood: several seconds of the JIT's CPU would fall on the first
/// measured rate), then paced runs at each rate of <see cref="Options.Rates"/> (deliveries a
/// second: messages a second × clients), then the same flood again, warm. One row per reported
/// run, with <c>load</c> naming it, and on the first row <c>first_vs_warm</c>: its deliveries a
/// second over the warm flood's.
/// </summary>
public sealed class FanoutSweep(FanoutSweep.Options options)
{
    /// <param name="Clients">Clients of the paced runs.</param>
    /// <param name="FloodClients">Clients of the two floods.</param>
    /// <param name="Senders">Senders in every run.</param>
    /// <param name="Rates">Deliveries a second of the paced runs.</param>
    /// <param name="Seconds">How long each paced run sends.</param>
    /// <param name="FloodMessages">Messages each sender says in a flood.</param>
    public sealed record Options(int Clients, int FloodClients, int Senders, double[] Rates, double Seconds, int FloodMessages,
        TimeSpan DeadlinePerRun, string? ServerDll = null);

    public async Task<IReadOnlyList<BenchResult>> RunAsync(Action<BenchResult> onRow)
    {
        var o = options;
        Hosting.OpenFileLimit.Raise(Math.Max(o.Clients, o.FloodClients) * 2L + 256);
        var emptyFolder = Directory.CreateTempSubdirectory("messenger-bench-sweep-").FullName;
        var rows = new List<BenchResult>();
        try
        {
            await using var server = await ServerProcess.StartAsync(emptyFolder, BenchConfig.ServerHocon, serverDll: o.ServerDll);
            var flood = new FanoutScenario.Options(o.FloodClients, o.Senders, o.FloodMessages, 0, o.DeadlinePerRun);
            async Task<BenchResult> Run(string load, FanoutScenario.Options run)
            {
                var row = await new FanoutScenario(run).RunOnAsync(server, $"s{rows.Count}-");
                var named = row.As("fanout-cpu", ("load", load));
                rows.Add(named);
                onRow(named);
                return named;
            }
            FanoutScenario.Options Paced(double rate)
            {
                double messagesPerSecond = rate / o.Clients;
                int perSender = Math.Max(1, (int)Math.Round(messagesPerSecond * o.Seconds / o.Senders));
                return new FanoutScenario.Options(o.Clients, o.Senders, perSender, messagesPerSecond, o.DeadlinePerRun);
            }
            var first = await Run("flood, first run", flood);
            await new FanoutScenario(Paced(o.Rates.Max())).RunOnAsync(server, "warm-");
            foreach (var rate in o.Rates) await Run(BenchResult.Format(rate / 1000) + "k/s", Paced(rate));
            var warm = await Run("flood", flood);
            first.Add("first_vs_warm", first.GetNumber("deliveries_per_s") / warm.GetNumber("deliveries_per_s"));
            return rows;
        }
        finally
        {
            try { Directory.Delete(emptyFolder, true); } catch (IOException) { }
        }
    }

    /// <summary>The sweep as a Markdown table: load, deliveries a second, CPU per delivery, latency, losses.</summary>
    public static string Table(IReadOnlyList<BenchResult> rows)
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine("| load | clients | deliveries/s | server CPU µs per delivery | of which the JIT thread, s | p50 ms | p99 ms | lost | out of order | status |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
            sb.AppendLine($"| {r.Get("load")} | {r.Get("clients")} | {r.Get("deliveries_per_s")} | {r.Get("server_cpu_per_1k_deliveries_ms")} | {r.Get("server_jit_cpu_s")} of {r.Get("server_cpu_s")} | {r.Get("p50_ms")} | {r.Get("p99_ms")} | {r.Get("lost")} | {r.Get("out_of_order")} | {r.Get("status")} |");
        var first = rows.FirstOrDefault(r => r.Get("first_vs_warm") is not null);
        if (first is not null) sb.AppendLine().AppendLine($"First flood after start: {first.Get("first_vs_warm")} × the warm flood's deliveries/s.");
        return sb.ToString();
    }
}
