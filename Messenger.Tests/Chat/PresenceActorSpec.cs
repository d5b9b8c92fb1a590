using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Messenger.Chat;
using Messenger.Protocol;
using Messenger.Rooms;
using Messenger.Tests.Support;

namespace Messenger.Tests.Chat;

/// <summary>The presence actor alone, with a probe for the room directory.</summary>
public class PresenceActorSpec : TestKit
{
    // Long enough that logins told one after another land in one window even on a busy machine.
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(2);
    private readonly TestProbe _rooms;
    private readonly IActorRef _presence;

    public PresenceActorSpec() : base(InMemoryPersistence.Config())
    {
        _rooms = CreateTestProbe();
        _presence = Sys.ActorOf(PresenceActor.Props(_rooms.Ref, new PresenceSettings(Window, 1_000_000)));
        // It starts the lobby, to watch it.
        Assert.Equal(new ToRoom(RoomNames.Lobby, AwaitRoomReady.Instance), _rooms.ExpectMsg<ToRoom>());
    }

    private TestProbe Online(string name)
    {
        var connection = CreateTestProbe();
        _presence.Tell(new UserOnline(name, connection.Ref, []));
        return connection;
    }

    private static string Text(ServerFrame frame) => System.Text.Encoding.UTF8.GetString(frame.Line);

    [Fact]
    public void Presence_must_welcome_the_first_login_at_once_then_put_it_in_the_lobby()
    {
        var alice = CreateTestProbe();
        var kept = new PrivateMessageFrame("bob", "alice", "while you were away", 1, Offline: true);
        _presence.Tell(new UserOnline("alice", alice.Ref, [kept]));
        Assert.Equal(["alice"], alice.ExpectMsg<NameClaimed>(TimeSpan.FromMilliseconds(Window.TotalMilliseconds / 2)).Welcome.Users);
        Assert.Equal(kept, alice.ExpectMsg<PrivateMessageFrame>());
        var join = _rooms.ExpectMsg<ToRoom>();
        Assert.Equal(new ToRoom(RoomNames.Lobby, new JoinRoom("alice", AtLogin: true)), join);
        Assert.Equal(alice.Ref, _rooms.LastSender);
    }

    [Fact]
    public void Presence_must_tell_those_online_a_burst_of_logins_as_one_batch_and_welcome_each_with_the_whole_list()
    {
        var alice = Online("alice");
        alice.ExpectMsg<NameClaimed>();
        var burst = Enumerable.Range(0, 5).Select(i => (Name: $"u{i}", Probe: Online($"u{i}"))).ToList();

        var batch = alice.ExpectMsg<FrameBatch>();
        Assert.Equal(burst.Select(b => new JoinedFrame(b.Name, RoomNames.Lobby)), batch.Frames.Cast<JoinedFrame>());
        Assert.Equal(string.Concat(batch.Frames.Select(Text)), Text(batch));
        foreach (var (name, probe) in burst)
        {
            var welcome = probe.ExpectMsg<NameClaimed>().Welcome;
            Assert.Equal(name, welcome.User);
            Assert.Equal(["alice", "u0", "u1", "u2", "u3", "u4"], welcome.Users);
        }
        // Nobody in the burst hears of the burst: it is in their welcome.
        foreach (var (_, probe) in burst) probe.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        alice.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Presence_must_answer_who_while_news_waits_at_the_flush_with_one_shared_frame()
    {
        var alice = Online("alice");
        alice.ExpectMsg<NameClaimed>();
        Online("bob");
        var first = CreateTestProbe();
        var second = CreateTestProbe();
        _presence.Tell(ListUsers.Instance, first.Ref);
        _presence.Tell(ListUsers.Instance, second.Ref);
        var answer = first.ExpectMsg<UsersFrame>();
        Assert.Equal(["alice", "bob"], answer.Users);
        Assert.Same(answer, second.ExpectMsg<UsersFrame>());
        alice.ExpectMsg<JoinedFrame>();
        // Nothing changed since: the same frame again, at once.
        _presence.Tell(ListUsers.Instance, first.Ref);
        Assert.Same(answer, first.ExpectMsg<UsersFrame>(TimeSpan.FromMilliseconds(Window.TotalMilliseconds / 2)));
    }

    [Fact]
    public void Presence_must_announce_a_leave_take_the_connection_out_of_the_lobby_and_pass_on_the_confirmation()
    {
        var alice = Online("alice");
        alice.ExpectMsg<NameClaimed>();
        var bob = Online("bob");
        bob.ExpectMsg<NameClaimed>();
        alice.ExpectMsg<JoinedFrame>();
        _rooms.ReceiveN(2);

        _presence.Tell(new UserOffline("bob", bob.Ref, LeaveReasons.Quit, "bye now"));
        Assert.Equal(new ToRoom(RoomNames.Lobby, new PartRoom("bob", LeaveReasons.Quit, "bye now")), _rooms.ExpectMsg<ToRoom>());
        Assert.Equal(bob.Ref, _rooms.LastSender);
        Assert.Equal(new LeftFrame("bob", LeaveReasons.Quit, RoomNames.Lobby), alice.ExpectMsg<LeftFrame>());
        bob.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Presence_must_not_welcome_a_login_that_left_before_its_welcome()
    {
        var alice = Online("alice");
        alice.ExpectMsg<NameClaimed>();
        _rooms.ExpectMsg<ToRoom>();
        var bob = Online("bob");
        _presence.Tell(new UserOffline("bob", bob.Ref, LeaveReasons.Disconnected));
        var news = alice.ExpectMsg<FrameBatch>();
        Assert.Equal([new JoinedFrame("bob", RoomNames.Lobby), new LeftFrame("bob", LeaveReasons.Disconnected, RoomNames.Lobby)], news.Frames);
        bob.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        _rooms.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }
}

public class PresenceSettingsTests
{
    [Fact]
    public void The_window_grows_with_the_number_online_past_the_delivery_budget()
    {
        var settings = new PresenceSettings(TimeSpan.FromMilliseconds(20), 20_000);
        Assert.Equal(TimeSpan.FromMilliseconds(20), settings.Window(0));
        Assert.Equal(TimeSpan.FromMilliseconds(20), settings.Window(400));
        Assert.Equal(TimeSpan.FromMilliseconds(300), settings.Window(6000));
    }
}
