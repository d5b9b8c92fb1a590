using System.Globalization;
using Messenger.Client;
using Messenger.Protocol;

namespace Messenger.TerminalClient;

/// <summary>How a chat-log line is shown: each kind has its own prefix and colour.</summary>
public enum LineKind { Own, Other, PmIn, PmOut, Join, Leave, Error, System }

/// <summary>One line of the chat log.</summary>
public sealed record ChatLine(DateTimeOffset Time, LineKind Kind, string Text)
{
    public static string Prefix(LineKind kind) => kind switch
    {
        LineKind.Own => "»",
        LineKind.Other => " ",
        LineKind.PmIn => "◆",
        LineKind.PmOut => "◇",
        LineKind.Join => "→",
        LineKind.Leave => "←",
        LineKind.Error => "!",
        _ => "·",
    };

    public string Render() => $"{Time.ToLocalTime():HH:mm:ss} {Prefix(Kind)} {Text}";

    public override string ToString() => Render();
}

/// <summary>The connection as the user sees it.</summary>
public enum ConnectionState { Disconnected, Connecting, LoggingIn, Online }

public enum DownloadStatus { AwaitingTicket, Running, Verified, Failed }

/// <summary>One download as shown in the downloads view.</summary>
public sealed class DownloadItem(int id, string file, TransferVia via)
{
    public int Id { get; } = id;
    public string File { get; } = file;
    public TransferVia Via { get; } = via;
    public DownloadStatus Status { get; internal set; } = DownloadStatus.AwaitingTicket;
    public long Bytes { get; internal set; }
    public long Total { get; internal set; }
    public double BytesPerSecond { get; internal set; }
    public TimeSpan? Eta { get; internal set; }
    public long Retransmits { get; internal set; }
    public int Window { get; internal set; }
    public string? Sha256 { get; internal set; }
    public string? Error { get; internal set; }
    public string? Path { get; internal set; }

    public float Fraction => Total <= 0 ? (Status == DownloadStatus.Verified ? 1f : 0f) : (float)Math.Clamp((double)Bytes / Total, 0, 1);

    /// <summary>The first line: name, transfer, how far, how fast.</summary>
    public string Describe()
    {
        var via = ChatCodec.ViaName(Via);
        return Status switch
        {
            DownloadStatus.AwaitingTicket => $"{File} {via}: asking the server…",
            DownloadStatus.Running => $"{File} {via} {Fraction * 100:0}% {Size(Bytes)}/{Size(Total)} {Size((long)BytesPerSecond)}/s"
                + $" ETA {(Eta is { } eta ? FormatEta(eta) : "?")}",
            DownloadStatus.Verified => $"{File} {via} 100% {Size(Total)} done",
            _ => $"{File} {via} FAILED",
        };
    }

    /// <summary>The second line: UDP window and retransmits, the verified hash, or why it failed.</summary>
    public string Detail() => Status switch
    {
        DownloadStatus.Running when Via == TransferVia.Udp => $"retransmits {Retransmits} · window {Window}",
        DownloadStatus.Verified => $"SHA-256 verified {Sha256?[..Math.Min(16, Sha256.Length)]}…"
            + (Via == TransferVia.Udp ? $" · retransmits {Retransmits}" : ""),
        DownloadStatus.Failed => Error ?? "failed",
        _ => "",
    };

    public static string Size(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):0.00} GiB"),
    };

    private static string FormatEta(TimeSpan eta) =>
        eta.TotalHours >= 1 ? eta.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : eta.ToString(@"m\:ss", CultureInfo.InvariantCulture);
}

/// <summary>
/// Everything the terminal UI shows, with no UI types: the chat log, the online users, the
/// server's files, the downloads and the connection state. The UI feeds it session events and
/// download reports (on its own thread) and redraws on the change events.
/// </summary>
public sealed class ChatViewModel(Func<DateTimeOffset>? clock = null)
{
    public const int MaxLogLines = 5_000;

    private readonly Func<DateTimeOffset> _clock = clock ?? (() => DateTimeOffset.Now);
    private readonly List<ChatLine> _log = [];
    private readonly List<string> _users = [];
    private readonly List<DownloadItem> _downloads = [];
    private int _nextDownloadId = 1;

