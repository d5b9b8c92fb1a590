using System.Text.RegularExpressions;
using Messenger.Client;
using Messenger.Protocol;

namespace Messenger.TerminalClient;

/// <summary>The connection as the user sees it.</summary>
public enum ConnectionState { Disconnected, Connecting, LoggingIn, Online }

/// <summary>What the UI must do after the view-model took in a session event.</summary>
public abstract record Reaction;

/// <summary>A ticket arrived: start the transfer.</summary>
public sealed record StartDownload(DownloadItem Item, TicketFrame Ticket) : Reaction;

/// <summary>The login was refused or the peer is no chat server: close this session.</summary>
public sealed record CloseSession : Reaction { public static readonly CloseSession Instance = new(); }

/// <summary>Reconnect after <see cref="Delay"/> unless the user did something else meanwhile.</summary>
public sealed record ReconnectLater(TimeSpan Delay) : Reaction;

/// <summary>A private message or a mention of the user's name: ring the terminal bell.</summary>
public sealed record RingBell : Reaction { public static readonly RingBell Instance = new(); }

/// <summary>What the UI must do with the input line after Enter.</summary>
public sealed record Submitted(bool ClearInput, IReadOnlyList<ClientCommand> Send, bool Quit = false);

/// <summary>
/// Everything the terminal UI shows and decides, with no UI types: the chat log (with private
/// conversations as their own buffers), the online users, the server's files, the downloads,
/// the connection state, what Enter does with the input line, and when to reconnect. The UI
/// feeds it session events and download reports on its own thread and redraws on the change events.
/// </summary>
public sealed class ChatViewModel(Func<DateTimeOffset>? clock = null, Func<string, bool>? alreadyDownloaded = null)
{
    public const int MaxLogLines = 5_000;

    /// <summary>Leaves arriving this soon before our own connection drops are the server going away, not people leaving.</summary>
    public static readonly TimeSpan ShutdownLeaveWindow = TimeSpan.FromSeconds(2);

    private static readonly TimeSpan MaxReconnectDelay = TimeSpan.FromSeconds(30);

    private readonly Func<DateTimeOffset> _clock = clock ?? (() => DateTimeOffset.Now);
    private readonly Func<string, bool> _alreadyDownloaded = alreadyDownloaded ?? (_ => false);
    private readonly List<ChatLine> _log = [];
    private readonly List<string> _users = [];
    private readonly List<DownloadItem> _downloads = [];
    private readonly List<string> _conversations = [];
    private readonly Dictionary<string, int> _unread = new(Usernames.Comparer);
    private int _nextDownloadId = 1;
    private int _reconnectAttempt;
    private bool _filesQuietly;
    private string? _overwriteWarned;

    public IReadOnlyList<ChatLine> Log => _log;
    public IReadOnlyList<string> Users => _users;
    public IReadOnlyList<FileEntry> Files { get; private set; } = [];
    public IReadOnlyList<DownloadItem> Downloads => _downloads;
    public ConnectionState State { get; private set; } = ConnectionState.Disconnected;
    public string? Me { get; private set; }
    public string? Server { get; private set; }
    /// <summary>Why the last login attempt or connection failed (shown on the connect form).</summary>
    public string? LastProblem { get; private set; }
    /// <summary>Retry after a lost connection by itself (the user can stop it).</summary>
    public bool AutoReconnect { get; set; } = true;
    /// <summary>Hide join and leave lines (the setting F6 toggles).</summary>
    public bool HideJoinsAndLeaves { get; private set; }
    /// <summary>The private conversation shown, or null for the room.</summary>
    public string? Current { get; private set; }
    /// <summary>Open private conversations, in the order they were opened.</summary>
    public IReadOnlyList<string> Conversations => _conversations;
    public InputHistory History { get; } = new();
    public TabCompleter Completer { get; } = new();

    /// <summary>The log changed: lines added, replaced, removed, or the view switched.</summary>
    public event Action? LogChanged;
    public event Action? UsersChanged;
    public event Action? FilesChanged;
    public event Action<DownloadItem>? DownloadChanged;
    /// <summary>Downloads were added or removed.</summary>
    public event Action? DownloadsChanged;
    /// <summary>State, title, conversations or unread counts changed.</summary>
    public event Action? StateChanged;

