using Akka.Configuration;
using Messenger.Hosting;
using Messenger.Rudp;

namespace Messenger.Tests.Rudp;

public sealed class RudpServerLimitsTests
{
    private static RudpServerLimits Limits(string hocon = "") =>
        RudpServerLimits.FromConfig(ServerConfig.Load(overrides: ConfigurationFactory.ParseString(hocon)));

    [Fact]
    public void Each_shipped_limit_can_be_reached_before_max_transfers_which_counts_the_others()
    {
        var limits = Limits();
        Assert.InRange(limits.MaxHalfOpen, 1, limits.MaxTransfers - 1);
        Assert.InRange(limits.MaxTransfersPerAddress, 1, limits.MaxTransfers - 1);
    }

    [Theory]
    [InlineData("messenger.rudp { max-transfers = 16, max-half-open = 17 }", "max-half-open (17)")]
    [InlineData("messenger.rudp { max-transfers = 16, max-half-open = 8, max-transfers-per-address = 17 }", "max-transfers-per-address (17)")]
    public void A_limit_above_max_transfers_is_refused_at_start(string hocon, string named)
    {
        var e = Assert.Throws<ConfigurationException>(() => Limits(hocon));
        Assert.Contains(named, e.Message);
        Assert.Contains("max-transfers (16)", e.Message);
    }
}
