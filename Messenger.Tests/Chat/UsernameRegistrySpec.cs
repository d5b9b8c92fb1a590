using System.Net;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Messenger.Accounts;
using Messenger.Chat;
using Messenger.Hosting;
using Messenger.Protocol;
using Messenger.Rooms;
using Messenger.Tests.Support;

namespace Messenger.Tests.Chat;

/// <summary>The registry with a real room directory (in-memory journal) behind it.</summary>
public class UsernameRegistrySpec : TestKit
{
    private static readonly TokenBucketSettings Unlimited = new(1e9, 1_000_000); // registrations are not under test here
    private const long Clock = 1764000000000;
    private readonly IActorRef _rooms;
    private readonly IActorRef _claims;
    private readonly IActorRef _presence;
    private readonly IActorRef _registry;

    public UsernameRegistrySpec() : base(InMemoryPersistence.Config())
    {
        ClusterOfOne.Join(Sys);
        var chat = ChatServices.Start(Sys, RoomSettings.FromConfig(Sys.Settings.Config),
            AccountSettings.FromConfig(Sys.Settings.Config), unixMillisClock: () => Clock);
        (_rooms, _claims, _presence, _registry) = (chat.Rooms, chat.Claims, chat.Presence, chat.Registry);
    }

    private Akka.TestKit.TestProbe LoggedIn(string name)
    {
        var probe = CreateTestProbe();
        _registry.Tell(new ClaimName(name, IPAddress.Loopback), probe.Ref);
        Assert.Equal(name, probe.ExpectMsg<NameClaimed>().Welcome.User);
        return probe;
    }

    [Fact]
    public void Registry_must_welcome_a_free_name_with_the_sorted_online_list()
    {
        LoggedIn("carol");
        LoggedIn("Bob");
        var alice = CreateTestProbe();
        _registry.Tell(new ClaimName("alice", IPAddress.Loopback), alice.Ref);
        Assert.Equal(["alice", "Bob", "carol"], alice.ExpectMsg<NameClaimed>().Welcome.Users);
    }

    [Fact]
    public void Registry_must_refuse_a_taken_name_ignoring_case()
    {
        LoggedIn("Alice");
        var other = CreateTestProbe();
        _registry.Tell(new ClaimName("aLICE", IPAddress.Loopback), other.Ref);
        Assert.Equal(ErrorCodes.UsernameTaken, other.ExpectMsg<NameRefused>().Error.Code);
    }

    [Fact]
    public void Registry_must_refuse_a_second_name_for_one_connection()
    {
        var alice = LoggedIn("alice");
        _registry.Tell(new ClaimName("alice2", IPAddress.Loopback), alice.Ref);
        Assert.Equal(ErrorCodes.AlreadyLoggedIn, alice.ExpectMsg<NameRefused>().Error.Code);
    }

    [Fact]
    public void Registry_must_tell_others_in_the_lobby_who_joined()
    {
        var alice = LoggedIn("alice");
        LoggedIn("bob");
        Assert.Equal(new JoinedFrame("bob", RoomNames.Lobby), alice.ExpectMsg<JoinedFrame>());
    }

