using Messenger.Hosting;

namespace Messenger.Tests.Hosting;

public class IdleTrimPolicyTests
{
    private const long Quiet = 8 << 20;

    /// <summary>What the policy answers to each check, given the bytes allocated since the previous one.</summary>
    private static bool[] Checks(params long[] allocatedPerCheck)
    {
        long total = 123 << 20; // what starting allocated
        var policy = new IdleTrimPolicy(Quiet, total);
        return allocatedPerCheck.Select(a => policy.ShouldTrim(total += a)).ToArray();
    }

    [Fact]
    public void A_server_that_was_never_busy_is_never_trimmed() =>
        Assert.Equal([false, false, false], Checks(1 << 20, 0, 2 << 20));

    [Fact]
    public void The_first_quiet_check_after_a_busy_one_trims_once() =>
        Assert.Equal([false, false, true, false, false], Checks(1 << 20, 300 << 20, 1 << 20, 1 << 20, 0));

    [Fact]
    public void A_busy_spell_over_several_checks_is_trimmed_once_it_ends() =>
        Assert.Equal([false, false, false, true], Checks(Quiet, 50 << 20, Quiet, Quiet - 1));

    [Fact]
    public void Every_busy_spell_gets_its_own_trim() =>
        Assert.Equal([false, true, false, false, true], Checks(Quiet, 0, 0, 100 << 20, 0));
}
