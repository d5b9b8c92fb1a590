using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Messenger.Cluster;
using Messenger.Hosting;
using Messenger.Protocol;
using Messenger.Rooms;
using Messenger.Tests.Support;

namespace Messenger.Tests.Rooms;

/// <summary>Rooms through their region, on the in-memory journal.</summary>
public class RoomActorSpec : TestKit
{
    private const long Ts = 1764000000000;
    private readonly RoomSettings _settings;
    private readonly IActorRef _rooms;
    private readonly IActorRef _directory;

    public RoomActorSpec() : base(InMemoryPersistence.Config("""
        messenger.rooms.tail-size = 20
        messenger.rooms.join-history = 5
        messenger.rooms.snapshot-every = 10
        messenger.rooms.max-rooms = 3
        messenger.rooms.fan-out-batch = 10
        """))
    {
        _settings = RoomSettings.FromConfig(Sys.Settings.Config);
        ClusterOfOne.Join(Sys);
        (_rooms, _directory) = ChatServices.StartRooms(Sys, _settings, () => Ts);
    }

    private TestProbe Joined(string room, string user)
    {
        var probe = CreateTestProbe();
        _rooms.Tell(new ToRoom(room, new JoinRoom(user)), probe.Ref);
        var joined = probe.ExpectMsg<JoinedFrame>();
        Assert.Equal((user, room), (joined.User, joined.Room));
        Assert.Contains(user, joined.Users!);
        probe.ExpectMsg<HistoryFrame>();
        return probe;
    }

    private void Say(TestProbe who, string room, string user, string text) =>
        _rooms.Tell(new ToRoom(room, new PostToRoom(user, text)), who.Ref);

    private HistoryFrame History(TestProbe who, string room, long? before, int limit)
    {
        _rooms.Tell(new ToRoom(room, new GetHistory(before, limit)), who.Ref);
        return who.ExpectMsg<HistoryFrame>();
    }

    [Fact]
    public void Room_must_number_messages_without_gaps_and_tell_every_member_once()
    {
        var alice = Joined("rust", "alice");
        var bob = Joined("rust", "bob");
        Assert.Equal(new JoinedFrame("bob", "rust"), alice.ExpectMsg<JoinedFrame>());
        for (int i = 0; i < 25; i++) Say(i % 2 == 0 ? alice : bob, "rust", i % 2 == 0 ? "alice" : "bob", $"m{i}");
        foreach (var member in new[] { alice, bob })
        {
            var messages = member.ExpectMessages(25);
            for (int i = 0; i < 25; i++) Assert.Equal(("rust", (long?)i + 1, $"m{i}"), (messages[i].Room, messages[i].Id, messages[i].Text));
            member.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        }
    }

