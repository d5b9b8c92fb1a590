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

    [Theory]
    [InlineData("{\"type\":\"welcome\",\"user\":\"b\",\"users\":[\"a\",\"b\"]}", 2)]
    [InlineData("{\"type\":\"users\",\"users\":[]}", 0)]
    [InlineData("{\"type\":\"pong\"}", 0)]
    public void ListedUsers_counts_the_names_of_a_users_array(string line, int names) =>
        Assert.Equal(names, Lines.ListedUsers(System.Text.Encoding.UTF8.GetBytes(line)));
}
