using Akka.Configuration;
using Messenger.Hosting;

namespace Messenger.Tests.Hosting;

// Only settings that leave this test process's thread pool as it is: raising the floor is the server process's business.
public class ThreadPoolMinimumTests
{
    private static Config With(int minWorkers) =>
        ServerConfig.Load(overrides: ConfigurationFactory.ParseString($"messenger.thread-pool.min-workers = {minWorkers}"));

    [Fact]
    public void The_server_configuration_sets_a_floor()
    {
        Assert.True(ServerConfig.Load(overrides: ConfigurationFactory.ParseString("")).GetInt("messenger.thread-pool.min-workers") > 0);
    }

    [Fact]
    public void A_floor_at_or_under_the_runtime_s_own_leaves_the_pool_as_it_is()
    {
        ThreadPool.GetMinThreads(out int before, out _);
        Assert.Equal(before, ThreadPoolMinimum.Apply(With(0)));
        Assert.Equal(before, ThreadPoolMinimum.Apply(With(1)));
        ThreadPool.GetMinThreads(out int after, out _);
        Assert.Equal(before, after);
    }

    [Fact]
    public void A_negative_floor_is_refused() =>
        Assert.Throws<ConfigurationException>(() => ThreadPoolMinimum.Apply(With(-1)));
}