    [Fact]
    public void Messages_stored_together_must_reach_a_member_in_batches_of_at_most_fan_out_batch_in_order()
    {
        var alice = CreateTestProbe();
        _rooms.Tell(new ToRoom("busy", new JoinRoom("alice")), alice.Ref);
        alice.ExpectMsg<JoinedFrame>();
        alice.ExpectMsg<HistoryFrame>();
        // Posted faster than the journal answers: the room tells what each write stored at once.
        for (int i = 1; i <= 200; i++) _rooms.Tell(new ToRoom("busy", new PostToRoom("alice", $"m{i}")), alice.Ref);
        var ids = new List<long>();
        int frames = 0;
        while (ids.Count < 200)
        {
            var frame = alice.ExpectMsg<ServerFrame>();
            frames++;
            var messages = frame switch { FrameBatch b => b.Frames.Cast<MessageFrame>().ToList(), MessageFrame m => [m], _ => throw new Xunit.Sdk.XunitException($"unexpected {frame}") };
            Assert.InRange(messages.Count, 1, 10);
            ids.AddRange(messages.Select(m => m.Id!.Value));
        }
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), ids);
        Assert.True(frames < 200, "no two messages were told together");
        alice.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void Joiner_must_get_members_and_recent_history_and_others_must_see_it_join_and_part()
    {
        var alice = Joined("rust", "alice");
        for (int i = 1; i <= 8; i++) Say(alice, "rust", "alice", $"m{i}");
        alice.ExpectMessages(8);

        var bob = CreateTestProbe();
        _rooms.Tell(new ToRoom("rust", new JoinRoom("bob")), bob.Ref);
        Assert.Equal(["alice", "bob"], bob.ExpectMsg<JoinedFrame>().Users);
        var history = bob.ExpectMsg<HistoryFrame>();
        Assert.Equal([4L, 5, 6, 7, 8], history.Messages.Select(m => m.Id));
        Assert.True(history.More);
        Assert.Equal(new JoinedFrame("bob", "rust"), alice.ExpectMsg<JoinedFrame>());

        _rooms.Tell(new ToRoom("rust", new PartRoom("bob", LeaveReasons.Part)), bob.Ref);
        Assert.Equal(new LeftFrame("bob", LeaveReasons.Part, "rust"), bob.ExpectMsg<LeftFrame>());
        Assert.Equal(new LeftFrame("bob", LeaveReasons.Part, "rust"), alice.ExpectMsg<LeftFrame>());
        // A connection says something only in a room it is in: a say from one that is not a member
        // comes from a member of the room's last incarnation (its node died), readmitted silently.
        Say(bob, "rust", "bob", "back");
        Assert.Equal(new Rejoined("rust"), bob.ExpectMsg<Rejoined>());
        Assert.Equal("back", bob.ExpectMessage().Text);
        Assert.Equal("back", alice.ExpectMessage().Text);
    }

    [Fact]
    public void History_must_page_backwards_with_every_message_exactly_once()
    {
        var alice = Joined("rust", "alice");
        for (int i = 1; i <= 17; i++) Say(alice, "rust", "alice", $"m{i}");
        alice.ExpectMessages(17);

        var seen = new List<long>();
        long? before = null;
        while (true)
        {
            var page = History(alice, "rust", before, 5);
            Assert.Equal(page.Messages.Select(m => m.Id).Order(), page.Messages.Select(m => m.Id)); // oldest first
            seen.InsertRange(0, page.Messages.Select(m => m.Id));
            if (!page.More) break;
            before = page.Messages[0].Id;
        }
        Assert.Equal(Enumerable.Range(1, 17).Select(i => (long)i), seen);

        Assert.Empty(History(alice, "rust", 1, 5).Messages);
        Assert.Equal([16L, 17], History(alice, "rust", long.MaxValue, 2).Messages.Select(m => m.Id));
    }

    [Fact]
    public void A_room_must_keep_its_messages_and_ids_across_a_restart()
    {
        var alice = Joined("rust", "alice");
        for (int i = 1; i <= 12; i++) Say(alice, "rust", "alice", $"m{i}"); // past one snapshot (every 10)
        alice.ExpectMessages(12);

        // Stop the room's entity; the next message starts another, which reads the journal.
        var room = alice.LastSender;
        Watch(room);
        _rooms.Tell(new ToRoom("rust", StopEntity.Instance));
        ExpectTerminated(room);
        var rooms = _rooms;
        var bob = CreateTestProbe();
        rooms.Tell(new ToRoom("rust", new JoinRoom("bob")), bob.Ref);
        bob.ExpectMsg<JoinedFrame>();
        Assert.Equal([8L, 9, 10, 11, 12], bob.ExpectMsg<HistoryFrame>().Messages.Select(m => m.Id));
        rooms.Tell(new ToRoom("rust", new PostToRoom("bob", "after restart")), bob.Ref);
        Assert.Equal(13, bob.ExpectMessage().Id);
    }

    [Fact]
    public void Rooms_must_refuse_strangers_and_limit_how_many_exist()
    {
        var stranger = CreateTestProbe();
        _rooms.Tell(new ToRoom("nowhere", new GetHistory(null, 10)), stranger.Ref);
        Assert.Equal(ErrorCodes.NotMember, stranger.ExpectMsg<ErrorFrame>().Code);
        _rooms.Tell(new ToRoom("nowhere", new PartRoom("stranger", LeaveReasons.Part)), stranger.Ref);
        Assert.Equal(ErrorCodes.NotMember, stranger.ExpectMsg<ErrorFrame>().Code);

        Joined("a", "u"); Joined("b", "u"); Joined("c", "u");
        _rooms.Tell(new ToRoom("d", new JoinRoom("u")), stranger.Ref);
        Assert.Equal(ErrorCodes.TooManyRooms, stranger.ExpectMsg<ErrorFrame>().Code);
        _directory.Tell(ListRooms.Instance, stranger.Ref);
        Assert.Equal([new RoomEntry("a", 1), new RoomEntry("b", 1), new RoomEntry("c", 1)], stranger.ExpectMsg<RoomsFrame>().Rooms);
    }

    [Fact]
    public void A_member_that_dies_is_reported_disconnected()
    {
        var alice = Joined("rust", "alice");
        var bob = Joined("rust", "bob");
        alice.ExpectMsg<JoinedFrame>();
        Sys.Stop(bob.Ref);
        Assert.Equal(new LeftFrame("bob", LeaveReasons.Disconnected, "rust"), alice.ExpectMsg<LeftFrame>());
    }
}

/// <summary>Retention, with a room that keeps only a few messages.</summary>
public class RoomRetentionSpec : TestKit
{
    public RoomRetentionSpec() : base(InMemoryPersistence.Config("""
        messenger.rooms.tail-size = 20
        messenger.rooms.snapshot-every = 5
        messenger.rooms.join-history = 5
        messenger.rooms.retention.max-messages = 7
        """))
    {
    }

    [Fact]
    public void Retention_must_delete_old_messages_and_history_must_stop_there()
    {
        ClusterOfOne.Join(Sys);
        var (rooms, _) = ChatServices.StartRooms(Sys, RoomSettings.FromConfig(Sys.Settings.Config), () => 1);
        var alice = CreateTestProbe();
        rooms.Tell(new ToRoom("r", new JoinRoom("alice")), alice.Ref);
        alice.ExpectMsg<JoinedFrame>();
        alice.ExpectMsg<HistoryFrame>();
        for (int i = 1; i <= 20; i++) rooms.Tell(new ToRoom("r", new PostToRoom("alice", $"m{i}")), alice.Ref);
        alice.ExpectMessages(20);
        AwaitAssert(() =>
        {
            rooms.Tell(new ToRoom("r", new GetHistory(null, 200)), alice.Ref);
            var page = alice.ExpectMsg<HistoryFrame>();
            // The last snapshot was at 20: everything up to 13 is gone.
            Assert.Equal(Enumerable.Range(14, 7).Select(i => (long)i), page.Messages.Select(m => m.Id));
            Assert.False(page.More);
        });
    }
}