    [Fact]
    public void Registry_must_free_name_when_connection_dies()
    {
        var alice = LoggedIn("alice");
        var bob = LoggedIn("bob");
        alice.ExpectMsg<JoinedFrame>();
        Sys.Stop(bob.Ref);
        Assert.Equal(new LeftFrame("bob", LeaveReasons.Disconnected, RoomNames.Lobby), alice.ExpectMsg<LeftFrame>());
        AwaitAssert(() =>
        {
            var again = CreateTestProbe();
            _registry.Tell(new ClaimName("BOB", IPAddress.Loopback), again.Ref);
            again.ExpectMsg<NameClaimed>(TimeSpan.FromMilliseconds(500));
        }, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Registry_must_free_name_on_leave_with_the_reason_and_confirm()
    {
        var alice = LoggedIn("alice");
        var bob = LoggedIn("bob");
        alice.ExpectMsg<JoinedFrame>();
        _registry.Tell(new LeaveChat(LeaveReasons.Quit), bob.Ref);
        bob.ExpectMsg<LeftChat>();
        Assert.Equal(new LeftFrame("bob", LeaveReasons.Quit, RoomNames.Lobby), alice.ExpectMsg<LeftFrame>());
        _registry.Tell(ListUsers.Instance, alice.Ref);
        Assert.Equal(["alice"], alice.ExpectMsg<UsersFrame>().Users);
    }

    [Fact]
    public void Lobby_must_deliver_to_everyone_including_the_sender_with_server_set_from_and_ids()
    {
        var alice = LoggedIn("alice");
        var bob = LoggedIn("bob");
        alice.ExpectMsg<JoinedFrame>();
        _rooms.Tell(new ToRoom(RoomNames.Lobby, new PostToRoom("alice", "hi")), alice.Ref);
        _rooms.Tell(new ToRoom(RoomNames.Lobby, new PostToRoom("alice", "again")), alice.Ref);
        var first = new MessageFrame("alice", "hi", Clock, RoomNames.Lobby, 1);
        var second = new MessageFrame("alice", "again", Clock, RoomNames.Lobby, 2);
        Assert.Equal([first, second], alice.ExpectMessages(2));
        Assert.Equal([first, second], bob.ExpectMessages(2));
    }

    [Fact]
    public void Leaving_must_deliver_the_leavers_own_last_message_before_the_confirmation()
    {
        var alice = LoggedIn("alice");
        _rooms.Tell(new ToRoom(RoomNames.Lobby, new PostToRoom("alice", "last words")), alice.Ref);
        _registry.Tell(new LeaveChat(LeaveReasons.Quit), alice.Ref);
        Assert.Equal("last words", alice.ExpectMessage().Text);
        alice.ExpectMsg<LeftChat>();
    }

    [Fact]
    public void Registry_must_deliver_a_pm_to_the_recipient_and_echo_it_once()
    {
        var alice = LoggedIn("alice");
        var bob = LoggedIn("Bob");
        var carol = LoggedIn("carol");
        alice.ExpectMsg<JoinedFrame>(); alice.ExpectMsg<JoinedFrame>(); bob.ExpectMsg<JoinedFrame>();

        _registry.Tell(new SendPrivate("BOB", "psst"), alice.Ref);
        var expected = new PrivateMessageFrame("alice", "Bob", "psst", Clock);
        Assert.Equal(expected, bob.ExpectMsg<PrivateMessageFrame>());
        Assert.Equal(expected, alice.ExpectMsg<PrivateMessageFrame>());
        carol.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        _registry.Tell(new SendPrivate("alice", "note to self"), alice.Ref);
        alice.ExpectMsg<PrivateMessageFrame>();
        alice.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Registry_must_answer_no_such_user_for_a_pm_to_nobody()
    {
        var alice = LoggedIn("alice");
        _registry.Tell(new SendPrivate("ghost", "boo"), alice.Ref);
        Assert.Equal(ErrorCodes.NoSuchUser, alice.ExpectMsg<ErrorFrame>().Code);
    }

    [Fact]
    public void Lobby_must_take_back_a_connection_whose_say_finds_it_not_in_it()
    {
        // A connection says something only in rooms it is in, the lobby always: one the lobby does
        // not know was in its last incarnation, on a node that died.
        var alice = LoggedIn("alice");
        _rooms.Tell(new ToRoom(RoomNames.Lobby, new PostToRoom("bob", "back")), TestActor);
        Assert.Equal(new Rejoined(RoomNames.Lobby), ExpectMsg<Rejoined>());
        Assert.Equal("back", alice.ExpectMessage().Text);
    }

    [Fact]
    public void Registry_must_refuse_logins_from_one_address_past_its_burst_and_let_other_addresses_in()
    {
        var registry = Sys.ActorOf(UsernameRegistry.Props(_rooms, _claims, _presence, new LoginRateSettings(0.001, 2), Unlimited, TimeSpan.FromHours(1)));
        var crowd = IPAddress.Parse("192.0.2.7");
        for (int i = 0; i < 2; i++)
        {
            var probe = CreateTestProbe();
            registry.Tell(new ClaimName($"crowd{i}", crowd), probe.Ref);
            probe.ExpectMsg<NameClaimed>();
        }
        var refused = CreateTestProbe();
        registry.Tell(new ClaimName("crowd2", crowd), refused.Ref);
        Assert.Equal(ErrorCodes.TooManyLogins, refused.ExpectMsg<NameRefused>().Error.Code);
        // A refused login is not held: the same connection may try again later.
        registry.Tell(new ClaimName("crowd2", crowd), refused.Ref);
        Assert.Equal(ErrorCodes.TooManyLogins, refused.ExpectMsg<NameRefused>().Error.Code);

        var elsewhere = CreateTestProbe();
        registry.Tell(new ClaimName("elsewhere", IPAddress.Parse("198.51.100.1")), elsewhere.Ref);
        elsewhere.ExpectMsg<NameClaimed>();
    }

    [Fact]
    public void Registry_must_count_each_accepted_login_towards_a_collection_step_and_no_refused_one()
    {
        int collections = 0;
        var everyLogin = new LoginBurstCollection(new LoginBurstPolicy(loginsPerStep: 1, bytesPerStep: 0), () => Interlocked.Increment(ref collections));
        var registry = Sys.ActorOf(UsernameRegistry.Props(_rooms, _claims, _presence, new LoginRateSettings(1000, 1000), Unlimited, TimeSpan.FromHours(1),
            loginBurst: everyLogin));
        foreach (var name in new[] { "step1", "step2", "step3" })
        {
            var probe = CreateTestProbe();
            registry.Tell(new ClaimName(name, IPAddress.Loopback), probe.Ref);
            probe.ExpectMsg<NameClaimed>();
        }
        var taken = CreateTestProbe();
        registry.Tell(new ClaimName("STEP1", IPAddress.Loopback), taken.Ref);
        Assert.Equal(ErrorCodes.UsernameTaken, taken.ExpectMsg<NameRefused>().Error.Code);
        Assert.Equal(3, Volatile.Read(ref collections));
    }

    [Fact]
    public void Registry_must_tell_its_logged_in_connections_to_check_for_silence_every_interval()
    {
        var registry = Sys.ActorOf(UsernameRegistry.Props(_rooms, _claims, _presence, new LoginRateSettings(1000, 1000), Unlimited, TimeSpan.FromMilliseconds(200)));
        var idler = CreateTestProbe();
        registry.Tell(new ClaimName("idler", IPAddress.Loopback), idler.Ref);
        idler.ExpectMsg<NameClaimed>();
        idler.FishForMessage(m => m is IdleCheck);
        idler.FishForMessage(m => m is IdleCheck); // and again, the next interval
        // Once it has left, it is not asked any more (checks sent before were queued before the confirmation).
        registry.Tell(new LeaveChat(LeaveReasons.Quit), idler.Ref);
        idler.FishForMessage(m => m is LeftChat);
        idler.ExpectNoMsg(TimeSpan.FromMilliseconds(600));
    }
}
