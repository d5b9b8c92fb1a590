using Messenger.Bench;
using Messenger.Bench.Scenarios;

namespace Messenger.Tests.Bench;

/// <summary>The fan-out benchmark at smoke size against a real server process: it must finish, not wait out its deadline.</summary>
public class FanoutScenarioTests
{
    [Fact]
    public async Task A_small_fanout_run_delivers_everything_once_in_order()
    {
        var result = await new FanoutScenario(new(Clients: 30, Senders: 3, Messages: 50, Rate: 0, TimeSpan.FromSeconds(90),
            Path.Combine(AppContext.BaseDirectory, "Messenger.Server.dll"))).RunAsync();
        Assert.Equal("ok", result.Get("status"));
    }

    [Fact]
    public void The_sweep_table_gives_each_runs_cpu_per_delivery_and_the_share_of_the_jit()
    {
        static BenchResult Row(string load, string deliveries, string cpuPerThousand, string jit, string cpu) =>
            new BenchResult("fanout").Add("clients", "50").Add("deliveries_per_s", deliveries).Add("p50_ms", "4.7").Add("p99_ms", "27.9")
                .Add("lost", "0").Add("out_of_order", "0").Add("server_cpu_s", cpu).Add("server_jit_cpu_s", jit)
                .Add("server_cpu_per_1k_deliveries_ms", cpuPerThousand).Add("status", "ok").As("fanout-cpu", ("load", load));
        var first = Row("flood, first run", "983514", "0.765", "0.43", "3.06").Add("first_vs_warm", "1.38");
        var table = FanoutSweep.Table([first, Row("250.0k/s", "249710", "2.776", "0.66", "3.47")]);

        Assert.Contains("| 250.0k/s | 50 | 249710 | 2.776 | 0.66 of 3.47 | 4.7 | 27.9 | 0 | 0 | ok |", table);
        Assert.Contains("First flood after start: 1.38 × the warm flood's deliveries/s.", table);
    }

    [Theory]
    [InlineData("{\"type\":\"welcome\",\"user\":\"b\",\"users\":[\"a\",\"b\"]}", 2)]
    [InlineData("{\"type\":\"users\",\"users\":[]}", 0)]
    [InlineData("{\"type\":\"pong\"}", 0)]
    public void ListedUsers_counts_the_names_of_a_users_array(string line, int names) =>
        Assert.Equal(names, Lines.ListedUsers(System.Text.Encoding.UTF8.GetBytes(line)));
}
