using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Messenger.Bench.Micro;

/// <summary>
/// Runs the micro-benchmarks in this process (no generated project to build) with a short job,
/// so the lot finishes in a couple of minutes; one result row per benchmark.
/// </summary>
public static class MicroRunner
{
    public static IReadOnlyList<BenchResult> Run(string artifacts, string? filter = null)
    {
        var job = Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithLaunchCount(1)
            .WithWarmupCount(2)
            .WithIterationCount(5)
            .WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(150));
        var config = ManualConfig.CreateEmpty()
            .AddJob(job)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddLogger(ConsoleLogger.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .WithArtifactsPath(artifacts)
            .WithOptions(ConfigOptions.JoinSummary);
        var types = new[] { typeof(ChatCodecBenchmarks), typeof(RudpCodecBenchmarks), typeof(WindowBenchmarks), typeof(CongestionBenchmarks) };
        if (filter is not null) types = types.Where(t => t.Name.Contains(filter, StringComparison.OrdinalIgnoreCase)).ToArray();
        var rows = new List<BenchResult>();
        foreach (var summary in BenchmarkRunner.Run(types, config))
        {
            foreach (var report in summary.Reports)
            {
                var row = new BenchResult("micro")
                    .Add("benchmark", report.BenchmarkCase.Descriptor.WorkloadMethodDisplayInfo.Trim('\''))
                    .Add("class", report.BenchmarkCase.Descriptor.Type.Name);
                if (report.ResultStatistics is { } stats)
                {
                    row.Add("mean_ns", stats.Mean).Add("stddev_ns", stats.StandardDeviation)
                        .Add("alloc_bytes", report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase) ?? -1)
                        .Add("status", "ok");
                }
                else row.Add("status", "failed");
                rows.Add(row);
            }
        }
        return rows.OrderBy(r => r.Get("class"), StringComparer.Ordinal).ToList();
    }
}
