using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Messenger.Accounts;
using Messenger.Chat;
using Messenger.Cluster;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.Chat;

/// <summary>One claims entity alone: probes for its accounts, its shard (its parent), a registry and connections.</summary>
public class NameClaimsSpec : TestKit
{
    private static readonly TimeSpan PassivateWhenEmpty = TimeSpan.FromMilliseconds(300);
    private readonly TestProbe _accounts;
    private readonly TestProbe _shard;
    private readonly TestProbe _registry;
    private readonly IActorRef _claims;

    public NameClaimsSpec() : base(InMemoryPersistence.Config())
    {
        _accounts = CreateTestProbe();
        _shard = CreateTestProbe();
        _registry = CreateTestProbe();
        // The shard probe is the entity's parent: it gets what the entity tells its shard.
        _claims = ActorOfAsTestActorRef<NameClaims>(NameClaims.Props(_accounts.Ref, PassivateWhenEmpty), _shard.Ref);
    }

    private TestProbe Claim(string name)
    {
        var connection = CreateTestProbe();
        _claims.Tell(new ToClaim(name, new Claim(name, null, connection.Ref)), _registry.Ref);
        var check = (CheckLogin)_accounts.ExpectMsg<ToAccount>(m => m.Name == name).Command;
        Assert.Equal(connection.Ref, check.Connection);
        return connection;
    }

    private TestProbe Held(string name)
    {
        var connection = Claim(name);
        _claims.Tell(new LoginAccepted(name, connection.Ref, []), _accounts.Ref);
        Assert.Equal(name, _registry.ExpectMsg<ClaimGranted>(g => g.Connection.Equals(connection.Ref)).User);
        Assert.Equal(_claims, _registry.LastSender);
        return connection;
    }

    private string Refusal(string name)
    {
        var rival = CreateTestProbe();
        _claims.Tell(new ToClaim(name, new Claim(name, null, rival.Ref)), _registry.Ref);
        // Skips any other answer still on its way (e.g. the refusals of a test's earlier retries).
        return _registry.FishForMessage<ClaimRefused>(r => r.Connection.Equals(rival.Ref)).Error.Code;
    }

    [Fact]
    public void Claims_must_hold_many_names_in_one_entity_and_free_each_on_its_own()
    {
        var alice = Held("alice");
        Held("bob");
        Assert.Equal(ErrorCodes.UsernameTaken, Refusal("ALICE"));
        Assert.Equal(ErrorCodes.UsernameTaken, Refusal("bob"));

        _claims.Tell(new ToClaim("alice", new Release(alice.Ref)), _registry.Ref);
        Claim("Alice"); // free again: asked of its account
        Assert.Equal(ErrorCodes.UsernameTaken, Refusal("bob"));
    }

    [Fact]
    public void Claims_must_refuse_a_rival_during_a_check_and_free_the_name_when_the_account_refuses()
    {
        var alice = Claim("alice");
        Assert.Equal(ErrorCodes.UsernameTaken, Refusal("alice"));
        var wrong = new ErrorFrame(ErrorCodes.WrongPassword, "wrong password");
        _claims.Tell(new LoginRefused("alice", alice.Ref, wrong), _accounts.Ref);
        Assert.Equal(wrong, _registry.ExpectMsg<ClaimRefused>().Error);
        Claim("alice");
    }

    [Fact]
    public void Claims_must_keep_what_arrives_during_a_check_and_handle_it_in_order_once_held()
    {
        var alice = Claim("alice");
        var bob = CreateTestProbe();
        for (int i = 1; i <= 3; i++) _claims.Tell(new ToClaim("alice", new DeliverPrivate("bob", "alice", $"pm{i}", i)), bob.Ref);
        alice.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        _claims.Tell(new LoginAccepted("alice", alice.Ref, []), _accounts.Ref);
        _registry.ExpectMsg<ClaimGranted>();
        for (int i = 1; i <= 3; i++)
        {
            Assert.Equal($"pm{i}", alice.ExpectMsg<PrivateMessageFrame>().Text);
            Assert.Equal($"pm{i}", bob.ExpectMsg<PrivateMessageFrame>().Text); // the echo
        }
    }

    [Fact]
    public void Claims_must_send_a_pm_to_a_free_name_to_its_account()
    {
        var bob = CreateTestProbe();
        _claims.Tell(new ToClaim("alice", new DeliverPrivate("bob", "alice", "later", 7)), bob.Ref);
        Assert.Equal(new QueueOffline("bob", "alice", "later", 7), _accounts.ExpectMsg<ToAccount>().Command);
        Assert.Equal(bob.Ref, _accounts.LastSender);
    }

    [Fact]
    public void Claims_must_free_a_name_when_its_holder_dies()
    {
        var alice = Held("alice");
        Held("bob");
        Sys.Stop(alice.Ref);
        AwaitAssert(() =>
        {
            _claims.Tell(new ToClaim("alice", new Claim("alice", null, CreateTestProbe().Ref)), _registry.Ref);
            _accounts.ExpectMsg<ToAccount>(TimeSpan.FromMilliseconds(200));
        }, TimeSpan.FromSeconds(5));
        Assert.Equal(ErrorCodes.UsernameTaken, Refusal("bob"));
    }

    [Fact]
    public void Claims_must_grant_a_reclaim_to_its_holder_and_refuse_it_to_another()
    {
        var alice = CreateTestProbe();
        _claims.Tell(new ToClaim("alice", new Reclaim("Alice", alice.Ref)), _registry.Ref);
        Assert.Equal("Alice", _registry.ExpectMsg<ClaimGranted>().User);
        _claims.Tell(new ToClaim("alice", new Reclaim("Alice", alice.Ref)), _registry.Ref);
        _registry.ExpectMsg<ClaimGranted>();
        _claims.Tell(new ToClaim("alice", new Reclaim("Alice", CreateTestProbe().Ref)), _registry.Ref);
        Assert.Equal(ErrorCodes.UsernameTaken, _registry.ExpectMsg<ClaimRefused>().Error.Code);
    }

    [Fact]
    public void Claims_must_not_passivate_while_a_name_is_held_and_must_once_none_is()
    {
        var alice = Held("alice");
        _shard.ReceiveWhile(TimeSpan.Zero, m => m); // what it asked while empty, before the claim
        _shard.ExpectNoMsg(PassivateWhenEmpty * 3);
        _claims.Tell(new ToClaim("alice", new Release(alice.Ref)), _registry.Ref);
        Assert.Equal(StopEntity.Instance, _shard.ExpectMsg<Passivate>(TimeSpan.FromSeconds(5)).StopMessage);
    }
}
