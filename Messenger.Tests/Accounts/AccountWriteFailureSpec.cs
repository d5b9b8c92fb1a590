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

/// <summary>Accounts whose journal writes fail or are refused (<see cref="FailingJournal"/>): whoever waits is answered.</summary>
public class AccountWriteFailureSpec : TestKit
{
    private static readonly Password Secret = new("correct horse");
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly IActorRef _accounts;
    private readonly IActorRef _registry;

    public AccountWriteFailureSpec() : base(FailingJournal.Config())
    {
        var config = Sys.Settings.Config;
        ClusterOfOne.Join(Sys);
        var chat = ChatServices.Start(Sys, RoomSettings.FromConfig(config), AccountSettings.FromConfig(config));
        (_accounts, _registry) = (chat.Accounts, chat.Registry);
    }

    private TestProbe LoggedIn(string name, Password? password = null)
    {
        var connection = CreateTestProbe();
        _registry.Tell(new ClaimName(name, IPAddress.Loopback, password), connection.Ref);
        connection.FishForMessage(m => m is NameClaimed, Wait);
        return connection;
    }

    private object AnswerTo(TestProbe connection, string to, string text)
    {
        _registry.Tell(new SendPrivate(to, text), connection.Ref);
        return connection.FishForMessage(m => m is PrivateMessageFrame or ErrorFrame, Wait); // past lobby news
    }

    [Fact]
    public void A_registration_whose_write_fails_is_answered_not_stored()
    {
        var doomed = LoggedIn(FailingJournal.Fails);
        _registry.Tell(new RegisterName(Secret, IPAddress.Loopback), doomed.Ref);
        Assert.Equal(ErrorCodes.NotStored, ((ErrorFrame)doomed.FishForMessage(m => m is ErrorFrame or RegisteredFrame, Wait)).Code);
    }

    [Fact]
    public void A_pm_kept_for_an_offline_user_whose_write_fails_or_is_refused_is_answered_not_stored_and_the_account_goes_on()
    {
        var alice = LoggedIn("alice");
        _registry.Tell(new RegisterName(Secret, IPAddress.Loopback), alice.Ref);
        alice.FishForMessage(m => m is RegisteredFrame, Wait);
        _registry.Tell(new LeaveChat(LeaveReasons.Quit), alice.Ref);
        alice.FishForMessage(m => m is LeftChat, Wait);

        var bob = LoggedIn("bob");
        Assert.Equal(ErrorCodes.NotStored, Assert.IsType<ErrorFrame>(AnswerTo(bob, "alice", FailingJournal.Fails)).Code); // the account stops
        Assert.True(Assert.IsType<PrivateMessageFrame>(AnswerTo(bob, "alice", "after the failure")).Queued); // and starts again
        Assert.Equal(ErrorCodes.NotStored, Assert.IsType<ErrorFrame>(AnswerTo(bob, "alice", FailingJournal.Rejected)).Code); // it goes on
        Assert.True(Assert.IsType<PrivateMessageFrame>(AnswerTo(bob, "alice", "after the refusal")).Queued);

        var back = CreateTestProbe();
        _registry.Tell(new ClaimName("alice", IPAddress.Loopback, Secret), back.Ref);
        Assert.Equal("after the failure", back.ExpectMsg<PrivateMessageFrame>(Wait).Text);
        Assert.Equal("after the refusal", back.ExpectMsg<PrivateMessageFrame>(Wait).Text);
        back.ExpectMsg<NameClaimed>(Wait);
    }
}
