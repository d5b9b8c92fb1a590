using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using ScottPlot;

namespace Messenger.Bench;

/// <summary>Writes <c>latest.md</c>, <c>latest.csv</c> and the PNG plots of an <c>all</c> run.</summary>
public static class Report
{
    public static void Write(string folder, IReadOnlyList<BenchResult> rows, string command, TimeSpan took)
    {
        Directory.CreateDirectory(folder);
        var plots = new List<(string Title, string File)>();
        if (PlotGoodput(rows, Path.Combine(folder, "goodput-vs-loss.png"))) plots.Add(("Download goodput vs loss rate", "goodput-vs-loss.png"));
        if (PlotLatency(rows, Path.Combine(folder, "fanout-latency-cdf.png"))) plots.Add(("Fan-out delivery latency (CDF)", "fanout-latency-cdf.png"));
        if (PlotCpuPerDelivery(rows, Path.Combine(folder, "fanout-cpu.png"))) plots.Add(("Server CPU per delivery against load", "fanout-cpu.png"));

        var md = new StringBuilder();
        md.AppendLine("# Messenger benchmark results").AppendLine();
        md.AppendLine($"- run: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, took {took.TotalSeconds:0} s");
        md.AppendLine($"- command: `{command}`");
        foreach (var line in MachineInfo()) md.AppendLine($"- {line}");
        md.AppendLine().AppendLine("What each figure means: see [bench/README.md](../README.md).").AppendLine();
        foreach (var group in rows.GroupBy(r => r.Scenario))
        {
            md.AppendLine($"## {group.Key}").AppendLine();
            var keys = group.SelectMany(r => r.Fields.Select(f => f.Key)).Distinct().ToList();
            md.AppendLine("| " + string.Join(" | ", keys) + " |");
            md.AppendLine("|" + string.Concat(keys.Select(_ => "---|")));
            foreach (var r in group)
                md.AppendLine("| " + string.Join(" | ", keys.Select(k => (r.Get(k) ?? "").Replace("|", "\\|"))) + " |");
            md.AppendLine();
        }
        foreach (var (title, file) in plots) md.AppendLine($"## {title}").AppendLine().AppendLine($"![{title}]({file})").AppendLine();
        File.WriteAllText(Path.Combine(folder, "latest.md"), md.ToString());

        var allKeys = rows.SelectMany(r => r.Fields.Select(f => f.Key)).Distinct().ToList();
        var csv = new StringBuilder();
        csv.AppendLine(string.Join(',', allKeys.Prepend("scenario")));
        foreach (var r in rows) csv.AppendLine(string.Join(',', allKeys.Select(k => Csv(r.Get(k) ?? "")).Prepend(r.Scenario)));
        File.WriteAllText(Path.Combine(folder, "latest.csv"), csv.ToString());
    }

    private static string Csv(string value) =>
        value.IndexOfAny([',', '"', '\n']) >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;