    public string StatusText => State switch
    {
        ConnectionState.Online => $"online as {Me} on {Server} · {_users.Count} online",
        ConnectionState.Connecting => $"connecting to {Server}…",
        ConnectionState.LoggingIn => $"logging in to {Server}…",
        _ => LastProblem is null ? "disconnected" : $"disconnected: {LastProblem}",
    };

    /// <summary>The short state for the status bar.</summary>
    public string ShortState => State switch
    {
        ConnectionState.Online => $"online ({_users.Count})",
        ConnectionState.Disconnected => "OFFLINE",
        _ => "connecting…",
    };

    public int Unread(string? conversation) => _unread.GetValueOrDefault(conversation ?? "", 0);

    /// <summary>The buffers as tabs: the room, then each conversation, the current one in brackets, unread counts after.</summary>
    public string ConversationBar()
    {
        string Tab(string? c)
        {
            var name = c ?? "room";
            int n = Unread(c);
            var label = n > 0 ? $"{name}({n})" : name;
            return Usernames.Comparer.Equals(c ?? "", Current ?? "") ? $"[{label}]" : label;
        }
        return string.Join(" ", new string?[] { null }.Concat(_conversations).Select(Tab));
    }

    /// <summary>The lines of the current buffer: notes everywhere, room messages in the room, each conversation's in its own.</summary>
    public IEnumerable<ChatLine> VisibleLines() => _log.Where(l =>
        l.Kind is LineKind.System or LineKind.Error
        || (l.Kind is LineKind.Join or LineKind.Leave ? Current is null && !HideJoinsAndLeaves : Usernames.Comparer.Equals(l.Conversation ?? "", Current ?? "")));

    // ------------------------------------------------------------------ connection

    public void BeginConnect(string server)
    {
        Server = server;
        LastProblem = null;
        SetState(ConnectionState.Connecting);
    }

    /// <summary>Takes in everything the session reports; returns what the UI must do about it.</summary>
    public IReadOnlyList<Reaction> Apply(SessionEvent ev)
    {
        switch (ev)
        {
            case SessionConnected:
                SetState(ConnectionState.LoggingIn);
                return [];
            case SessionConnectFailed failed:
                LastProblem = failed.Reason;
                SetState(ConnectionState.Disconnected);
                return Me is null ? [] : LostConnection(failed.Reason, wasOnline: false);
            case SessionDisconnected gone:
                if (State == ConnectionState.Disconnected) return []; // already handled (a refusal closed it)
                bool wasOnline = State == ConnectionState.Online;
                LastProblem = gone.Reason;
                SetState(ConnectionState.Disconnected);
                foreach (var d in _downloads.Where(d => d.Status == DownloadStatus.AwaitingTicket).ToList())
                    FailDownload(d.Id, "disconnected before the server answered", quietly: true);
                return Me is null ? [] : LostConnection(gone.Reason, wasOnline);
            case SessionFrameReceived { Frame: var frame }:
                return Apply(frame);
            default:
                return [];
        }
    }