    public IReadOnlyList<ChatLine> Log => _log;
    public IReadOnlyList<string> Users => _users;
    public IReadOnlyList<FileEntry> Files { get; private set; } = [];
    public IReadOnlyList<DownloadItem> Downloads => _downloads;
    public ConnectionState State { get; private set; } = ConnectionState.Disconnected;
    public string? Me { get; private set; }
    public string? Server { get; private set; }
    /// <summary>Why the last login attempt or connection failed (shown on the connect form).</summary>
    public string? LastProblem { get; private set; }

    public event Action<ChatLine>? LineAdded;
    /// <summary>Lines fell off the top of the scrollback.</summary>
    public event Action<int>? LinesTrimmed;
    public event Action? UsersChanged;
    public event Action? FilesChanged;
    public event Action<DownloadItem>? DownloadChanged;
    public event Action? StateChanged;

    public string StatusText => State switch
    {
        ConnectionState.Online => $"online as {Me} on {Server} · {_users.Count} user(s)",
        ConnectionState.Connecting => $"connecting to {Server}…",
        ConnectionState.LoggingIn => $"logging in to {Server}…",
        _ => LastProblem is null ? "disconnected" : $"disconnected: {LastProblem}",
    };

    public void BeginConnect(string server)
    {
        Server = server;
        LastProblem = null;
        SetState(ConnectionState.Connecting);
    }

    public void Apply(SessionEvent ev)
    {
        switch (ev)
        {
            case SessionConnected:
                SetState(ConnectionState.LoggingIn);
                break;
            case SessionConnectFailed failed:
                LastProblem = failed.Reason;
                SetState(ConnectionState.Disconnected);
                break;
            case SessionDisconnected gone:
                bool wasOnline = State == ConnectionState.Online;
                LastProblem = gone.Reason;
                SetState(ConnectionState.Disconnected);
                if (wasOnline) Add(LineKind.Error, $"disconnected: {gone.Reason}");
                if (_users.Count > 0) { _users.Clear(); UsersChanged?.Invoke(); }
                foreach (var d in _downloads.Where(d => d.Status == DownloadStatus.AwaitingTicket).ToList())
                    FailDownload(d.Id, "disconnected before the server answered");
                break;
            case SessionFrameReceived { Frame: var frame }:
                Apply(frame);
                break;
        }
    }

    /// <summary>Applies one server frame; returns the ticket when it answers a pending download.</summary>
    public (DownloadItem Item, TicketFrame Ticket)? Apply(ServerFrame frame)
    {
        switch (frame)
        {
            case WelcomeFrame welcome:
                Me = welcome.User;
                LastProblem = null;
                SetUsers(welcome.Users);
                SetState(ConnectionState.Online);
                Add(LineKind.System, $"welcome, {welcome.User}! {welcome.Users.Count} online. Type /help for commands.");
                break;
            case JoinedFrame joined:
                if (!_users.Contains(joined.User, Usernames.Comparer))
                {
                    _users.Add(joined.User);
                    _users.Sort(StringComparer.OrdinalIgnoreCase);
                    UsersChanged?.Invoke();
                }
                if (!Usernames.Comparer.Equals(joined.User, Me)) Add(LineKind.Join, $"{joined.User} joined");
                break;
            case LeftFrame left:
                if (_users.RemoveAll(u => Usernames.Comparer.Equals(u, left.User)) > 0) UsersChanged?.Invoke();
                Add(LineKind.Leave, $"{left.User} left ({DescribeReason(left.Reason)})");
                break;
            case UsersFrame users:
                SetUsers(users.Users);
                Add(LineKind.System, $"online ({users.Users.Count}): {string.Join(", ", users.Users)}");
                break;
            case MessageFrame msg:
                Add(Usernames.Comparer.Equals(msg.From, Me) ? LineKind.Own : LineKind.Other, $"<{msg.From}> {msg.Text}", msg.Ts);
                break;
            case PrivateMessageFrame pm:
                if (Usernames.Comparer.Equals(pm.From, Me) && !Usernames.Comparer.Equals(pm.To, Me))
                    Add(LineKind.PmOut, $"[pm to {pm.To}] {pm.Text}", pm.Ts);
                else
                    Add(LineKind.PmIn, $"[pm from {pm.From}] {pm.Text}", pm.Ts);
                break;
            case ErrorFrame error:
                if (State == ConnectionState.LoggingIn) LastProblem = error.Message;
                if (error.Code is ErrorCodes.NoSuchFile or ErrorCodes.BadTicket
                    && _downloads.FirstOrDefault(d => d.Status == DownloadStatus.AwaitingTicket) is { } pending)
                    FailDownload(pending.Id, error.Message);
                Add(LineKind.Error, $"{error.Message} ({error.Code})");
                break;
            case FilesFrame files:
                Files = files.Files;
                FilesChanged?.Invoke();
                Add(LineKind.System, files.Files.Count == 0
                    ? "the server offers no files"
                    : $"{files.Files.Count} file(s): " + string.Join(", ", files.Files.Select(f => $"{f.Name} ({DownloadItem.Size(f.Size)})")));
                break;
            case TicketFrame ticket:
                var item = _downloads.FirstOrDefault(d => d.Status == DownloadStatus.AwaitingTicket && d.File == ticket.File && d.Via == ticket.Via)
                           ?? StartDownloadItem(ticket.File, ticket.Via);
                item.Status = DownloadStatus.Running;
                item.Total = ticket.Size;
                DownloadChanged?.Invoke(item);
                return (item, ticket);
            case PongFrame:
                break;
        }
        return null;
    }

