using System.Runtime.Serialization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Messenger.Protocol;

namespace Messenger.Cluster;

/// <summary>Marks a message that may cross from one node to another; bound to <see cref="MessageSerializer"/> in hocon/server.hocon.</summary>
public interface ICrossNodeMessage;

/// <summary>
/// Every message that crosses nodes, as UTF-8 JSON (System.Text.Json) under a string manifest that
/// names the type and its format version, so two nodes of different builds either agree or fail
/// loudly (<c>allow-unregistered-types = false</c>: nothing falls back to another serializer).
/// A <see cref="ServerFrame"/> travels as its wire line (encoded once, the bytes the client gets);
/// an actor reference as its full path; a field typed <c>object</c> (an envelope's command, a
/// greeting) as <c>{"m": manifest, "v": value}</c>.
/// </summary>
public sealed class MessageSerializer : SerializerWithStringManifest
{
    private const string FrameManifest = "frame.v1";

    private static readonly Dictionary<string, Type> TypesByManifest = new()
    {
        ["to-room.v1"] = typeof(Rooms.ToRoom),
        ["join-room.v1"] = typeof(Rooms.JoinRoom),
        ["rejoin-room.v1"] = typeof(Rooms.RejoinRoom),
        ["rejoined.v1"] = typeof(Rooms.Rejoined),
        ["part-room.v1"] = typeof(Rooms.PartRoom),
        ["post-to-room.v1"] = typeof(Rooms.PostToRoom),
        ["get-history.v1"] = typeof(Rooms.GetHistory),
        ["await-room-ready.v1"] = typeof(Rooms.AwaitRoomReady),
        ["room-ready.v1"] = typeof(Rooms.RoomReady),
        ["get-room-counts.v1"] = typeof(Rooms.GetRoomCounts),
        ["room-counts.v1"] = typeof(Rooms.RoomCounts),
        ["to-account.v1"] = typeof(Accounts.ToAccount),
        ["check-login.v1"] = typeof(Accounts.CheckLogin),
        ["login-accepted.v1"] = typeof(Accounts.LoginAccepted),
        ["login-refused.v1"] = typeof(Accounts.LoginRefused),
        ["register.v1"] = typeof(Accounts.Register),
        ["change-password.v1"] = typeof(Accounts.ChangePassword),
        ["queue-offline.v1"] = typeof(Accounts.QueueOffline),
        ["offline-handed-over.v1"] = typeof(Accounts.OfflineHandedOver),
        ["to-claim.v1"] = typeof(Chat.ToClaim),
        ["claim.v1"] = typeof(Chat.Claim),
        ["reclaim.v1"] = typeof(Chat.Reclaim),
        ["release.v1"] = typeof(Chat.Release),
        ["claim-granted.v1"] = typeof(Chat.ClaimGranted),
        ["claim-refused.v1"] = typeof(Chat.ClaimRefused),
        ["deliver-private.v1"] = typeof(Chat.DeliverPrivate),
        ["register-held-name.v1"] = typeof(Chat.RegisterHeldName),
        ["wake-claims.v1"] = typeof(Chat.WakeClaims),
        ["claims-awake.v1"] = typeof(Chat.ClaimsAwake),
        ["name-claimed.v1"] = typeof(Chat.NameClaimed),
        ["left-chat.v1"] = typeof(Chat.LeftChat),
        ["presence-snapshot.v1"] = typeof(Chat.PresenceSnapshot),
        ["presence-news.v1"] = typeof(Chat.PresenceNews),
    };

    private static readonly Dictionary<Type, string> ManifestsByType = TypesByManifest.ToDictionary(p => p.Value, p => p.Key);

    private readonly JsonSerializerOptions _options;

