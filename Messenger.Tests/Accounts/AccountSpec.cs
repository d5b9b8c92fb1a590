using System.Net;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Messenger.Accounts;
using Messenger.Chat;
using Messenger.Hosting;
using Messenger.Protocol;
using Messenger.Rooms;
using Messenger.Tests.Support;

namespace Messenger.Tests.Accounts;

/// <summary>Accounts behind the registry, on the in-memory journal.</summary>
public class AccountSpec : TestKit
{
    private static readonly Password Secret = new("correct horse");
    private readonly IActorRef _rooms;
    private readonly IActorRef _accounts;
    private readonly IActorRef _registry;

    public AccountSpec() : base(InMemoryPersistence.Config("messenger.accounts.failed-logins.burst = 4\nmessenger.accounts.offline-limit = 2\n"))
    {
        var config = Sys.Settings.Config;
        ClusterOfOne.Join(Sys);
        var chat = ChatServices.Start(Sys, RoomSettings.FromConfig(config), AccountSettings.FromConfig(config), unixMillisClock: () => 7);
        (_rooms, _accounts, _registry) = (chat.Rooms, chat.Accounts, chat.Registry);
    }

    private object Claim(TestProbe connection, string name, Password? password = null)
    {
        _registry.Tell(new ClaimName(name, IPAddress.Loopback, password), connection.Ref);
        return connection.ExpectMsg<object>(m => m is NameClaimed or NameRefused);
    }

    private TestProbe LoggedIn(string name, Password? password = null)
    {
        var connection = CreateTestProbe();
        Assert.IsType<NameClaimed>(Claim(connection, name, password));
        return connection;
    }

    private TestProbe Registered(string name)
    {
        var connection = LoggedIn(name);
        _registry.Tell(new RegisterName(Secret, IPAddress.Loopback), connection.Ref);
        Assert.Equal(new RegisteredFrame(name), connection.ExpectMsg<RegisteredFrame>(TimeSpan.FromSeconds(10)));
        return connection;
    }

    private void Leave(TestProbe connection)
    {
        _registry.Tell(new LeaveChat(LeaveReasons.Quit), connection.Ref);
        connection.FishForMessage(m => m is LeftChat);
    }

    /// <summary>What a connection tells the account once the kept messages are queued behind its welcome.</summary>
    private void HandOver(NameClaimed claimed) =>
        _accounts.Tell(new ToAccount(claimed.Welcome.User, new OfflineHandedOver(claimed.OfflineThrough)));

    private void Queue(TestProbe from, string to, string text)
    {
        _registry.Tell(new SendPrivate(to, text), from.Ref);
        Assert.True(((PrivateMessageFrame)from.FishForMessage(m => m is PrivateMessageFrame)).Queued); // past lobby news
    }

    private string RefusalCode(object answer) => Assert.IsType<NameRefused>(answer).Error.Code;

    [Fact]
    public void A_registered_name_needs_its_password_even_while_its_owner_is_offline()
    {
        Leave(Registered("alice"));
        Assert.Equal(ErrorCodes.NameRegistered, RefusalCode(Claim(CreateTestProbe(), "ALICE")));
        Assert.Equal(ErrorCodes.WrongPassword, RefusalCode(Claim(CreateTestProbe(), "alice", new Password("wrong guess"))));
        var back = CreateTestProbe();
        var claimed = Assert.IsType<NameClaimed>(Claim(back, "Alice", Secret));
        Assert.Equal("alice", claimed.Welcome.User); // the name as registered
    }