    private IReadOnlyList<Reaction> Apply(ServerFrame frame)
    {
        switch (frame)
        {
            case ErrorFrame error when State is ConnectionState.Connecting or ConnectionState.LoggingIn:
                return Refused(error);
            case WelcomeFrame welcome:
                Me = welcome.User;
                LastProblem = null;
                _reconnectAttempt = 0;
                SetUsers(welcome.Users);
                SetState(ConnectionState.Online);
                Add(new ChatLine(_clock(), LineKind.System, $"welcome, {welcome.User}! {welcome.Users.Count} online. Type /help for commands and keys."));
                return [];
            case JoinedFrame joined:
                if (!_users.Contains(joined.User, Usernames.Comparer))
                {
                    _users.Add(joined.User);
                    _users.Sort(StringComparer.OrdinalIgnoreCase);
                    UsersChanged?.Invoke();
                    StateChanged?.Invoke();
                }
                if (!Usernames.Comparer.Equals(joined.User, Me)) Add(new ChatLine(_clock(), LineKind.Join, $"{joined.User} joined"));
                return [];
            case LeftFrame left:
                if (_users.RemoveAll(u => Usernames.Comparer.Equals(u, left.User)) > 0)
                {
                    UsersChanged?.Invoke();
                    StateChanged?.Invoke();
                }
                Add(new ChatLine(_clock(), LineKind.Leave, $"{left.User} left ({DescribeReason(left.Reason)})"));
                return [];
            case UsersFrame users:
                SetUsers(users.Users);
                Add(new ChatLine(_clock(), LineKind.System, $"online ({users.Users.Count}): {string.Join(", ", users.Users)}"));
                return [];
            case MessageFrame msg:
            {
                bool mine = Usernames.Comparer.Equals(msg.From, Me);
                bool action = msg.Text.StartsWith(InputCommand.ActionPrefix, StringComparison.Ordinal);
                var text = action ? msg.Text[InputCommand.ActionPrefix.Length..] : msg.Text;
                var kind = action ? LineKind.Action : mine ? LineKind.Own : LineKind.Other;
                bool mentioned = !mine && Mentions(text);
                var line = new ChatLine(Time(msg.Ts), kind, text, msg.From, Mentioned: mentioned);
                if (!(mine && ConfirmPending(line))) Add(line);
                return mentioned ? [RingBell.Instance] : [];
            }
            case PrivateMessageFrame pm:
            {
                bool outgoing = Usernames.Comparer.Equals(pm.From, Me) && !Usernames.Comparer.Equals(pm.To, Me);
                var peer = outgoing ? pm.To : pm.From;
                OpenConversation(peer, switchTo: false);
                var line = new ChatLine(Time(pm.Ts), outgoing ? LineKind.PmOut : LineKind.PmIn, pm.Text, pm.From, peer);
                if (!(outgoing && ConfirmPending(line))) Add(line);
                return outgoing ? [] : [RingBell.Instance];
            }
            case ErrorFrame error:
                // A refused download is said once, by the download; anything else as the server put it.
                if (error.Code is ErrorCodes.NoSuchFile or ErrorCodes.BadTicket
                    && _downloads.FirstOrDefault(d => d.Status == DownloadStatus.AwaitingTicket) is { } pending)
                    FailDownload(pending.Id, $"{error.Message} ({error.Code})");
                else
                    Add(new ChatLine(_clock(), LineKind.Error, $"{error.Message} ({error.Code})"));
                return [];
            case FilesFrame files:
                Files = files.Files;
                FilesChanged?.Invoke();
                if (!_filesQuietly)
                    Add(new ChatLine(_clock(), LineKind.System, files.Files.Count == 0
                        ? "the server offers no files"
                        : $"{files.Files.Count} file(s): " + string.Join(", ", files.Files.Select(f => $"{f.Name} ({Units.Size(f.Size)})"))));
                _filesQuietly = false;
                return [];
            case TicketFrame ticket:
                var item = _downloads.FirstOrDefault(d => d.Status == DownloadStatus.AwaitingTicket && d.File == ticket.File && d.Via == ticket.Via)
                           ?? NewDownload(ticket.File, ticket.Via);
                item.Status = DownloadStatus.Running;
                item.Total = ticket.Size;
                DownloadChanged?.Invoke(item);
                return [new StartDownload(item, ticket)];
            default:
                return [];
        }
    }

    private IReadOnlyList<Reaction> Refused(ErrorFrame error)
    {
        bool notAServer = error.Code == ChatSessionActor.UnreadableFrameCode;
        LastProblem = notAServer
            ? $"{Server} is not a Messenger server (it answered with something other than chat frames)"
            : error.Message;
        Add(new ChatLine(_clock(), LineKind.Error, notAServer ? LastProblem : $"{error.Message} ({error.Code})"));
        SetState(ConnectionState.Disconnected);
        if (Me is null || notAServer) return [CloseSession.Instance];
        return [CloseSession.Instance, .. LostConnection(error.Message, wasOnline: false)];
    }

    /// <summary>Says once that the connection is gone, fails what was in flight, and plans the next try.</summary>
    private IReadOnlyList<Reaction> LostConnection(string reason, bool wasOnline)
    {
        if (wasOnline)
        {
            // A server going away first closes everyone else: those leaves are not news.
            var since = _clock() - ShutdownLeaveWindow;
            int end = _log.Count;
            while (end > 0 && _log[end - 1].Kind == LineKind.Leave && _log[end - 1].Time >= since) end--;
            if (end < _log.Count) _log.RemoveRange(end, _log.Count - end);
            for (int i = 0; i < _log.Count; i++)
                if (_log[i].Delivery == Delivery.Pending) _log[i] = _log[i] with { Delivery = Delivery.Failed };
            if (_users.Count > 0)
            {
                _users.Clear();
                UsersChanged?.Invoke();
            }
        }
        if (!AutoReconnect)
        {
            if (wasOnline) Add(new ChatLine(_clock(), LineKind.Error, $"connection lost: {reason}. Press F5 to reconnect as {Me}."));
            return [];
        }
        var delay = TimeSpan.FromSeconds(Math.Min(MaxReconnectDelay.TotalSeconds, Math.Pow(2, _reconnectAttempt++)));
        Add(new ChatLine(_clock(), LineKind.Error, $"{(wasOnline ? "connection lost" : "reconnect failed")}: {reason}. "
            + $"Reconnecting as {Me} in {delay.TotalSeconds:0} s (F5: now or stop)."));
        return [new ReconnectLater(delay)];
    }

