using System.Buffers;
using Akka.Actor;
using Akka.Serialization;
using Akka.TestKit.Xunit2;
using Messenger.Persistence;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.Protocol;

/// <summary>Every persisted type goes through the JSON string-manifest serializer that hocon/server.hocon binds.</summary>
public class EventSerializerTests : TestKit
{
    public EventSerializerTests() : base(InMemoryPersistence.Config())
    {
    }

    public static TheoryData<IPersistedEvent> Events() => new()
    {
        new RoomMessagePosted("alice", "hi \"there\" 🎉", 1764000000000),
        new AccountRegistered("Alice", "pbkdf2-sha256$600000$c2FsdA==$aGFzaA=="),
        new PasswordChanged("pbkdf2-sha256$1$c2FsdA==$aGFzaA=="),
        new OfflineMessageQueued("bob", "later", 5),
        OfflineMessagesDelivered.Instance,
        new OfflineMessagesHandedOver(12),
        new NameRegistered("alice"),
    };

    [Theory, MemberData(nameof(Events))]
    public void Every_event_round_trips_through_the_bound_serializer(IPersistedEvent e)
    {
        var serialization = Sys.Serialization;
        var serializer = serialization.FindSerializerFor(e);
        Assert.IsType<EventSerializer>(serializer);
        var manifest = Serialization.ManifestFor(serializer, e);
        Assert.EndsWith(".v1", manifest);
        var back = serialization.Deserialize(serializer.ToBinary(e), serializer.Identifier, manifest);
        Assert.Equal(e, back);
    }

    [Theory, MemberData(nameof(Events))]
    public void Writing_an_event_into_a_reused_buffer_makes_the_bytes_of_ToBinary(IPersistedEvent e)
    {
        var serializer = (EventSerializer)Sys.Serialization.FindSerializerFor(e);
        var buffer = new ArrayBufferWriter<byte>();
        using var json = EventSerializer.CreateWriter(buffer);
        buffer.Write("stale"u8);
        buffer.ResetWrittenCount();
        EventSerializer.Write(json, e);
        Assert.Equal(serializer.ToBinary(e), buffer.WrittenSpan.ToArray());

        json.Reset(buffer); // a second event after the first, as the journal writes the events of one write
        EventSerializer.Write(json, e);
        Assert.Equal([.. serializer.ToBinary(e), .. serializer.ToBinary(e)], buffer.WrittenSpan.ToArray());
    }

    [Fact]
    public void A_room_snapshot_round_trips()
    {
        var snapshot = new RoomSnapshot([new HistoryEntry(9, "a", "x", 1), new HistoryEntry(10, "b", "y", 2)], 3, [new RoomCheckpoint(10, 2)]);
        var serializer = Sys.Serialization.FindSerializerFor(snapshot);
        var back = (RoomSnapshot)Sys.Serialization.Deserialize(serializer.ToBinary(snapshot), serializer.Identifier,
            Serialization.ManifestFor(serializer, snapshot));
        Assert.Equal(snapshot.Tail, back.Tail);
        Assert.Equal(snapshot.Checkpoints, back.Checkpoints);
        Assert.Equal(3, back.DeletedUpTo);
    }

    [Fact]
    public void A_bucket_list_of_registered_names_round_trips()
    {
        var list = new RegisteredNamesIndexed(["alice", "bob"]);
        var serializer = Sys.Serialization.FindSerializerFor(list);
        var back = (RegisteredNamesIndexed)Sys.Serialization.Deserialize(serializer.ToBinary(list), serializer.Identifier,
            Serialization.ManifestFor(serializer, list));
        Assert.Equal(list.Names, back.Names);
    }

    [Fact]
    public void An_unknown_manifest_is_refused()
    {
        var serializer = (EventSerializer)Sys.Serialization.FindSerializerForType(typeof(RoomMessagePosted));
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary("{}"u8.ToArray(), "room-message-posted.v99"));
    }
}