    [Fact]
    public void Registering_twice_is_refused_and_passwd_changes_the_password()
    {
        var alice = Registered("alice");
        _registry.Tell(new RegisterName(Secret, IPAddress.Loopback), alice.Ref);
        Assert.Equal(ErrorCodes.AlreadyRegistered, alice.ExpectMsg<ErrorFrame>().Code);
        _accounts.Tell(new ToAccount("alice", new ChangePassword(new Password("not the old one"), new Password("new password"))), alice.Ref);
        Assert.Equal(ErrorCodes.WrongPassword, alice.ExpectMsg<ErrorFrame>(TimeSpan.FromSeconds(10)).Code);
        _accounts.Tell(new ToAccount("alice", new ChangePassword(Secret, new Password("new password"))), alice.Ref);
        alice.ExpectMsg<PasswordChangedFrame>(TimeSpan.FromSeconds(10));
        Leave(alice);
        Assert.Equal(ErrorCodes.WrongPassword, RefusalCode(Claim(CreateTestProbe(), "alice", Secret)));
        Assert.IsType<NameClaimed>(Claim(CreateTestProbe(), "alice", new Password("new password")));
    }

    [Fact]
    public void Passwd_of_a_guest_name_is_not_registered()
    {
        var bob = LoggedIn("bob");
        _accounts.Tell(new ToAccount("bob", new ChangePassword(Secret, new Password("whatever123"))), bob.Ref);
        Assert.Equal(ErrorCodes.NotRegistered, bob.ExpectMsg<ErrorFrame>().Code);
    }

    [Fact]
    public void Password_attempts_are_limited_per_name()
    {
        Leave(Registered("alice"));
        var answers = Enumerable.Range(0, 8).Select(_ => RefusalCode(Claim(CreateTestProbe(), "alice", new Password("guess guess")))).ToList();
        int wrong = answers.Count(c => c == ErrorCodes.WrongPassword);
        Assert.InRange(wrong, 4, 5); // the burst, and at most one refilled meanwhile (one every 5 s)
        Assert.Equal(8 - wrong, answers.Count(c => c == ErrorCodes.RateLimited));
    }