    // ------------------------------------------------------------------ the input line

    /// <summary>What Enter does with <paramref name="text"/>: errors and notes go to the log; the text stays when it needs fixing.</summary>
    public Submitted Submit(string text)
    {
        var command = InputCommand.Parse(text);
        switch (command)
        {
            case InputCommand.Empty:
                return new Submitted(false, []);
            case InputCommand.Invalid invalid:
                AddError(invalid.Error);
                return new Submitted(false, []);
            case InputCommand.Help:
                ShowHelp();
                History.Add(text);
                return new Submitted(true, []);
            case InputCommand.Quit:
                return new Submitted(false, [], Quit: true);
        }
        if (State != ConnectionState.Online)
        {
            AddError(Me is null ? "not connected" : "not connected: the text is kept; press F5 to reconnect now");
            return new Submitted(false, []);
        }
        // In a private conversation, plain text goes to the other person.
        if (command is InputCommand.Say say && Current is not null) command = new InputCommand.PrivateMessage(Current, say.Text);
        switch (command)
        {
            case InputCommand.Get get:
                if (_alreadyDownloaded(get.File) && _overwriteWarned != get.File)
                {
                    _overwriteWarned = get.File;
                    AddError($"{get.File} is already in the downloads folder: press Enter again to replace it");
                    return new Submitted(false, []);
                }
                _overwriteWarned = null;
                RequestDownload(get.File, get.Via);
                break;
            case InputCommand.Say s:
                foreach (var line in InputCommand.Lines(s.Text))
                    Add(new ChatLine(_clock(), LineKind.Own, line, Me, Delivery: Delivery.Pending));
                break;
            case InputCommand.Me me:
                Add(new ChatLine(_clock(), LineKind.Action, me.Text, Me, Delivery: Delivery.Pending));
                break;
            case InputCommand.PrivateMessage pm:
                OpenConversation(pm.To, switchTo: Current is not null);
                foreach (var line in InputCommand.Lines(pm.Text))
                    Add(new ChatLine(_clock(), LineKind.PmOut, line, Me, pm.To, Delivery.Pending));
                break;
        }
        History.Add(text);
        return new Submitted(true, command.ToClientCommands());
    }

    public void ShowHelp()
    {
        AddSystem(HelpText.Commands);
        AddSystem(HelpText.Keys);
    }

    // ------------------------------------------------------------------ buffers and settings

    /// <summary>Opens (or shows) the private conversation with <paramref name="user"/>.</summary>
    public void OpenConversation(string user, bool switchTo = true)
    {
        if (Usernames.Comparer.Equals(user, Me)) return;
        if (!_conversations.Contains(user, Usernames.Comparer)) _conversations.Add(user);
        if (switchTo) SwitchTo(user);
        else StateChanged?.Invoke();
    }

    /// <summary>Shows the next (+1) or previous (-1) buffer: the room, then each conversation.</summary>
    public void CycleConversation(int step)
    {
        var all = new string?[] { null }.Concat(_conversations).ToList();
        int at = all.FindIndex(c => Usernames.Comparer.Equals(c ?? "", Current ?? ""));
        SwitchTo(all[((at + step) % all.Count + all.Count) % all.Count]);
    }

    public void SwitchTo(string? conversation)
    {
        Current = conversation;
        _unread.Remove(conversation ?? "");
        LogChanged?.Invoke();
        StateChanged?.Invoke();
    }

    public void ToggleJoinsAndLeaves()
    {
        HideJoinsAndLeaves = !HideJoinsAndLeaves;
        AddSystem(HideJoinsAndLeaves ? "joins and leaves are hidden (F6 shows them)" : "joins and leaves are shown (F6 hides them)");
    }

    // ------------------------------------------------------------------ files and downloads

