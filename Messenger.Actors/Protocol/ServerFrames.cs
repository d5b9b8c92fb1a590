namespace Messenger.Protocol;

/// <summary>
/// A control-channel frame from the server. Each one is encoded to its JSON line at most once,
/// on first use, and the bytes are shared: a broadcast to 10,000 clients encodes once.
/// </summary>
public abstract record ServerFrame
{
    private byte[]? _line;

    /// <summary>The frame as one UTF-8 JSON line ending in <c>\n</c>.</summary>
    public byte[] Line => _line ??= ChatCodec.Encode(this);

    // Equality is the frame's content; the cached bytes do not take part.
    public virtual bool Equals(ServerFrame? other) => other is not null && EqualityContract == other.EqualityContract;
    public override int GetHashCode() => EqualityContract.GetHashCode();
}

public sealed record WelcomeFrame(string User, IReadOnlyList<string> Users) : ServerFrame;
/// <summary>
/// <paramref name="User"/> joined <paramref name="Room"/>. The joiner's own copy of an explicit
/// join also carries the room's <paramref name="Users"/>.
/// </summary>
public sealed record JoinedFrame(string User, string? Room = null, IReadOnlyList<string>? Users = null) : ServerFrame;
public sealed record LeftFrame(string User, string Reason, string? Room = null) : ServerFrame;
/// <summary>A room message; <paramref name="Id"/> is the room's sequence number (1, 2, 3, … without gaps).</summary>
public sealed record MessageFrame(string From, string Text, long Ts, string? Room = null, long? Id = null) : ServerFrame;
/// <summary>
/// A private message. <paramref name="Queued"/>: the sender's echo of a message stored for an offline
/// registered user; <paramref name="Offline"/>: delivered at login, sent while the recipient was away.
/// </summary>
public sealed record PrivateMessageFrame(string From, string To, string Text, long Ts, bool Queued = false, bool Offline = false) : ServerFrame;
/// <summary>One stored room message, as listed in a <see cref="HistoryFrame"/>.</summary>
public sealed record HistoryEntry(long Id, string From, string Text, long Ts);
/// <summary>Messages of <paramref name="Room"/>, oldest first; <paramref name="More"/>: older ones exist.</summary>
public sealed record HistoryFrame(string Room, IReadOnlyList<HistoryEntry> Messages, bool More) : ServerFrame;
public sealed record RoomEntry(string Name, int Members);
public sealed record RoomsFrame(IReadOnlyList<RoomEntry> Rooms) : ServerFrame;
/// <summary>The name this connection is logged in with is now registered.</summary>
public sealed record RegisteredFrame(string User) : ServerFrame;
public sealed record PasswordChangedFrame : ServerFrame { public static readonly PasswordChangedFrame Instance = new(); }
public sealed record UsersFrame(IReadOnlyList<string> Users) : ServerFrame;
/// <summary>
/// Several frames told as one message and written as their lines one after another: presence news
/// gathered over a short window goes to each client as one of these, not one message per change.
/// </summary>
public sealed record FrameBatch(IReadOnlyList<ServerFrame> Frames) : ServerFrame;
public sealed record PongFrame : ServerFrame { public static readonly PongFrame Instance = new(); }
public sealed record ErrorFrame(string Code, string Message) : ServerFrame
{
    public static ErrorFrame From(ProtocolError error) => new(error.Code, error.Message);
}
public sealed record FileEntry(string Name, long Size, string Sha256);
/// <summary>
/// One page of the listing: <paramref name="Files"/> are entries <paramref name="Offset"/>, <paramref name="Offset"/> + 1, …
/// of <paramref name="Total"/>; <paramref name="Next"/> is the offset of the next page, null on the last.
/// </summary>
public sealed record FilesFrame(IReadOnlyList<FileEntry> Files, int Offset, int Total, int? Next) : ServerFrame
{
    /// <summary>A whole listing in one page.</summary>
    public FilesFrame(IReadOnlyList<FileEntry> files) : this(files, 0, files.Count, null) { }
}
public sealed record TicketFrame(string File, TransferVia Via, string Ticket, long Size, string Sha256, int Port) : ServerFrame;
/// <summary>The header line of the TCP file channel, before the raw bytes.</summary>
public sealed record FileHeaderFrame(string File, long Size, long Offset, string Sha256) : ServerFrame;

/// <summary>Why a user left, as sent in <c>left.reason</c>.</summary>
public static class LeaveReasons
{
    public const string Quit = "quit";
    public const string Disconnected = "disconnected";
    public const string Timeout = "timeout";
    public const string Slow = "slow";
    /// <summary>The user left one room with <c>part</c> (never sent for the lobby).</summary>
    public const string Part = "part";
}