    /// <summary>The user asked for a file; the item waits for its ticket.</summary>
    public DownloadItem RequestDownload(string file, TransferVia via)
    {
        var item = StartDownloadItem(file, via);
        Add(LineKind.System, $"asking for {file} over {ChatCodec.ViaName(via)}…");
        return item;
    }

    private DownloadItem StartDownloadItem(string file, TransferVia via)
    {
        var item = new DownloadItem(_nextDownloadId++, file, via);
        _downloads.Add(item);
        DownloadChanged?.Invoke(item);
        return item;
    }

    public void ReportProgress(int id, DownloadProgress progress)
    {
        if (Find(id) is not { Status: DownloadStatus.Running } item) return;
        item.Bytes = progress.BytesDone;
        item.Total = progress.TotalBytes;
        item.BytesPerSecond = progress.BytesPerSecond;
        item.Eta = progress.Eta;
        item.Retransmits = progress.Retransmits;
        item.Window = progress.Window;
        DownloadChanged?.Invoke(item);
    }

    public void CompleteDownload(int id, DownloadResult result)
    {
        if (Find(id) is not { } item) return;
        item.Sha256 = result.Sha256;
        item.Path = result.Path;
        item.Retransmits = result.Retransmits;
        if (result.Verified)
        {
            item.Status = DownloadStatus.Verified;
            item.Bytes = item.Total = Math.Max(item.Total, result.Bytes);
            DownloadChanged?.Invoke(item);
            Add(LineKind.System, $"{item.File}: SHA-256 verified, saved to {result.Path}"
                + string.Create(CultureInfo.InvariantCulture, $" ({result.MegabytesPerSecond:0.0} MB/s)"));
        }
        else
        {
            FailDownload(id, result.Error ?? "SHA-256 mismatch");
        }
    }

    public void FailDownload(int id, string error)
    {
        if (Find(id) is not { } item) return;
        item.Status = DownloadStatus.Failed;
        item.Error = error;
        DownloadChanged?.Invoke(item);
        Add(LineKind.Error, $"download of {item.File} failed: {error}");
    }

    public void AddSystem(string text) => Add(LineKind.System, text);

    public void AddError(string text) => Add(LineKind.Error, text);

    private DownloadItem? Find(int id) => _downloads.FirstOrDefault(d => d.Id == id);

    private void Add(LineKind kind, string text, long? unixMs = null)
    {
        var time = unixMs is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : _clock();
        var line = new ChatLine(time, kind, text);
        _log.Add(line);
        LineAdded?.Invoke(line);
        if (_log.Count > MaxLogLines)
        {
            int drop = _log.Count - MaxLogLines;
            _log.RemoveRange(0, drop);
            LinesTrimmed?.Invoke(drop);
        }
    }

    private void SetUsers(IReadOnlyList<string> users)
    {
        _users.Clear();
        _users.AddRange(users.OrderBy(u => u, StringComparer.OrdinalIgnoreCase));
        UsersChanged?.Invoke();
    }

    private void SetState(ConnectionState state)
    {
        State = state;
        StateChanged?.Invoke();
    }

    private static string DescribeReason(string reason) => reason switch
    {
        LeaveReasons.Quit => "quit",
        LeaveReasons.Timeout => "timed out",
        LeaveReasons.Disconnected => "connection lost",
        LeaveReasons.Slow => "too slow, dropped by the server",
        _ => reason,
    };
}