    /// <summary>The files view asks for the list: it fills the view without a line in the chat.</summary>
    public void RequestFilesQuietly() => _filesQuietly = true;

    /// <summary>The user asked for a file; the item waits for its ticket.</summary>
    public DownloadItem RequestDownload(string file, TransferVia via)
    {
        var item = NewDownload(file, via);
        AddSystem($"asking for {file} over {ChatCodec.ViaName(via)}… (F3 shows downloads)");
        return item;
    }

    public bool HasActiveDownloads => _downloads.Any(d => !d.Finished);

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
        if (Find(id) is not { Status: DownloadStatus.Running } item) return;
        item.Sha256 = result.Sha256;
        item.Path = result.Path;
        item.Retransmits = result.Retransmits;
        if (!result.Verified)
        {
            FailDownload(id, result.Error ?? "SHA-256 mismatch");
            return;
        }
        item.Status = DownloadStatus.Verified;
        item.Bytes = item.Total = Math.Max(item.Total, result.Bytes);
        DownloadChanged?.Invoke(item);
        AddSystem($"{item.File}: SHA-256 verified, saved to {result.Path} ({Units.Rate(result.Bytes / Math.Max(result.Elapsed.TotalSeconds, 1e-9))})");
    }

    public void FailDownload(int id, string error) => FailDownload(id, error, quietly: false);

    private void FailDownload(int id, string error, bool quietly)
    {
        if (Find(id) is not { } item || item.Finished) return;
        item.Status = DownloadStatus.Failed;
        item.Error = error;
        DownloadChanged?.Invoke(item);
        if (!quietly) AddError($"download of {item.File} failed: {error}");
    }

    /// <summary>Marks a download cancelled; false when it had already finished.</summary>
    public bool CancelDownload(int id)
    {
        if (Find(id) is not { } item || item.Finished) return false;
        item.Status = DownloadStatus.Cancelled;
        DownloadChanged?.Invoke(item);
        AddSystem($"download of {item.File} cancelled");
        return true;
    }

    /// <summary>Removes finished downloads from the view.</summary>
    public void ClearFinishedDownloads()
    {
        if (_downloads.RemoveAll(d => d.Finished) > 0) DownloadsChanged?.Invoke();
    }

    public void AddSystem(string text) => Add(new ChatLine(_clock(), LineKind.System, text));

    public void AddError(string text) => Add(new ChatLine(_clock(), LineKind.Error, text));

    // ------------------------------------------------------------------ helpers

    private DownloadItem NewDownload(string file, TransferVia via)
    {
        var item = new DownloadItem(_nextDownloadId++, file, via);
        _downloads.Add(item);
        DownloadsChanged?.Invoke();
        return item;
    }

    private DownloadItem? Find(int id) => _downloads.FirstOrDefault(d => d.Id == id);

    /// <summary>The server echoed a line we sent: the pending copy becomes the delivered one, in place.</summary>
    private bool ConfirmPending(ChatLine echo)
    {
        int i = _log.FindIndex(l => l.Delivery == Delivery.Pending && l.Kind == echo.Kind && l.Text == echo.Text
                                    && Usernames.Comparer.Equals(l.Conversation ?? "", echo.Conversation ?? ""));
        if (i < 0) return false;
        _log[i] = echo;
        LogChanged?.Invoke();
        return true;
    }

    private bool Mentions(string text) =>
        Me is not null && Regex.IsMatch(text, $@"(?<![\w.-]){Regex.Escape(Me)}(?![\w-])", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    private DateTimeOffset Time(long unixMs) => DateTimeOffset.FromUnixTimeMilliseconds(unixMs);

    private void Add(ChatLine line)
    {
        _log.Add(line);
        if (line.Kind is not (LineKind.System or LineKind.Error or LineKind.Join or LineKind.Leave)
            && !Usernames.Comparer.Equals(line.Conversation ?? "", Current ?? ""))
        {
            _unread[line.Conversation ?? ""] = Unread(line.Conversation) + 1;
            StateChanged?.Invoke();
        }
        if (_log.Count > MaxLogLines) _log.RemoveRange(0, _log.Count - MaxLogLines);
        LogChanged?.Invoke();
    }

    private void SetUsers(IReadOnlyList<string> users)
    {
        _users.Clear();
        _users.AddRange(users.OrderBy(u => u, StringComparer.OrdinalIgnoreCase));
        UsersChanged?.Invoke();
        StateChanged?.Invoke();
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
