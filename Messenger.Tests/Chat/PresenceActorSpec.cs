using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Messenger.Accounts;
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
        _presence = Sys.ActorOf(PresenceActor.Props(_rooms.Ref, new PresenceSettings(Window, 1_000_000, FanOutSlice: 128, TimeSpan.FromSeconds(1))));
        // It starts the lobby, to watch it.
        Assert.Equal(new ToRoom(RoomNames.Lobby, AwaitRoomReady.Instance), _rooms.ExpectMsg<ToRoom>());
    }

    private TestProbe Online(string name)
    {
        var connection = CreateTestProbe();
        _presence.Tell(new UserOnline(name, connection.Ref, OfflineMessages.None));
        return connection;
    }

    private static string Text(ServerFrame frame) => System.Text.Encoding.UTF8.GetString(frame.Line);

    [Fact]
    public void Presence_must_welcome_the_first_login_at_once_then_put_it_in_the_lobby()
    {
        var alice = CreateTestProbe();
        var kept = new PrivateMessageFrame("bob", "alice", "while you were away", 1, Offline: true);
        _presence.Tell(new UserOnline("alice", alice.Ref, new OfflineMessages([kept], 9)));
        // Not in a node's outboxes, so its frames are told: the kept message, then the claim's answer.
        Assert.Equal(kept, alice.ExpectMsg<PrivateMessageFrame>(TimeSpan.FromMilliseconds(Window.TotalMilliseconds / 2)));
        var claimed = alice.ExpectMsg<NameClaimed>();
        Assert.Equal(["alice"], claimed.Welcome.Users);
        Assert.Equal(9, claimed.OfflineThrough); // the connection tells the account it has them
        var join = _rooms.ExpectMsg<ToRoom>();
        Assert.Equal(new ToRoom(RoomNames.Lobby, new JoinRoom("alice", AtLogin: true)), join);
        Assert.Equal(alice.Ref, _rooms.LastSender);
    }

    [Fact]
    public void Presence_must_send_the_lobby_join_before_it_tells_the_connection_it_is_logged_in()
    {
        // One probe as the rooms and the connection: it receives what the presence actor sends in the order sent.
        var both = CreateTestProbe();
        var presence = Sys.ActorOf(PresenceActor.Props(both.Ref, new PresenceSettings(Window, 1_000_000, FanOutSlice: 128, TimeSpan.FromSeconds(1))));
        Assert.Equal(new ToRoom(RoomNames.Lobby, AwaitRoomReady.Instance), both.ExpectMsg<ToRoom>());
        presence.Tell(new UserOnline("alice", both.Ref, OfflineMessages.None));
        // Else a say sent on the welcome could reach the lobby before the join, and be refused as not_member.
        Assert.Equal(new ToRoom(RoomNames.Lobby, new JoinRoom("alice", AtLogin: true)), both.ExpectMsg<ToRoom>());
        Assert.Equal("alice", both.ExpectMsg<NameClaimed>().Welcome.User);
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

    /// <summary>Every joined/left the connection is told, in order, flattening batches.</summary>
    private static IEnumerable<string> News(TestProbe connection, int count)
    {
        var news = new List<string>();
        while (news.Count < count)
        {
            var frame = connection.ExpectMsg<ServerFrame>();
            news.AddRange((frame is FrameBatch batch ? batch.Frames : [frame]).Select(f => f switch
            {
                JoinedFrame j => "+" + j.User,
                LeftFrame l => "-" + l.User,
                _ => f.GetType().Name,
            }));
        }
        return news;
    }

    [Fact]
    public void Presence_must_tell_news_to_more_connections_than_a_slice_each_once_and_in_order()
    {
        var rooms = CreateTestProbe();
        var presence = Sys.ActorOf(PresenceActor.Props(rooms.Ref, new PresenceSettings(TimeSpan.FromMilliseconds(30), 1_000_000, FanOutSlice: 2, TimeSpan.FromSeconds(1))));
        var users = Enumerable.Range(0, 7).Select(i => (Name: $"u{i}", Probe: CreateTestProbe())).ToList();
        foreach (var (name, probe) in users)
        {
            presence.Tell(new UserOnline(name, probe.Ref, OfflineMessages.None));
            probe.ExpectMsg<NameClaimed>();
        }
        presence.Tell(new UserOffline("u6", users[6].Probe.Ref, LeaveReasons.Quit));
        for (int i = 0; i < 6; i++)
        {
            // Each hears of everyone after it, then of u6 leaving: once each, in order.
            var expected = users.Skip(i + 1).Select(u => "+" + u.Name).Append("-u6").ToList();
            Assert.Equal(expected, News(users[i].Probe, expected.Count));
        }
        foreach (var (_, probe) in users) probe.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Presence_must_welcome_a_login_without_waiting_for_the_news_window_and_then_tell_it_only_the_news_after_its_welcome()
    {
        // Two deliveries a second: with four online the news window is 2 s; welcomes keep 50 ms.
        var rooms = CreateTestProbe();
        var presence = Sys.ActorOf(PresenceActor.Props(rooms.Ref, new PresenceSettings(TimeSpan.FromMilliseconds(50), 2, FanOutSlice: 128, TimeSpan.FromSeconds(1))));
        var early = Enumerable.Range(0, 4).Select(i => (Name: $"u{i}", Probe: CreateTestProbe())).ToList();
        foreach (var (name, probe) in early) presence.Tell(new UserOnline(name, probe.Ref, OfflineMessages.None));
        foreach (var (_, probe) in early) probe.ExpectMsg<NameClaimed>();
        Assert.Equal(["+u1", "+u2", "+u3"], News(early[0].Probe, 3)); // the news window restarts now, for 2 s

        var bob = CreateTestProbe();
        presence.Tell(new UserOnline("bob", bob.Ref, OfflineMessages.None));
        Assert.Equal(["bob", "u0", "u1", "u2", "u3"], bob.ExpectMsg<NameClaimed>(TimeSpan.FromSeconds(1)).Welcome.Users);
        var carol = CreateTestProbe();
        presence.Tell(new UserOnline("carol", carol.Ref, OfflineMessages.None));
        carol.ExpectMsg<NameClaimed>(TimeSpan.FromSeconds(1));

        Assert.Equal(["+bob", "+carol"], News(early[0].Probe, 2));
        Assert.Equal(["+carol"], News(bob, 1)); // its welcome listed itself
        carol.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // its welcome listed both
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
        var settings = new PresenceSettings(TimeSpan.FromMilliseconds(20), 20_000, 128, TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromMilliseconds(20), settings.Window(0));
        Assert.Equal(TimeSpan.FromMilliseconds(20), settings.Window(400));
        Assert.Equal(TimeSpan.FromMilliseconds(300), settings.Window(6000));
    }
}
