using System.Buffers;
using System.Runtime.Serialization;
using System.Text.Json;
using Akka.Actor;
using Akka.Serialization;

namespace Messenger.Persistence;

/// <summary>
/// Serializes every <see cref="IPersistedEvent"/> as UTF-8 JSON (System.Text.Json) under a
/// string manifest naming the type and its format version. Bound in hocon/server.hocon.
/// </summary>
public sealed class EventSerializer : SerializerWithStringManifest
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    private static readonly Dictionary<string, Type> TypesByManifest = new()
    {
        ["room-message-posted.v1"] = typeof(RoomMessagePosted),
        ["room-snapshot.v1"] = typeof(RoomSnapshot),
        ["account-registered.v1"] = typeof(AccountRegistered),
        ["password-changed.v1"] = typeof(PasswordChanged),
        ["offline-message-queued.v1"] = typeof(OfflineMessageQueued),
        ["offline-messages-delivered.v1"] = typeof(OfflineMessagesDelivered),
        ["offline-messages-handed-over.v1"] = typeof(OfflineMessagesHandedOver),
        ["registered-names-indexed.v1"] = typeof(RegisteredNamesIndexed),
        ["name-registered.v1"] = typeof(NameRegistered),
    };

    private static readonly Dictionary<Type, string> ManifestsByType = TypesByManifest.ToDictionary(p => p.Value, p => p.Key);

    public EventSerializer(ExtendedActorSystem system) : base(system)
    {
    }

    /// <summary>Fixed forever: rows in the journal name it.</summary>
    public override int Identifier => 7411;

    public override string Manifest(object o) =>
        ManifestsByType.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new ArgumentException($"{o.GetType()} has no manifest in {nameof(EventSerializer)}", nameof(o));

    public override byte[] ToBinary(object obj)
    {
        if (obj is OfflineMessagesDelivered) return "{}"u8.ToArray();
        return JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Options);
    }

    /// <summary>A writer for <see cref="Write"/>, with the settings <see cref="ToBinary"/> writes with.</summary>
    public static Utf8JsonWriter CreateWriter(IBufferWriter<byte> buffer) =>
        new(buffer, new JsonWriterOptions { Encoder = Options.Encoder, Indented = Options.WriteIndented, SkipValidation = true });

    /// <summary>
    /// The same bytes as <see cref="ToBinary"/>, written through <paramref name="json"/> (a
    /// <see cref="CreateWriter"/>; flushed): the SQLite journal serializes each event into one
    /// buffer it reuses, not into an array of its own.
    /// </summary>
    public static void Write(Utf8JsonWriter json, object obj)
    {
        if (obj is OfflineMessagesDelivered)
        {
            json.WriteStartObject();
            json.WriteEndObject();
        }
        else
        {
            JsonSerializer.Serialize(json, obj, obj.GetType(), Options);
        }
        json.Flush();
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!TypesByManifest.TryGetValue(manifest, out var type))
            throw new SerializationException($"unknown event manifest \"{manifest}\"");
        if (type == typeof(OfflineMessagesDelivered)) return OfflineMessagesDelivered.Instance;
        return JsonSerializer.Deserialize(bytes, type, Options)
            ?? throw new SerializationException($"event \"{manifest}\" is null");
    }
}
