using System.Buffers;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Messenger.Protocol;

/// <summary>
/// The control channel's wire codec, both directions: one JSON object per line.
/// The server parses <see cref="ClientCommand"/>s and encodes <see cref="ServerFrame"/>s;
/// clients (terminal client, benchmark) do the reverse. Nothing here throws on bad input:
/// a bad frame becomes a <see cref="ProtocolError"/> with a clear message.
/// </summary>
public static class ChatCodec
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Chat text is shown as sent: keep non-ASCII readable on the wire, escape only what JSON needs.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    // ---------------------------------------------------------------- client -> server

    /// <summary>Parses one line (without its newline) from a client.</summary>
    public static ParseResult<ClientCommand> ParseCommand(ReadOnlySpan<byte> line)
    {
        if (!TryReadObject(line, out var fields, out var error)) return error!;
        if (fields.Type is null) return Bad(fields.TypeMistyped ? "\"type\" must be a string" : "missing \"type\"");

        switch (fields.Type)
        {
            case "hello":
                if (!fields.RequireString("user", out var user, out error)) return error!;
                if (!Usernames.IsValid(user))
                    return new ProtocolError(ErrorCodes.BadUsername,
                        "a username is 1-32 characters of ASCII letters, digits, '_', '-' or '.'");
                if (!fields.OptionalString("password", out var helloPassword, out error)) return error!;
                if (helloPassword is not null && CheckPassword(helloPassword, "password") is { } helloPasswordError) return helloPasswordError;
                return new HelloCommand(user!, helloPassword is null ? null : new Password(helloPassword));
            case "say":
                if (!fields.RequireString("text", out var text, out error)) return error!;
                if (CheckText(text!) is { } sayError) return sayError;
                if (!fields.OptionalString("room", out var sayRoom, out error)) return error!;
                if (sayRoom is null) return new SayCommand(text!);
                if (RoomNames.Normalize(sayRoom) is not { } sayRoomName) return BadRoom();
                return new SayCommand(text!, sayRoomName);
            case "join":
            case "part":
                if (!fields.RequireString("room", out var room, out error)) return error!;
                if (RoomNames.Normalize(room) is not { } roomName) return BadRoom();
                return fields.Type == "join" ? new JoinCommand(roomName) : new PartCommand(roomName);
            case "history":
                if (!fields.RequireString("room", out var historyRoom, out error)) return error!;
                if (RoomNames.Normalize(historyRoom) is not { } historyRoomName) return BadRoom();
                if (!fields.OptionalLong("before", out var before, out error)) return error!;
                if (before is < 1) return Bad("\"before\" must be a message id (1 or more)");
                if (!fields.OptionalLong("limit", out var limit, out error)) return error!;
                if (limit is < 1 or > ProtocolLimits.MaxHistoryLimit)
                    return Bad($"\"limit\" must be 1-{ProtocolLimits.MaxHistoryLimit}");
                return new HistoryCommand(historyRoomName, before, (int)(limit ?? ProtocolLimits.DefaultHistoryLimit));
            case "rooms": return RoomsCommand.Instance;
            case "register":
                if (!fields.RequireString("password", out var password, out error)) return error!;
                if (CheckPassword(password!, "password") is { } registerError) return registerError;
                return new RegisterCommand(new Password(password!));
            case "passwd":
                if (!fields.RequireString("old", out var oldPassword, out error)) return error!;
                if (!fields.RequireString("new", out var newPassword, out error)) return error!;
                if (CheckPassword(oldPassword!, "old") is { } oldError) return oldError;
                if (CheckPassword(newPassword!, "new") is { } newError) return newError;
                return new PasswdCommand(new Password(oldPassword!), new Password(newPassword!));
            case "pm":
                if (!fields.RequireString("to", out var to, out error)) return error!;
                if (!fields.RequireString("text", out var pmText, out error)) return error!;
                if (CheckText(pmText!) is { } pmError) return pmError;
                return new PmCommand(to!, pmText!);
            case "who": return WhoCommand.Instance;
            case "ping": return PingCommand.Instance;
            case "bye": return ByeCommand.Instance;
            case "files": return ParseFiles(fields);
            case "get":
                if (!fields.RequireString("file", out var file, out error)) return error!;
                if (!fields.RequireString("via", out var via, out error)) return error!;
                return via switch
                {
                    "tcp" => new GetCommand(file!, TransferVia.Tcp),
                    "udp" => new GetCommand(file!, TransferVia.Udp),
                    _ => Bad("\"via\" must be \"tcp\" or \"udp\""),
                };
            default:
                return Bad($"unknown type \"{Truncate(fields.Type)}\"");
        }
    }

    /// <summary>Parses the one line a client sends on the TCP file channel.</summary>
    public static ParseResult<TicketRequest> ParseTicketRequest(ReadOnlySpan<byte> line)
    {
        if (!TryReadObject(line, out var fields, out var error)) return error!;
        if (!fields.RequireString("ticket", out var ticket, out error)) return error!;
        if (!fields.OptionalLong("offset", out var offset, out error)) return error!;
        return new TicketRequest(ticket!, offset ?? 0);
    }

    private static ParseResult<ClientCommand> ParseFiles(Fields fields)
    {
        if (!fields.OptionalLong("offset", out var offset, out _) || offset < 0) return Bad("\"offset\" must be an integer of at least 0");
        if (!fields.OptionalLong("limit", out var limit, out _) || limit < 1) return Bad("\"limit\" must be an integer of at least 1");
        // Past int's range is past any listing: clamped, so the answer is simply an empty or a full page.
        return new FilesCommand((int)Math.Min(offset ?? 0, int.MaxValue),
            limit is { } l ? (int)Math.Min(l, int.MaxValue) : null);
    }

    private static ProtocolError? CheckText(string text)
    {
        if (text.Length == 0) return Bad("\"text\" must not be empty");
        // Code points, not UTF-16 units: a surrogate pair is one character.
        if (text.Length > ProtocolLimits.MaxTextCodePoints && CountCodePoints(text) > ProtocolLimits.MaxTextCodePoints)
            return new ProtocolError(ErrorCodes.TextTooLong, $"text is limited to {ProtocolLimits.MaxTextCodePoints} characters");
        return null;
    }

    private static ProtocolError? CheckPassword(string password, string field) =>
        password.Length is < ProtocolLimits.MinPasswordLength or > ProtocolLimits.MaxPasswordLength
            ? new ProtocolError(ErrorCodes.BadPassword,
                $"\"{field}\" must be {ProtocolLimits.MinPasswordLength}-{ProtocolLimits.MaxPasswordLength} characters")
            : null;

    private static ProtocolError BadRoom() => new(ErrorCodes.BadRoom,
        "a room name is 1-32 characters of ASCII letters, digits, '_', '-' or '.', optionally after a '#'");

    public static int CountCodePoints(string text)
    {
        int count = 0;
        for (int i = 0; i < text.Length; i++, count++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
        }
        return count;
    }

    public static byte[] EncodeCommand(ClientCommand command) => WriteLine(w =>
    {
        switch (command)
        {
            case HelloCommand c:
                w.WriteString("type", "hello"); w.WriteString("user", c.User);
                if (c.Password is not null) w.WriteString("password", c.Password.Text);
                break;
            case SayCommand c:
                w.WriteString("type", "say"); w.WriteString("text", c.Text);
                if (c.Room is not null) w.WriteString("room", c.Room);
                break;
            case JoinCommand c: w.WriteString("type", "join"); w.WriteString("room", c.Room); break;
            case PartCommand c: w.WriteString("type", "part"); w.WriteString("room", c.Room); break;
            case HistoryCommand c:
                w.WriteString("type", "history"); w.WriteString("room", c.Room);
                if (c.Before is { } before) w.WriteNumber("before", before);
                w.WriteNumber("limit", c.Limit);
                break;
            case RoomsCommand: w.WriteString("type", "rooms"); break;
            case RegisterCommand c: w.WriteString("type", "register"); w.WriteString("password", c.Password.Text); break;
            case PasswdCommand c: w.WriteString("type", "passwd"); w.WriteString("old", c.Old.Text); w.WriteString("new", c.New.Text); break;
            case PmCommand c: w.WriteString("type", "pm"); w.WriteString("to", c.To); w.WriteString("text", c.Text); break;
            case WhoCommand: w.WriteString("type", "who"); break;
            case PingCommand: w.WriteString("type", "ping"); break;
            case ByeCommand: w.WriteString("type", "bye"); break;
            case FilesCommand c:
                w.WriteString("type", "files");
                if (c.Offset != 0) w.WriteNumber("offset", c.Offset);
                if (c.Limit is { } limit) w.WriteNumber("limit", limit);
                break;
            case GetCommand c: w.WriteString("type", "get"); w.WriteString("file", c.File); w.WriteString("via", ViaName(c.Via)); break;
            default: throw new ArgumentOutOfRangeException(nameof(command), command.GetType().Name);
        }
    });

    public static byte[] EncodeTicketRequest(TicketRequest request) => WriteLine(w =>
    {
        w.WriteString("ticket", request.Ticket);
        w.WriteNumber("offset", request.Offset);
    });

    // ---------------------------------------------------------------- server -> client

    public static byte[] Encode(ServerFrame frame) => frame is FrameBatch batch ? Concatenate(batch.Frames) : WriteLine(w =>
    {
        switch (frame)
        {
            case WelcomeFrame f: w.WriteString("type", "welcome"); w.WriteString("user", f.User); WriteStrings(w, "users", f.Users); break;
            case JoinedFrame f:
                w.WriteString("type", "joined"); w.WriteString("user", f.User);
                if (f.Room is not null) w.WriteString("room", f.Room);
                if (f.Users is not null) WriteStrings(w, "users", f.Users);
                break;
            case LeftFrame f:
                w.WriteString("type", "left"); w.WriteString("user", f.User); w.WriteString("reason", f.Reason);
                if (f.Room is not null) w.WriteString("room", f.Room);
                break;
            case MessageFrame f:
                w.WriteString("type", "msg");
                if (f.Room is not null) w.WriteString("room", f.Room);
                if (f.Id is { } id) w.WriteNumber("id", id);
                w.WriteString("from", f.From); w.WriteString("text", f.Text); w.WriteNumber("ts", f.Ts);
                break;
            case PrivateMessageFrame f:
                w.WriteString("type", "pm"); w.WriteString("from", f.From); w.WriteString("to", f.To);
                w.WriteString("text", f.Text); w.WriteNumber("ts", f.Ts);
                if (f.Queued) w.WriteBoolean("queued", true);
                if (f.Offline) w.WriteBoolean("offline", true);
                break;
            case HistoryFrame f:
                w.WriteString("type", "history"); w.WriteString("room", f.Room);
                w.WriteStartArray("messages");
                foreach (var m in f.Messages)
                {
                    w.WriteStartObject();
                    w.WriteNumber("id", m.Id); w.WriteString("from", m.From); w.WriteString("text", m.Text); w.WriteNumber("ts", m.Ts);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteBoolean("more", f.More);
                break;
            case RoomsFrame f:
                w.WriteString("type", "rooms");
                w.WriteStartArray("rooms");
                foreach (var r in f.Rooms)
                {
                    w.WriteStartObject();
                    w.WriteString("name", r.Name); w.WriteNumber("members", r.Members);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                break;
            case RegisteredFrame f: w.WriteString("type", "registered"); w.WriteString("user", f.User); break;
            case PasswordChangedFrame: w.WriteString("type", "password_changed"); break;
            case UsersFrame f: w.WriteString("type", "users"); WriteStrings(w, "users", f.Users); break;
            case PongFrame: w.WriteString("type", "pong"); break;
            case ErrorFrame f: w.WriteString("type", "error"); w.WriteString("code", f.Code); w.WriteString("message", f.Message); break;
            case FilesFrame f:
                w.WriteString("type", "files");
                w.WriteStartArray("files");
                foreach (var e in f.Files)
                {
                    w.WriteStartObject();
                    w.WriteString("name", e.Name); w.WriteNumber("size", e.Size); w.WriteString("sha256", e.Sha256);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteNumber("offset", f.Offset); w.WriteNumber("total", f.Total);
                if (f.Next is { } next) w.WriteNumber("next", next);
                break;
            case TicketFrame f:
                w.WriteString("type", "ticket"); w.WriteString("file", f.File); w.WriteString("via", ViaName(f.Via));
                w.WriteString("ticket", f.Ticket); w.WriteNumber("size", f.Size); w.WriteString("sha256", f.Sha256);
                w.WriteNumber("port", f.Port); break;
            case FileHeaderFrame f:
                w.WriteString("type", "file"); w.WriteString("file", f.File); w.WriteNumber("size", f.Size);
                w.WriteNumber("offset", f.Offset); w.WriteString("sha256", f.Sha256); break;
            default: throw new ArgumentOutOfRangeException(nameof(frame), frame.GetType().Name);
        }
    });

    /// <summary>Parses a line from the server (client side). Unknown types are an error.</summary>
    public static ParseResult<ServerFrame> ParseFrame(ReadOnlySpan<byte> line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line.ToArray());
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var typeElement)
                || typeElement.ValueKind != JsonValueKind.String)
                return Bad("a server frame is a JSON object with a string \"type\"");
            string S(string name) => root.GetProperty(name).GetString() ?? throw new FormatException(name);
            long L(string name) => root.GetProperty(name).GetInt64();
            string[] Strings(string name) => root.GetProperty(name).EnumerateArray().Select(e => e.GetString()!).ToArray();
            string? OptS(string name) => root.TryGetProperty(name, out var e) ? e.GetString() : null;
            long? OptL(string name) => root.TryGetProperty(name, out var e) ? e.GetInt64() : null;
            bool Flag(string name) => root.TryGetProperty(name, out var e) && e.GetBoolean();
            return typeElement.GetString() switch
            {
                "welcome" => new WelcomeFrame(S("user"), Strings("users")),
                "joined" => new JoinedFrame(S("user"), OptS("room"), root.TryGetProperty("users", out _) ? Strings("users") : null),
                "left" => new LeftFrame(S("user"), S("reason"), OptS("room")),
                "msg" => new MessageFrame(S("from"), S("text"), L("ts"), OptS("room"), OptL("id")),
                "pm" => new PrivateMessageFrame(S("from"), S("to"), S("text"), L("ts"), Flag("queued"), Flag("offline")),
                "history" => new HistoryFrame(S("room"), root.GetProperty("messages").EnumerateArray()
                    .Select(e => new HistoryEntry(e.GetProperty("id").GetInt64(), e.GetProperty("from").GetString()!,
                        e.GetProperty("text").GetString()!, e.GetProperty("ts").GetInt64())).ToArray(), Flag("more")),
                "rooms" => new RoomsFrame(root.GetProperty("rooms").EnumerateArray()
                    .Select(e => new RoomEntry(e.GetProperty("name").GetString()!, e.GetProperty("members").GetInt32())).ToArray()),
                "registered" => new RegisteredFrame(S("user")),
                "password_changed" => PasswordChangedFrame.Instance,
                "users" => new UsersFrame(Strings("users")),
                "pong" => PongFrame.Instance,
                "error" => new ErrorFrame(S("code"), root.TryGetProperty("message", out var m) ? m.GetString() ?? "" : ""),
                "files" => ParseFilesFrame(root),
                "ticket" => new TicketFrame(S("file"), S("via") == "udp" ? TransferVia.Udp : TransferVia.Tcp,
                    S("ticket"), L("size"), S("sha256"), (int)L("port")),
                "file" => new FileHeaderFrame(S("file"), L("size"), L("offset"), S("sha256")),
                var other => Bad($"unknown frame type \"{Truncate(other ?? "")}\""),
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return Bad("malformed server frame: " + e.Message);
        }
    }

    /// <summary>A <c>files</c> frame; one from a server without paging (no <c>total</c>) is a whole listing.</summary>
    private static FilesFrame ParseFilesFrame(JsonElement root)
    {
        var files = root.GetProperty("files").EnumerateArray()
            .Select(e => new FileEntry(e.GetProperty("name").GetString()!, e.GetProperty("size").GetInt64(),
                e.GetProperty("sha256").GetString()!)).ToArray();
        if (!root.TryGetProperty("total", out var total)) return new FilesFrame(files);
        int? next = root.TryGetProperty("next", out var n) ? n.GetInt32() : null;
        return new FilesFrame(files, root.GetProperty("offset").GetInt32(), total.GetInt32(), next);
    }

    public static string ViaName(TransferVia via) => via == TransferVia.Udp ? "udp" : "tcp";

    // ---------------------------------------------------------------- helpers

    private static ProtocolError Bad(string message) => new(ErrorCodes.BadRequest, message);

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";

    /// <summary>
    /// Encoded JSON arrays of immutable lists, by list: the online list a welcome or a <c>who</c>
    /// answer carries is one shared immutable set, so it is encoded once, and every welcome made
    /// from it (all those of one presence window during a burst of logins) is written with this
    /// array itself (<see cref="EncodeWelcome"/>).
    /// </summary>
    private static readonly ConditionalWeakTable<ImmutableSortedSet<string>, byte[]> EncodedLists = new();

    private static void WriteStrings(Utf8JsonWriter w, string name, IReadOnlyList<string> values)
    {
        if (values is ImmutableSortedSet<string> { Count: > 0 } shared)
        {
            w.WritePropertyName(name);
            w.WriteRawValue(EncodedLists.GetValue(shared, EncodeArray), skipInputValidation: true);
            return;
        }
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteStringValue(v);
        w.WriteEndArray();
    }

    /// <summary>
    /// A page of history that fits in one line (<see cref="ProtocolLimits.MaxLineBytes"/>): the
    /// messages given, or if they are too long together, the newest of them that fit, with
    /// <c>more</c> set (the client asks for the older ones with <c>before</c>, as for any page).
    /// Any one message fits: its text is at most <see cref="ProtocolLimits.MaxTextCodePoints"/>.
    /// </summary>
    public static HistoryFrame FitHistory(string room, IReadOnlyList<HistoryEntry> messages, bool more)
    {
        var frame = new HistoryFrame(room, messages, more);
        if (frame.Line.Length - 1 <= ProtocolLimits.MaxLineBytes) return frame;
        int budget = ProtocolLimits.MaxLineBytes - (new HistoryFrame(room, [], More: true).Line.Length - 1);
        int first = messages.Count;
        for (int used = 0; first > 0; first--)
        {
            int size = EncodedSize(messages[first - 1]) + (first < messages.Count ? 1 : 0); // and its comma
            if (used + size > budget) break;
            used += size;
        }
        return new HistoryFrame(room, messages.Skip(first).ToArray(), More: true);
    }

    private static int EncodedSize(HistoryEntry m) => WriteLine(w =>
    {
        w.WriteNumber("id", m.Id); w.WriteString("from", m.From); w.WriteString("text", m.Text); w.WriteNumber("ts", m.Ts);
    }).Length - 1;

    private static readonly byte[] WelcomeTail = "}\n"u8.ToArray();

    /// <summary>
    /// A welcome's line (the bytes of <see cref="Encode"/>) in three parts, to be written one after
    /// another: its own head <c>{"type":"welcome","user":"…","users":</c>, the encoded online list,
    /// and <c>}\n</c>. The list is the array <see cref="EncodedLists"/> keeps for the immutable set, so
    /// every welcome of one presence window hands its connection the same array: at 6,000 online a
    /// login no longer allocates and copies a ~50 KB line of its own.
    /// </summary>
    public static IReadOnlyList<byte[]> EncodeWelcome(WelcomeFrame frame)
    {
        var buffer = _buffer ??= new ArrayBufferWriter<byte>(256);
        buffer.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("type", "welcome");
            w.WriteString("user", frame.User);
            w.WritePropertyName("users");
        }
        var list = frame.Users is ImmutableSortedSet<string> { Count: > 0 } shared
            ? EncodedLists.GetValue(shared, EncodeArray)
            : EncodeArray(frame.Users);
        return [buffer.WrittenSpan.ToArray(), list, WelcomeTail];
    }

    private static byte[] EncodeArray(IEnumerable<string> values)
    {
        var buffer = new ArrayBufferWriter<byte>(values.TryGetNonEnumeratedCount(out int count) ? count * 12 + 2 : 256);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartArray();
            foreach (var v in values) w.WriteStringValue(v);
            w.WriteEndArray();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] Concatenate(IReadOnlyList<ServerFrame> frames)
    {
        var lines = new byte[frames.Sum(f => f.Line.Length)];
        int at = 0;
        foreach (var frame in frames)
        {
            frame.Line.CopyTo(lines, at);
            at += frame.Line.Length;
        }
        return lines;
    }

    [ThreadStatic] private static ArrayBufferWriter<byte>? _buffer;

    private static byte[] WriteLine(Action<Utf8JsonWriter> body)
    {
        var buffer = _buffer ??= new ArrayBufferWriter<byte>(256);
        buffer.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        var line = new byte[buffer.WrittenCount + 1];
        buffer.WrittenSpan.CopyTo(line);
        line[^1] = (byte)'\n';
        return line;
    }

    /// <summary>The top-level fields we know, read in one pass; others are skipped.</summary>
    private sealed class Fields
    {
        public string? Type;
        public bool TypeMistyped;
        private readonly Dictionary<string, string?> _strings = new(4);
        private readonly Dictionary<string, long?> _integers = new(2);

        public void SetString(string name, string? value) => _strings[name] = value;

        public void SetInteger(string name, long? value) => _integers[name] = value;

        /// <summary>An absent field is null; a present one must be a string.</summary>
        public bool OptionalString(string name, out string? value, out ProtocolError? error)
        {
            error = null;
            if (!_strings.TryGetValue(name, out value)) return true;
            if (value is not null) return true;
            error = Bad($"\"{name}\" must be a string");
            return false;
        }

        /// <summary>An absent field is null; a present one must be an integer.</summary>
        public bool OptionalLong(string name, out long? value, out ProtocolError? error)
        {
            error = null;
            if (!_integers.TryGetValue(name, out value)) return true;
            if (value is not null) return true;
            error = Bad($"\"{name}\" must be an integer");
            return false;
        }

        /// <summary>A missing or non-string field is bad_request.</summary>
        public bool RequireString(string name, out string? value, out ProtocolError? error)
        {
            if (_strings.TryGetValue(name, out value) && value is not null) { error = null; return true; }
            error = Bad(_strings.ContainsKey(name) ? $"\"{name}\" must be a string" : $"missing \"{name}\"");
            return false;
        }
    }

    private static readonly string[] KnownStringFields = ["user", "text", "to", "file", "via", "ticket", "room", "password", "old", "new"];
    private static readonly string[] KnownIntegerFields = ["offset", "before", "limit"];

    private static bool TryReadObject(ReadOnlySpan<byte> line, out Fields fields, out ProtocolError? error)
    {
        fields = new Fields();
        error = null;
        if (!Utf8.IsValid(line))
        {
            error = new ProtocolError(ErrorCodes.BadRequest, "the line is not valid UTF-8; closing", ClosesConnection: true);
            return false;
        }
        try
        {
            var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 64 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = Bad("a frame must be one JSON object");
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                reader.Read();
                var token = reader.TokenType;
                if (name == "type")
                {
                    if (token == JsonTokenType.String) { fields.Type = reader.GetString(); fields.TypeMistyped = false; }
                    else { fields.Type = null; fields.TypeMistyped = true; }
                }
                else if (Array.IndexOf(KnownIntegerFields, name) >= 0)
                {
                    fields.SetInteger(name, token == JsonTokenType.Number && reader.TryGetInt64(out long integer) ? integer : null);
                }
                else if (Array.IndexOf(KnownStringFields, name) >= 0)
                {
                    fields.SetString(name, token == JsonTokenType.String ? reader.GetString() : null);
                }
                if (token is JsonTokenType.StartObject or JsonTokenType.StartArray) reader.Skip();
            }
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                error = Bad("a frame must be exactly one JSON object");
                return false;
            }
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            error = Bad("malformed JSON: " + FirstSentence(e.Message));
            return false;
        }
    }

    private static string FirstSentence(string message)
    {
        int i = message.IndexOf(". ", StringComparison.Ordinal);
        return i < 0 ? message : message[..(i + 1)];
    }
}

/// <summary>Either a parsed value or the error to answer with.</summary>
public readonly struct ParseResult<T> where T : class
{
    public T? Value { get; }
    public ProtocolError? Error { get; }

    private ParseResult(T? value, ProtocolError? error) { Value = value; Error = error; }

    public static implicit operator ParseResult<T>(T value) => new(value, null);
    public static implicit operator ParseResult<T>(ProtocolError error) => new(null, error);
}