    [Fact]
    public void An_offline_pm_to_a_registered_user_is_queued_and_delivered_once_at_next_login()
    {
        Leave(Registered("alice"));
        var bob = LoggedIn("bob");
        _registry.Tell(new SendPrivate("ALICE", "while you were out"), bob.Ref);
        var queued = bob.ExpectMsg<PrivateMessageFrame>();
        Assert.Equal(new PrivateMessageFrame("bob", "alice", "while you were out", 7, Queued: true), queued);
        _registry.Tell(new SendPrivate("alice", "second"), bob.Ref);
        bob.ExpectMsg<PrivateMessageFrame>();
        _registry.Tell(new SendPrivate("alice", "third: over the limit"), bob.Ref);
        Assert.Equal(ErrorCodes.MailboxFull, bob.ExpectMsg<ErrorFrame>().Code);

        // A probe is in no node's outboxes, so the kept messages are told to it, before the claim's
        // answer (a connection holds them until that answer and writes them after the welcome).
        var alice = CreateTestProbe();
        _registry.Tell(new ClaimName("alice", IPAddress.Loopback, Secret), alice.Ref);
        Assert.Equal(new PrivateMessageFrame("bob", "alice", "while you were out", 7, Offline: true), alice.ExpectMsg<PrivateMessageFrame>());
        Assert.Equal("second", alice.ExpectMsg<PrivateMessageFrame>().Text);
        HandOver(alice.ExpectMsg<NameClaimed>()); // as the connection does, with the frames behind its welcome
        Leave(alice);

        var again = LoggedIn("alice", Secret);
        again.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void Kept_messages_are_handed_over_at_every_login_until_a_connection_has_them_and_those_kept_since_stay()
    {
        Leave(Registered("alice"));
        var bob = LoggedIn("bob");
        Queue(bob, "alice", "first");

        // A login whose connection never got its welcome (it closed during the check) says nothing.
        var lost = CreateTestProbe();
        _registry.Tell(new ClaimName("alice", IPAddress.Loopback, Secret), lost.Ref);
        Assert.Equal("first", lost.ExpectMsg<PrivateMessageFrame>().Text);
        lost.ExpectMsg<NameClaimed>();
        Leave(lost);

        var second = CreateTestProbe();
        _registry.Tell(new ClaimName("alice", IPAddress.Loopback, Secret), second.Ref);
        Assert.Equal("first", second.ExpectMsg<PrivateMessageFrame>().Text);
        var claimed = second.ExpectMsg<NameClaimed>();
        Leave(second);
        Queue(bob, "alice", "second"); // kept after the hand-over, before the connection's word reached the account
        HandOver(claimed);

        var third = CreateTestProbe();
        _registry.Tell(new ClaimName("alice", IPAddress.Loopback, Secret), third.Ref);
        Assert.Equal("second", third.ExpectMsg<PrivateMessageFrame>().Text);
        HandOver(third.ExpectMsg<NameClaimed>());
        Leave(third);

        var fourth = CreateTestProbe();
        _registry.Tell(new ClaimName("alice", IPAddress.Loopback, Secret), fourth.Ref);
        Assert.Equal(0, fourth.ExpectMsg<NameClaimed>().OfflineThrough); // nothing kept, so nothing told before it
    }

    [Fact]
    public void A_pm_to_an_offline_guest_or_an_unknown_name_is_no_such_user()
    {
        Leave(LoggedIn("guest"));
        var bob = LoggedIn("bob");
        _registry.Tell(new SendPrivate("guest", "hello?"), bob.Ref);
        Assert.Equal(ErrorCodes.NoSuchUser, bob.ExpectMsg<ErrorFrame>().Code);
        _registry.Tell(new SendPrivate("nobody", "hello?"), bob.Ref);
        Assert.Equal(ErrorCodes.NoSuchUser, bob.ExpectMsg<ErrorFrame>().Code);
    }

    [Fact]
    public void While_the_nodes_hashing_jobs_are_all_taken_register_passwd_and_password_logins_are_rate_limited_at_no_attempts_cost()
    {
        var alice = Registered("alice");
        var jobs = HashJobs.Get(Sys);
        int taken = 0;
        while (jobs.TryTake()) taken++;
        Assert.Equal(16, taken); // messenger.accounts.max-hash-jobs
        try
        {
            var bob = LoggedIn("bob");
            _registry.Tell(new RegisterName(Secret, IPAddress.Loopback), bob.Ref);
            Assert.Equal(ErrorCodes.RateLimited, ((ErrorFrame)bob.FishForMessage(m => m is ErrorFrame or RegisteredFrame)).Code);
            _accounts.Tell(new ToAccount("alice", new ChangePassword(Secret, new Password("new password"))), alice.Ref);
            Assert.Equal(ErrorCodes.RateLimited, ((ErrorFrame)alice.FishForMessage(m => m is ErrorFrame or PasswordChangedFrame)).Code);
            Leave(alice);
            for (int i = 0; i < 6; i++) Assert.Equal(ErrorCodes.RateLimited, RefusalCode(Claim(CreateTestProbe(), "alice", Secret)));
        }
        finally
        {
            for (; taken > 0; taken--) jobs.Release();
        }
        // Six refusals, more than the name's burst of 4 attempts: none of them took one.
        Assert.IsType<NameClaimed>(Claim(CreateTestProbe(), "alice", Secret));
    }

    [Fact]
    public void A_name_being_checked_is_taken_for_everyone_else()
    {
        Leave(Registered("alice"));
        var first = CreateTestProbe();
        var second = CreateTestProbe();
        _registry.Tell(new ClaimName("alice", IPAddress.Loopback, Secret), first.Ref);
        _registry.Tell(new ClaimName("alice", IPAddress.Loopback, Secret), second.Ref);
        Assert.Equal(ErrorCodes.UsernameTaken, second.ExpectMsg<NameRefused>().Error.Code);
        first.ExpectMsg<NameClaimed>(TimeSpan.FromSeconds(10));
    }
}
