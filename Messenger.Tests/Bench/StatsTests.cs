using Messenger.Bench;

namespace Messenger.Tests.Bench;

public class StatsTests
{
    [Fact]
    public void Percentile_interpolates_between_the_nearest_ranks()
    {
        double[] sorted = [10, 20, 30, 40];
        Assert.Equal(10, Stats.Percentile(sorted, 0));
        Assert.Equal(40, Stats.Percentile(sorted, 100));
        Assert.Equal(25, Stats.Percentile(sorted, 50), 9);
        Assert.Equal(37, Stats.Percentile(sorted, 90), 9); // rank 2.7: 30 + 0.7 × 10
    }

    [Fact]
    public void Percentile_of_one_value_is_that_value_and_of_none_is_nan()
    {
        Assert.Equal(7, Stats.Percentile([7.0], 99));
        Assert.True(double.IsNaN(Stats.Percentile(Array.Empty<double>(), 50)));
    }

    [Fact]
    public void Percentile_rejects_a_percent_outside_0_to_100()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Stats.Percentile([1.0], 101));
        Assert.Throws<ArgumentOutOfRangeException>(() => Stats.Percentile([1.0], -1));
    }

    [Fact]
    public void Percentile_of_1_to_100_matches_the_textbook()
    {
        var sorted = Stats.Sorted(Enumerable.Range(1, 100).Select(i => (double)(101 - i)));
        Assert.Equal(50.5, Stats.Percentile(sorted, 50), 9);
        Assert.Equal(99.01, Stats.Percentile(sorted, 99), 9);
    }

    [Fact]
    public void Jain_index_is_one_for_equal_shares_and_one_over_n_when_one_takes_all()
    {
        Assert.Equal(1, Stats.JainIndex([5.0, 5, 5, 5]), 12);
        Assert.Equal(0.25, Stats.JainIndex([8.0, 0, 0, 0]), 12);
    }

    [Fact]
    public void Jain_index_of_uneven_shares_matches_the_formula()
    {
        // (1+2+3)² / (3 × (1+4+9)) = 36 / 42
        Assert.Equal(36.0 / 42, Stats.JainIndex([1.0, 2, 3]), 12);
    }

    [Fact]
    public void Jain_index_edge_cases()
    {
        Assert.True(double.IsNaN(Stats.JainIndex(Array.Empty<double>())));
        Assert.Equal(1, Stats.JainIndex([0.0, 0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Stats.JainIndex([1.0, -1]));
    }

    [Fact]
    public void Cdf_is_thinned_to_the_requested_points_and_ends_at_the_maximum()
    {
        var sorted = Stats.Sorted(Enumerable.Range(0, 10_000).Select(i => (double)i));
        var (values, fractions) = Stats.Cdf(sorted, 100);
        Assert.Equal(100, values.Length);
        Assert.Equal(0, values[0]);
        Assert.Equal(9999, values[^1]);
        Assert.Equal(1, fractions[^1], 12);
        Assert.True(fractions.Zip(fractions.Skip(1)).All(p => p.Item1 <= p.Item2));
    }

    [Fact]
    public void Result_lines_are_machine_readable_and_markdown()
    {
        var r = new BenchResult("fanout").Add("clients", 200).Add("p99_ms", 12.3456).Add("status", "not available: soon");
        Assert.Equal("scenario=fanout clients=200 p99_ms=12.35 status=not_available:_soon", r.SummaryLine());
        Assert.Equal("| fanout | 200 | 12.35 | not available: soon |", r.MarkdownRow());
        Assert.Equal(12.35, r.GetNumber("p99_ms"), 9);
    }

    [Fact]
    public void Proc_stat_cpu_fields_are_read_past_a_thread_name_with_spaces()
    {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
        var stat = "1234 (.NET TP Worker) S 1 1 1 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        Assert.Equal(300.0 / Native.ClockTicksPerSecond, ServerProcess.ParseCpu(stat), 9);
    }
}
