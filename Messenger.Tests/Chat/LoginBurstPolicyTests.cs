using Messenger.Chat;

namespace Messenger.Tests.Chat;

public class LoginBurstPolicyTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public void A_step_needs_both_its_logins_and_its_allocation()
    {
        var policy = new LoginBurstPolicy(loginsPerStep: 3, bytesPerStep: 16 * MiB);
        Assert.False(policy.EndsStep(0, collectionsSoFar: 5));
        Assert.False(policy.EndsStep(20 * MiB, 5)); // enough allocated, 2 logins
        Assert.True(policy.EndsStep(21 * MiB, 5));  // the third login
        Assert.False(policy.EndsStep(22 * MiB, 6)); // the step's collection starts the next step
        Assert.False(policy.EndsStep(23 * MiB, 6));
        Assert.False(policy.EndsStep(30 * MiB, 6)); // 3 logins, 8 MiB since the step
        Assert.True(policy.EndsStep(38 * MiB, 6));
    }

    [Fact]
    public void A_collection_of_the_runtime_starts_the_step_again()
    {
        var policy = new LoginBurstPolicy(loginsPerStep: 2, bytesPerStep: 16 * MiB);
        Assert.False(policy.EndsStep(0, collectionsSoFar: 1));
        Assert.False(policy.EndsStep(40 * MiB, 2)); // the runtime collected: this is the step's first login
        Assert.False(policy.EndsStep(50 * MiB, 2)); // 2 logins, 10 MiB since
        Assert.True(policy.EndsStep(56 * MiB, 2));
    }

    [Fact]
    public void Logins_that_allocate_little_never_collect()
    {
        var policy = new LoginBurstPolicy(loginsPerStep: 1, bytesPerStep: 16 * MiB);
        for (int i = 0; i < 1000; i++) Assert.False(policy.EndsStep(i * 1024, 0));
    }
}
