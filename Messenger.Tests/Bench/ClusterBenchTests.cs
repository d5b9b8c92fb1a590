using System.Diagnostics;
using System.Text;
using Messenger.Bench;
using Messenger.Bench.Scenarios;

namespace Messenger.Tests.Bench;

/// <summary>The pure pieces of the fan-out and cluster benchmarks: delivery bookkeeping, ratios.</summary>
public class ClusterBenchTests
{
    private static ReadOnlySpan<byte> Ascii(string s) => Encoding.ASCII.GetBytes(s);

    [Fact]
    public void Delivery_log_counts_each_message_once_and_notes_reordering_per_sender()
    {
        var log = new DeliveryLog(senders: 2, messages: 3);
        long sent = Stopwatch.GetTimestamp();
        long now = sent + Stopwatch.Frequency / 100; // 10 ms later
        foreach (var (sender, seq) in new[] { (0, 0), (1, 1), (0, 2), (0, 1), (1, 1), (1, 0) })
            log.OnText(Ascii(DeliveryLog.Text(sender, seq, sent)), now);

        Assert.Equal(6, log.Received);
        Assert.Equal(5, log.Unique);
        Assert.Equal(1, log.Duplicates); // (1, 1) twice
        Assert.Equal(2, log.OutOfOrder); // (0, 1) after (0, 2); (1, 0) after (1, 1)
        Assert.Equal(0, log.Errors);
        Assert.Equal(5, log.LatencyCount);
        Assert.All(log.LatenciesMs, ms => Assert.Equal(10, ms, 3));
        Assert.Equal(now, log.LastReceiveTimestamp);
    }

    [Theory]
    [InlineData("hello")]
    [InlineData("0:1")]
    [InlineData("2:0:123")] // no such sender
    [InlineData("0:3:123")] // seq beyond the messages sent
    [InlineData("0:x:123")]
    public void Delivery_log_counts_an_unreadable_or_impossible_text_as_an_error(string text)
    {
        var log = new DeliveryLog(senders: 2, messages: 3);
        log.OnText(Ascii(text), Stopwatch.GetTimestamp());
        Assert.Equal((1, 0, 0), (log.Errors, log.Unique, log.Received));
    }

    [Fact]
    public void Ratios_divide_the_cluster_by_the_single_node_and_cross_node_by_same_node()
    {
        var single = new BenchResult("cluster").Add("nodes", 1).Add("deliveries_per_s", 100_000.0).Add("p99_ms", 10.0)
            .Add("server_cpu_per_1k_deliveries_ms", 4.0).Add("pm_same_p50_ms", 1.0).Add("pm_same_p99_ms", 8.0).Add("status", "ok");
        var cluster = new BenchResult("cluster").Add("nodes", 3).Add("deliveries_per_s", 50_000.0).Add("p99_ms", 40.0)
            .Add("server_cpu_per_1k_deliveries_ms", 12.0).Add("pm_same_p50_ms", 2.0).Add("pm_same_p99_ms", 8.0)
            .Add("pm_cross_p50_ms", 3.0).Add("pm_cross_p99_ms", 16.0).Add("status", "ok");

        var ratios = ClusterScenario.Ratios(cluster, single);

        Assert.Equal("3/1", ratios.Get("nodes"));
        Assert.Equal(0.5, ratios.GetNumber("deliveries_per_s_ratio"));
        Assert.Equal(4, ratios.GetNumber("p99_ms_ratio"));
        Assert.Equal(3, ratios.GetNumber("server_cpu_per_1k_deliveries_ms_ratio"));
        Assert.Equal(2, ratios.GetNumber("pm_same_p50_ms_ratio"));
        Assert.Equal(3, ratios.GetNumber("pm_cross_p50_vs_single"));
        Assert.Equal(1.5, ratios.GetNumber("pm_cross_p50_vs_same"));
        Assert.Equal(2, ratios.GetNumber("pm_cross_p99_vs_same"));
        Assert.True(double.IsNaN(ratios.GetNumber("p50_ms_ratio"))); // missing on both sides
        Assert.Equal("ok", ratios.Get("status"));
    }

    [Fact]
    public void Ratios_of_a_failed_run_are_marked_not_comparable()
    {
        var single = new BenchResult("cluster").Add("nodes", 1).Add("status", "ok");
        var cluster = new BenchResult("cluster").Add("nodes", 3).Add("status", "fan-out: stalled");
        Assert.NotEqual("ok", ClusterScenario.Ratios(cluster, single).Get("status"));
    }
}
