using System.Collections.Concurrent;
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

/// <summary>One claims entity alone, on the in-memory journal: probes for its accounts, its shard (its parent), a registry and connections.</summary>
public class NameClaimsSpec : TestKit
{
    private const int Bucket = 7;
    private static readonly Password Secret = new("correct horse");
    private readonly NameClaimSettings _settings;
    private readonly TestProbe _accounts;
    private readonly TestProbe _shard;
    private readonly TestProbe _registry;
    private IActorRef _claims;

    public NameClaimsSpec() : base(InMemoryPersistence.Config(GatedReadJournal.Hocon))
    {
        _settings = NameClaimSettings.FromConfig(Sys.Settings.Config) with { PassivateWhenEmpty = TimeSpan.FromMilliseconds(300) };
        _accounts = CreateTestProbe();
        _shard = CreateTestProbe();
        _registry = CreateTestProbe();
        _claims = StartBucket();
    }

    /// <summary>The shard probe is the entity's parent: it gets what the entity tells its shard.</summary>
    private IActorRef StartBucket() => ActorOfAsTestActorRef<NameClaims>(NameClaims.Props(_accounts.Ref, Bucket, _settings), _shard.Ref);

    /// <summary>A guest name: granted by the claims alone.</summary>
    private TestProbe Guest(string name)
    {
        var connection = CreateTestProbe();
        _claims.Tell(new ToClaim(name, new Claim(name, null, connection.Ref)), _registry.Ref);
        Assert.Equal(name, _registry.ExpectMsg<ClaimGranted>(g => g.Connection.Equals(connection.Ref)).User);
        Assert.Equal(_claims, _registry.LastSender);
        return connection;
    }

    /// <summary>Registers <paramref name="name"/> as its holder would, then frees it.</summary>
    private void Register(string name)
    {
        var holder = Guest(name);
        _claims.Tell(new ToClaim(name, new RegisterHeldName(Secret, holder.Ref)), _registry.Ref);
        var envelope = _accounts.ExpectMsg<ToAccount>();
        Assert.Equal(new Register(name, Secret), envelope.Command);
        Assert.Equal(holder.Ref, _accounts.LastSender); // the account answers the connection
        _claims.Tell(new ToClaim(name, new Release(holder.Ref)), _registry.Ref);
    }

    /// <summary>A claim on a registered name: its account is asked.</summary>
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
        _claims.Tell(new LoginAccepted(name, connection.Ref, OfflineMessages.None), _accounts.Ref);
        Assert.Equal(name, _registry.ExpectMsg<ClaimGranted>(g => g.Connection.Equals(connection.Ref)).User);
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
        var alice = Guest("alice");
        Guest("bob");
        Assert.Equal(ErrorCodes.UsernameTaken, Refusal("ALICE"));
        Assert.Equal(ErrorCodes.UsernameTaken, Refusal("bob"));

