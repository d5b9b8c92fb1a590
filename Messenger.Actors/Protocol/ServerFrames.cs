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
public sealed record JoinedFrame(string User) : ServerFrame;
public sealed record LeftFrame(string User, string Reason) : ServerFrame;
public sealed record MessageFrame(string From, string Text, long Ts) : ServerFrame;
public sealed record PrivateMessageFrame(string From, string To, string Text, long Ts) : ServerFrame;
public sealed record UsersFrame(IReadOnlyList<string> Users) : ServerFrame;
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
}