    public MessageSerializer(ExtendedActorSystem system) : base(system)
    {
        _options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            Converters = { new ActorRefConverter(system), new FrameConverter(), new TaggedObjectConverter() },
        };
    }

    /// <summary>Fixed forever: a node tells the other which serializer wrote a message by this number.</summary>
    public override int Identifier => 7412;

    /// <summary>The registered types (for tests: each one must round-trip).</summary>
    public static IReadOnlyCollection<Type> RegisteredTypes => ManifestsByType.Keys;

    public override string Manifest(object o) => ManifestOf(o);

    private static string ManifestOf(object o) =>
        o is ServerFrame ? FrameManifest
        : ManifestsByType.TryGetValue(o.GetType(), out var manifest) ? manifest
        : throw new ArgumentException($"{o.GetType()} has no manifest in {nameof(MessageSerializer)}", nameof(o));

    public override byte[] ToBinary(object obj) =>
        obj is ServerFrame frame ? frame.Line : JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), _options);

    public override object FromBinary(byte[] bytes, string manifest) => Read(bytes, manifest, _options);

    private static object Read(ReadOnlySpan<byte> bytes, string manifest, JsonSerializerOptions options)
    {
        if (manifest == FrameManifest) return ReadFrame(bytes);
        if (!TypesByManifest.TryGetValue(manifest, out var type)) throw new SerializationException($"unknown message manifest \"{manifest}\"");
        return JsonSerializer.Deserialize(bytes, type, options) ?? throw new SerializationException($"message \"{manifest}\" is null");
    }

    /// <summary>One frame's line, or a <see cref="FrameBatch"/>'s lines back to back.</summary>
    private static ServerFrame ReadFrame(ReadOnlySpan<byte> lines)
    {
        int end = lines.IndexOf((byte)'\n');
        if (end < 0 || end == lines.Length - 1) return ReadOneFrame(lines);
        var frames = new List<ServerFrame>();
        while (!lines.IsEmpty)
        {
            end = lines.IndexOf((byte)'\n');
            if (end < 0) end = lines.Length;
            frames.Add(ReadOneFrame(lines[..end]));
            lines = lines[Math.Min(end + 1, lines.Length)..];
        }
        return new FrameBatch(frames);
    }

    private static ServerFrame ReadOneFrame(ReadOnlySpan<byte> line)
    {
        var parsed = ChatCodec.ParseFrame(line);
        return parsed.Value ?? throw new SerializationException($"bad frame: {parsed.Error?.Message}");
    }

    /// <summary>An actor reference as its full path (with the node's address); resolved on the receiving node.</summary>
    private sealed class ActorRefConverter(ExtendedActorSystem system) : JsonConverter<IActorRef>
    {
        public override bool CanConvert(Type typeToConvert) => typeof(IActorRef).IsAssignableFrom(typeToConvert);

        public override IActorRef Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            system.Provider.ResolveActorRef(reader.GetString() ?? throw new JsonException("null actor path"));

        public override void Write(Utf8JsonWriter writer, IActorRef value, JsonSerializerOptions options) =>
            writer.WriteStringValue(Serialization.SerializedActorPath(value));
    }

    /// <summary>A frame (of any frame type) as its wire line, embedded as JSON.</summary>
    private sealed class FrameConverter : JsonConverter<ServerFrame>
    {
        public override bool CanConvert(Type typeToConvert) => typeof(ServerFrame).IsAssignableFrom(typeToConvert);

        public override ServerFrame Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            using var element = JsonDocument.ParseValue(ref reader);
            return ReadFrame(Encoding.UTF8.GetBytes(element.RootElement.GetRawText()));
        }

        public override void Write(Utf8JsonWriter writer, ServerFrame value, JsonSerializerOptions options) =>
            writer.WriteRawValue(value.Line.AsSpan(0, value.Line.Length - 1), skipInputValidation: true);
    }

    /// <summary>A field typed <c>object</c>: the value with its manifest, so the receiver knows what to make of it.</summary>
    private sealed class TaggedObjectConverter : JsonConverter<object>
    {
        public override bool CanConvert(Type typeToConvert) => typeToConvert == typeof(object);

        public override object Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            using var element = JsonDocument.ParseValue(ref reader);
            var root = element.RootElement;
            var manifest = root.GetProperty("m").GetString() ?? throw new JsonException("null manifest");
            return MessageSerializer.Read(Encoding.UTF8.GetBytes(root.GetProperty("v").GetRawText()), manifest, options);
        }

        public override void Write(Utf8JsonWriter writer, object value, JsonSerializerOptions options)
        {
            writer.WriteStartObject();
            writer.WriteString("m", ManifestOf(value));
            writer.WritePropertyName("v");
            if (value is ServerFrame frame) writer.WriteRawValue(frame.Line.AsSpan(0, frame.Line.Length - 1), skipInputValidation: true);
            else JsonSerializer.Serialize(writer, value, value.GetType(), options);
            writer.WriteEndObject();
        }
    }
}
