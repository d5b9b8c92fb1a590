using Akka.Actor;
using Akka.Serialization;
using Akka.TestKit.Xunit2;
using Messenger.Accounts;
using Messenger.Chat;
using Messenger.Cluster;
using Messenger.Protocol;
using Messenger.Rooms;
using Messenger.Tests.Support;

namespace Messenger.Tests.Cluster;

/// <summary>Every message that may cross nodes goes through the JSON string-manifest serializer that hocon/server.hocon binds.</summary>
public class MessageSerializerTests : TestKit
{
    public MessageSerializerTests() : base(InMemoryPersistence.Config())
    {
    }

    private object RoundTrip(object message)
    {
        var serialization = Sys.Serialization;
        var serializer = serialization.FindSerializerFor(message);
        Assert.IsType<MessageSerializer>(serializer);
        var manifest = Serialization.ManifestFor(serializer, message);
        Assert.EndsWith(".v1", manifest);
        return serialization.Deserialize(serializer.ToBinary(message), serializer.Identifier, manifest);
    }

    private IEnumerable<object> Samples()
    {
        var connection = CreateTestProbe().Ref;
        var pm = new PrivateMessageFrame("bob", "alice", "while you were out", 5, Offline: true);
        var welcome = new NameClaimed(new WelcomeFrame("alice", ["alice", "Bob"]), 12);
        yield return new ToRoom("rust", new JoinRoom("alice"));
        yield return new ToRoom("lobby", new JoinRoom("alice", AtLogin: true));
        yield return new ToRoom("rust", new RejoinRoom("alice"));
        yield return new Rejoined("rust");
        yield return new ToRoom("lobby", new PartRoom("alice", LeaveReasons.Slow, LeftChat.Instance));
        yield return new ToRoom("rust", new PartRoom("alice", LeaveReasons.Part));
        yield return new ToRoom("rust", new PostToRoom("alice", "hi \"there\" 🎉"));
        yield return new ToRoom("rust", new GetHistory(40, 20));
        yield return new ToRoom("rust", new GetHistory(null, 50));
        yield return AwaitRoomReady.Instance;
        yield return new RoomReady("lobby", 42);
        yield return GetRoomCounts.Instance;
        yield return new RoomCounts([new RoomEntry("lobby", 3), new RoomEntry("rust", 1)]);
        yield return new ToAccount("Alice", new CheckLogin("Alice", new Password("correct horse"), connection));
        yield return new ToAccount("Alice", new CheckLogin("Alice", null, connection));
        yield return new LoginAccepted("Alice", connection, new OfflineMessages([pm], 12));
        yield return new LoginRefused("Alice", connection, new ErrorFrame(ErrorCodes.WrongPassword, "wrong"));
        yield return new ToAccount("alice", new Register("alice", new Password("correct horse")));
        yield return new ToAccount("alice", new ChangePassword(new Password("old password"), new Password("new password")));
        yield return new ToAccount("bob", new QueueOffline("alice", "bob", "later", 7));
        yield return new ToAccount("alice", new OfflineHandedOver(12));
        yield return new ToClaim("Alice", new Claim("Alice", new Password("correct horse"), connection));
        yield return new ClaimGranted("Alice", connection, new OfflineMessages([pm], 12));
        yield return new ClaimRefused(connection, new ErrorFrame(ErrorCodes.UsernameTaken, "taken"));
        yield return new ToClaim("alice", new Reclaim("Alice", connection));
        yield return new ToClaim("alice", new Release(connection));
        yield return new ToClaim("alice", new DeliverPrivate("bob", "alice", "psst", 9));
        yield return new ToClaim("alice", new RegisterHeldName(new Password("correct horse"), connection));
        yield return new WakeClaims(42);
        yield return new ClaimsAwake(42);
        yield return welcome;
        yield return new PresenceSnapshot(["alice", "Bob"]);
        yield return new PresenceNews([new JoinedFrame("alice", "lobby"), new LeftFrame("Bob", LeaveReasons.Quit, "lobby")]);
        yield return LeftChat.Instance;
    }

    [Fact]
    public void Every_cross_node_message_round_trips_with_its_actor_references()
    {
        foreach (var message in Samples())
        {
            var back = RoundTrip(message);
            Assert.Equal(message.GetType(), back.GetType());
            // Records compare by value; nested lists compare by reference, so compare the JSON.
            Assert.Equal(Json(message), Json(back));
        }
    }

    [Fact]
    public void An_actor_reference_resolves_to_the_same_actor()
    {
        var probe = CreateTestProbe();
        var back = (ClaimGranted)RoundTrip(new ClaimGranted("alice", probe.Ref, OfflineMessages.None));
        back.Connection.Tell("ping");
        probe.ExpectMsg("ping");
    }

    [Fact]
    public void Every_frame_travels_as_its_wire_line()
    {
        ServerFrame[] frames =
        [
            new MessageFrame("alice", "hi", 1, "rust", 7), new JoinedFrame("bob", "rust", ["alice", "bob"]), new LeftFrame("bob", LeaveReasons.Timeout, "lobby"),
            new HistoryFrame("rust", [new HistoryEntry(1, "alice", "hi", 1)], true), new RoomsFrame([new RoomEntry("rust", 2)]),
            new UsersFrame(["alice"]), new ErrorFrame(ErrorCodes.NotMember, "not in it"), new RegisteredFrame("alice"),
            PasswordChangedFrame.Instance, new PrivateMessageFrame("a", "b", "t", 3, Queued: true),
            new FrameBatch([new MessageFrame("alice", "one", 1, "rust", 8), new MessageFrame("bob", "two", 2, "rust", 9)]),
        ];
        foreach (var frame in frames)
        {
            var serializer = Sys.Serialization.FindSerializerFor(frame);
            Assert.Equal(frame.Line, serializer.ToBinary(frame));
            var received = Assert.IsAssignableFrom<ServerFrame>(RoundTrip(frame));
            Assert.Equal(frame.Line, received.Line);
            Assert.Equal(frame.GetType(), received.GetType());
        }
    }

    [Fact]
    public void Every_cross_node_type_has_a_manifest_and_nothing_falls_back_to_another_serializer()
    {
        var marked = typeof(ICrossNodeMessage).Assembly.GetTypes()
            .Where(t => typeof(ICrossNodeMessage).IsAssignableFrom(t) && !t.IsInterface).ToHashSet();
        Assert.Subset(MessageSerializer.RegisteredTypes.ToHashSet(), marked);
        Assert.Subset(marked, MessageSerializer.RegisteredTypes.ToHashSet());
        // allow-unregistered-types = false: a type without a binding cannot be sent to another node.
        Assert.ThrowsAny<Exception>(() => Sys.Serialization.FindSerializerFor(new Unbound("x")));
    }

    private sealed record Unbound(string Text);

    private static string Json(object o) => System.Text.Json.JsonSerializer.Serialize(o, o.GetType(),
        new System.Text.Json.JsonSerializerOptions { Converters = { new RefAsPath() } });

    private sealed class RefAsPath : System.Text.Json.Serialization.JsonConverter<IActorRef>
    {
        public override bool CanConvert(Type typeToConvert) => typeof(IActorRef).IsAssignableFrom(typeToConvert);
        public override IActorRef Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options) =>
            throw new NotSupportedException();
        public override void Write(System.Text.Json.Utf8JsonWriter writer, IActorRef value, System.Text.Json.JsonSerializerOptions options) =>
            writer.WriteStringValue(value.Path.ToStringWithoutAddress());
    }
}