        _claims.Tell(new ToClaim("alice", new Release(alice.Ref)), _registry.Ref);
        Guest("Alice"); // free again
        Assert.Equal(ErrorCodes.UsernameTaken, Refusal("bob"));
    }

    [Fact]
    public void Claims_must_let_a_guest_in_and_answer_a_pm_to_an_unknown_name_without_its_account()
    {
        Guest("alice");
        var bob = CreateTestProbe();
        _claims.Tell(new ToClaim("carol", new DeliverPrivate("bob", "carol", "anyone?", 7)), bob.Ref);
        Assert.Equal(AccountActor.NoSuchUser("carol"), bob.ExpectMsg<ErrorFrame>());
        _accounts.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Claims_must_ask_the_account_of_a_name_registered_through_them()
    {
        Register("alice");
        Held("ALICE"); // asked of its account
        Assert.Equal(ErrorCodes.UsernameTaken, Refusal("alice"));
        var bob = CreateTestProbe();
        Register("carol");
        _claims.Tell(new ToClaim("carol", new DeliverPrivate("bob", "carol", "later", 7)), bob.Ref);
        Assert.Equal(new QueueOffline("bob", "carol", "later", 7), _accounts.ExpectMsg<ToAccount>().Command);
        Assert.Equal(bob.Ref, _accounts.LastSender);
    }

    [Fact]
    public void Claims_must_keep_the_registered_names_of_their_bucket_across_a_restart()
    {
        Register("alice");
        Guest("bob");
        Watch(_claims);
        _claims.Tell(StopEntity.Instance);
        ExpectTerminated(_claims);
        _claims = StartBucket();
        Claim("alice"); // still asked of its account
        Guest("dave");
    }

    [Fact]
    public void Claims_must_answer_a_wake_once_they_have_their_list_and_after_a_restart()
    {
        _claims.Tell(new WakeClaims(Bucket));
        Assert.Equal(Bucket, ExpectMsg<ClaimsAwake>().Bucket);
        Register("alice");
        Watch(_claims);
        _claims.Tell(StopEntity.Instance);
        ExpectTerminated(_claims);
        _claims = StartBucket();
        _claims.Tell(new WakeClaims(Bucket));
        Assert.Equal(Bucket, ExpectMsg<ClaimsAwake>().Bucket);
        Claim("alice"); // the list came back with it
    }

    [Fact]
    public void Claims_told_to_stop_while_they_build_their_list_must_answer_the_claims_that_came_first()
    {
        // Another bucket (its own journal), whose list of registered names is read through the gate.
        var building = ActorOfAsTestActorRef<NameClaims>(
            NameClaims.Props(_accounts.Ref, Bucket + 1, _settings with { RegisteredNamesReadJournal = GatedReadJournal.Id }), _shard.Ref);
        Watch(building);
        var alice = CreateTestProbe();
        building.Tell(new ToClaim("alice", new Claim("alice", null, alice.Ref)), _registry.Ref);
        building.Tell(StopEntity.Instance); // its shard passivates it, or hands it to another node
        GatedReadJournal.Open([]);
        Assert.Equal("alice", _registry.ExpectMsg<ClaimGranted>(g => g.Connection.Equals(alice.Ref)).User);
        ExpectTerminated(building);
    }

    /// <summary>A claim region stand-in: bucket 1 ignores its first wake (its recovery failed), bucket 2 never answers.</summary>
    private sealed class SleepyRegion : ReceiveActor
    {
        public SleepyRegion(ConcurrentDictionary<int, int> wakes) =>
            Receive<WakeClaims>(wake =>
            {
                int count = wakes.AddOrUpdate(wake.Bucket, 1, (_, n) => n + 1);
                if (wake.Bucket == 0 || wake.Bucket == 1 && count > 1) Sender.Tell(new ClaimsAwake(wake.Bucket));
            });
    }

    [Fact]
    public async Task Waking_every_bucket_wakes_again_those_that_did_not_answer_and_gives_up_on_time()
    {
        var wakes = new ConcurrentDictionary<int, int>();
        var region = Sys.ActorOf(Akka.Actor.Props.Create(() => new SleepyRegion(wakes)));
        var settings = _settings with { Buckets = 3, WakeRetry = TimeSpan.FromMilliseconds(200), WakeTimeout = TimeSpan.FromSeconds(1) };

        var started = System.Diagnostics.Stopwatch.StartNew();
        var asleep = await NameClaims.WakeAllAsync(region, settings);

        Assert.Equal([2], asleep);
        Assert.Equal(1, wakes[0]); // answered at once: woken once
        Assert.Equal(2, wakes[1]); // woken again after the retry, then answered
        Assert.True(wakes[2] >= 3, $"bucket 2 was woken {wakes[2]} times"); // again at every retry until the timeout
        Assert.InRange(started.Elapsed, settings.WakeTimeout, settings.WakeTimeout * 3);
    }

    [Fact]
    public void Claims_must_refuse_to_register_a_name_for_a_connection_that_does_not_hold_it()
    {
        Guest("alice");
        var stranger = CreateTestProbe();
        _claims.Tell(new ToClaim("alice", new RegisterHeldName(Secret, stranger.Ref)), _registry.Ref);
        Assert.Equal(ErrorCodes.NotLoggedIn, stranger.ExpectMsg<ErrorFrame>().Code);
        _claims.Tell(new ToClaim("zed", new RegisterHeldName(Secret, stranger.Ref)), _registry.Ref);
        Assert.Equal(ErrorCodes.NotLoggedIn, stranger.ExpectMsg<ErrorFrame>().Code);
        _accounts.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Guest("zed"); // still a guest name
    }

    [Fact]
    public void Claims_must_refuse_a_rival_during_a_check_and_free_the_name_when_the_account_refuses()
    {
        Register("alice");
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
        Register("alice");
        var alice = Claim("alice");
        var bob = CreateTestProbe();
        for (int i = 1; i <= 3; i++) _claims.Tell(new ToClaim("alice", new DeliverPrivate("bob", "alice", $"pm{i}", i)), bob.Ref);
        alice.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        _claims.Tell(new LoginAccepted("alice", alice.Ref, OfflineMessages.None), _accounts.Ref);
        _registry.ExpectMsg<ClaimGranted>();
        for (int i = 1; i <= 3; i++)
        {
            Assert.Equal($"pm{i}", alice.ExpectMsg<PrivateMessageFrame>().Text);
            Assert.Equal($"pm{i}", bob.ExpectMsg<PrivateMessageFrame>().Text); // the echo
        }
    }

    [Fact]
    public void Claims_must_free_a_name_when_its_holder_dies()
    {
        var alice = Guest("alice");
        Guest("bob");
        Sys.Stop(alice.Ref);
        AwaitAssert(() =>
        {
            var next = CreateTestProbe();
            _claims.Tell(new ToClaim("alice", new Claim("alice", null, next.Ref)), _registry.Ref);
            _registry.FishForMessage<ClaimGranted>(g => g.Connection.Equals(next.Ref), TimeSpan.FromMilliseconds(200));
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
        var alice = Guest("alice");
        _shard.ReceiveWhile(TimeSpan.Zero, m => m); // what it asked while empty, before the claim
        _shard.ExpectNoMsg(_settings.PassivateWhenEmpty * 3);
        _claims.Tell(new ToClaim("alice", new Release(alice.Ref)), _registry.Ref);
        Assert.Equal(StopEntity.Instance, _shard.ExpectMsg<Passivate>(TimeSpan.FromSeconds(5)).StopMessage);
    }
}