    /// <summary>UDP single-client goodput against loss, with single-client TCP (and the plain-socket baseline) as lines.</summary>
    public static bool PlotGoodput(IReadOnlyList<BenchResult> rows, string path)
    {
        var downloads = rows.Where(r => r.Scenario == "download" && r.Get("clients") == "1").ToList();
        var tcp = downloads.FirstOrDefault(r => r.Get("via") == "tcp" && r.Get("status") == "ok");
        var udp = downloads.Where(r => r.Get("via") == "udp" && r.Get("status") == "ok").OrderBy(r => r.GetNumber("loss_pct")).ToList();
        if (tcp is null && udp.Count == 0) return false;
        var plot = new Plot();
        if (udp.Count > 0)
        {
            var scatter = plot.Add.Scatter(udp.Select(r => r.GetNumber("loss_pct")).ToArray(), udp.Select(r => r.GetNumber("goodput_mbps")).ToArray());
            scatter.LegendText = "reliable UDP (1 client)";
            scatter.MarkerSize = 8;
        }
        if (tcp is not null)
        {
            var line = plot.Add.HorizontalLine(tcp.GetNumber("goodput_mbps"));
            line.LegendText = $"TCP (1 client, no loss): {tcp.Get("goodput_mbps")} MB/s";
            var baseline = plot.Add.HorizontalLine(tcp.GetNumber("baseline_mbps"));
            baseline.LegendText = $"plain loopback socket: {tcp.Get("baseline_mbps")} MB/s";
            baseline.LinePattern = LinePattern.Dashed;
        }
        if (udp.Count == 0)
        {
            var note = downloads.FirstOrDefault(r => r.Get("via") == "udp")?.Get("status") ?? "UDP not run";
            plot.Add.Text($"UDP: {note}", 1, tcp!.GetNumber("goodput_mbps") / 2);
        }
        var sizeMb = (tcp ?? udp[0]).Get("verified_mb");
        plot.Title($"Download goodput vs datagram loss ({sizeMb} MB file, loopback)");
        plot.XLabel("loss rate each direction (%)");
        plot.YLabel("goodput (MB/s)");
        plot.Axes.SetLimits(-1, 21, 0, Math.Max(tcp?.GetNumber("baseline_mbps") ?? 0, udp.Select(r => r.GetNumber("goodput_mbps")).DefaultIfEmpty(0).Max()) * 1.15);
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 900, 550);
        return true;
    }

    /// <summary>The empirical CDF of fan-out delivery latency.</summary>
    public static bool PlotLatency(IReadOnlyList<BenchResult> rows, string path)
    {
        var fanout = rows.FirstOrDefault(r => r.Scenario == "fanout" && r.Series.ContainsKey("latency_ms") && r.Series["latency_ms"].Length > 0);
        if (fanout is null) return false;
        var (values, fractions) = Stats.Cdf(fanout.Series["latency_ms"], 800);
        var plot = new Plot();
        var scatter = plot.Add.ScatterLine(values, fractions.Select(f => f * 100).ToArray());
        scatter.LegendText = $"{fanout.Get("clients")} clients, {fanout.Get("senders")} senders, {fanout.Get("rate")} msg/s";
        plot.Title($"Fan-out delivery latency: p50 {fanout.Get("p50_ms")} ms, p99 {fanout.Get("p99_ms")} ms, max {fanout.Get("max_ms")} ms");
        plot.XLabel("latency, send to receive (ms)");
        plot.YLabel("deliveries at or below (%)");
        plot.Axes.SetLimitsX(0, Math.Min(values[^1], Stats.Percentile(fanout.Series["latency_ms"], 99.9) * 2) * 1.05);
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, 900, 550);
        return true;
    }

    /// <summary>
    /// The server's CPU per delivery against deliveries a second (log scale), one point per
    /// <c>fanout-cpu</c> row: the curve from light load to flood, and the cold first flood apart.
    /// </summary>
    public static bool PlotCpuPerDelivery(IReadOnlyList<BenchResult> rows, string path)
    {
        var sweep = rows.Where(r => r.Scenario == "fanout-cpu" && r.GetNumber("deliveries_per_s") > 0).ToList();
        if (sweep.Count == 0) return false;
        var warm = sweep.Where(r => r.Get("first_vs_warm") is null).OrderBy(r => r.GetNumber("deliveries_per_s")).ToList();
        var plot = new Plot();
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        foreach (var (runs, label) in new[] { (warm, "warm server"), (sweep.Except(warm).ToList(), "first flood after start") })
        {
            if (runs.Count == 0) continue;
            var xs = runs.Select(r => Math.Log10(r.GetNumber("deliveries_per_s"))).ToArray();
            var scatter = plot.Add.Scatter(xs, runs.Select(r => r.GetNumber("server_cpu_per_1k_deliveries_ms")).ToArray());
            scatter.LegendText = label;
            scatter.MarkerSize = 9;
            if (runs != warm) scatter.LineWidth = 0;
            foreach (var (x, r) in xs.Zip(runs)) ticks.AddMajor(x, $"{r.Get("load")}\n{r.GetNumber("deliveries_per_s") / 1000:0}k/s");
        }
        plot.Axes.Bottom.TickGenerator = ticks;
        plot.Title("Server CPU per delivery against load (loopback, C# load generator)");
        plot.XLabel("deliveries per second (log scale)");
        plot.YLabel("server CPU per delivery (µs)");
        plot.Axes.SetLimitsY(0, sweep.Max(r => r.GetNumber("server_cpu_per_1k_deliveries_ms")) * 1.15);
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 900, 550);
        return true;
    }

    public static IEnumerable<string> MachineInfo()
    {
        string cpu = "unknown";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException) { }
        string memory = "unknown";
        try
        {
            var total = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            memory = $"{long.Parse(new string(total.Where(char.IsDigit).ToArray()), CultureInfo.InvariantCulture) / 1024 / 1024.0:0.0} GiB";
        }
        catch (Exception e) when (e is IOException or InvalidOperationException) { }
        yield return $"machine: {Environment.ProcessorCount} cores, {cpu}, {memory} RAM, {RuntimeInformation.OSDescription}";
        yield return $"runtime: {RuntimeInformation.FrameworkDescription}, server GC {System.Runtime.GCSettings.IsServerGC}";
        var commit = Git("rev-parse --short HEAD");
        if (commit is not null) yield return $"commit: {commit}";
        // The machine is shared: other work on it moves every CPU figure, so say how busy it was.
        string? load = null;
        try { load = File.ReadAllText("/proc/loadavg").Split(' ', 4) is [var one, var five, var fifteen, _] ? $"{one}, {five}, {fifteen}" : null; }
        catch (IOException) { }
        if (load is not null) yield return $"load average (1, 5, 15 min) when written: {load}";
    }

    private static string? Git(string arguments)
    {
        try
        {
            var info = new ProcessStartInfo("git", arguments) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = ServerProcess.RepoRoot() };
            using var p = Process.Start(info)!;
            var output = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit(5000);
            return p.ExitCode == 0 && output.Length > 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; }
    }
}
