using System.Net;
using Messenger.Net;

namespace Messenger.Tests.Net;

/// <summary>The listener's connection bookkeeping, alone.</summary>
public class ConnectionLimitsTests
{
    private static readonly IPAddress A = IPAddress.Parse("10.0.0.1");
    private static readonly IPAddress B = IPAddress.Parse("10.0.0.2");
    private static readonly IPAddress C = IPAddress.Parse("10.0.0.3");

    private static long? Admit(ConnectionLimits limits, long id, IPAddress from)
    {
        Assert.Null(limits.TryAdmit(id, from, out long? displaced));
        return displaced;
    }

    [Fact]
    public void Total_and_per_address_limits_refuse_the_newcomer()
    {
        var limits = new ConnectionLimits(new ConnectionLimitSettings(Total: 3, PerAddress: 2, PreLogin: 10, IPv4Prefix: 32, IPv6Prefix: 128));
        Admit(limits, 1, A);
        Admit(limits, 2, A);
        Assert.Equal("max-connections-per-address", limits.TryAdmit(3, A, out _)!.Limit);
        Admit(limits, 4, B);
        Assert.Equal("max-connections", limits.TryAdmit(5, C, out _)!.Limit);
        limits.Release(1, A);
        Assert.Null(limits.TryAdmit(6, A, out _));
        Assert.Equal(3, limits.Open);
    }

    [Fact]
    public void A_full_pre_login_pool_makes_room_by_closing_the_oldest_of_the_address_holding_most()
    {
        var limits = new ConnectionLimits(new ConnectionLimitSettings(Total: 100, PerAddress: 100, PreLogin: 4, IPv4Prefix: 32, IPv6Prefix: 128));
        Admit(limits, 1, A);
        Admit(limits, 2, B);
        Admit(limits, 3, A);
        Admit(limits, 4, A);
        // A holds 3 of the 4 slots: a newcomer from C takes the slot of A's oldest.
        Assert.Equal(1, Admit(limits, 5, C));
        Assert.Equal(4, limits.PreLogin);
        Assert.Equal(5, limits.Open); // the displaced one is still open until it is released
        // Now A holds 2, B 1, C 1: a newcomer from B (1 < 2) displaces A's oldest again.
        Assert.Equal(3, Admit(limits, 6, B));
        // B now holds the most (2, A and C 1 each): a newcomer from B itself is refused.
        var refused = limits.TryAdmit(7, B, out long? none);
        Assert.Equal("max-pre-login", refused!.Limit);
        Assert.Null(none);
    }

    [Fact]
    public void Among_equal_addresses_the_oldest_connection_logging_in_gives_way()
    {
        var limits = new ConnectionLimits(new ConnectionLimitSettings(Total: 100, PerAddress: 100, PreLogin: 2, IPv4Prefix: 32, IPv6Prefix: 128));
        Admit(limits, 10, B);
        Admit(limits, 11, A);
        Assert.Equal(10, Admit(limits, 12, C));
        Assert.Equal(11, Admit(limits, 13, B));
    }

    [Fact]
    public void A_logged_in_connection_frees_its_pre_login_slot_and_can_never_be_displaced()
    {
        var limits = new ConnectionLimits(new ConnectionLimitSettings(Total: 100, PerAddress: 100, PreLogin: 2, IPv4Prefix: 32, IPv6Prefix: 128));
        Admit(limits, 1, A);
        Admit(limits, 2, A);
        limits.LoggedIn(1);
        Assert.Equal(1, limits.PreLogin);
        Assert.Null(Admit(limits, 3, B));
        Assert.Equal(2, Admit(limits, 4, C)); // not 1: it logged in
        limits.LoggedIn(2);                    // already displaced: nothing changes
        Assert.Equal(2, limits.PreLogin);
        limits.Release(2, A);
        limits.Release(1, A);
        Assert.Equal(2, limits.Open);
        Assert.Equal(2, limits.PreLogin);
    }

    [Fact]
    public void Pre_login_slots_are_shared_among_networks_not_addresses()
    {
        var limits = new ConnectionLimits(new ConnectionLimitSettings(Total: 100, PerAddress: 100, PreLogin: 3, IPv4Prefix: 24, IPv6Prefix: 64));
        Admit(limits, 1, IPAddress.Parse("10.0.7.1"));
        Admit(limits, 2, IPAddress.Parse("10.0.7.2"));
        Admit(limits, 3, IPAddress.Parse("10.0.8.1"));
        // 10.0.7.0/24 holds two slots, though each of its addresses holds one.
        Assert.Equal(1, Admit(limits, 4, IPAddress.Parse("10.0.9.1")));
        Assert.Equal("max-pre-login", limits.TryAdmit(5, IPAddress.Parse("10.0.8.200"), out _)!.Limit);
    }

    [Theory]
    [InlineData("10.1.2.3", "10.1.2.0")]
    [InlineData("::ffff:10.1.2.3", "10.1.2.0")]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::")]
    public void A_network_is_the_address_cut_to_its_prefix(string address, string network)
    {
        var settings = new ConnectionLimitSettings(1, 1, 1, IPv4Prefix: 24, IPv6Prefix: 64);
        Assert.Equal(IPAddress.Parse(network), settings.NetworkOf(IPAddress.Parse(address)));
    }
}
