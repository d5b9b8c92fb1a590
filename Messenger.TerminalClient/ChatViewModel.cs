using System.Text.RegularExpressions;
using Messenger.Client;
using Messenger.Protocol;

namespace Messenger.TerminalClient;

/// <summary>The connection as the user sees it.</summary>
public enum ConnectionState { Disconnected, Connecting, LoggingIn, Online }

/// <summary>The connect form's field that the last refusal asks the user to fix.</summary>
public enum ConnectField { Username, Password }

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

/// <summary>Send these to the server (the lobby's recent history after a welcome, rooms joined again after a reconnect).</summary>
public sealed record SendCommands(IReadOnlyList<ClientCommand> Commands) : Reaction;

/// <summary>What the UI must do with the input line after Enter.</summary>
public sealed record Submitted(bool ClearInput, IReadOnlyList<ClientCommand> Send, bool Quit = false);

/// <summary>
/// Everything the terminal UI shows and decides, with no UI types: the chat log (the lobby, each
/// room joined and each private conversation as its own buffer, room history loaded on demand),
/// the online users, the rooms, the server's files, the downloads, the connection state, what
/// Enter does with the input line, and when to reconnect. The UI
/// feeds it session events and download reports on its own thread and redraws on the change events.
/// </summary>
public sealed class ChatViewModel(Func<DateTimeOffset>? clock = null, Func<string, bool>? alreadyDownloaded = null)
{
    public const int MaxLogLines = 5_000;

    /// <summary>Leaves arriving this soon before our own connection drops are the server going away, not people leaving.</summary>
    public static readonly TimeSpan ShutdownLeaveWindow = TimeSpan.FromSeconds(2);

    private static readonly TimeSpan MaxReconnectDelay = TimeSpan.FromSeconds(30);

    /// <summary>Messages asked for per history page (the server sends at most 200).</summary>
    public const int HistoryPage = 50;

    private readonly Func<DateTimeOffset> _clock = clock ?? (() => DateTimeOffset.Now);
    private readonly Func<string, bool> _alreadyDownloaded = alreadyDownloaded ?? (_ => false);
    private readonly List<ChatLine> _log = [];
    private readonly List<string> _users = [];
    private readonly List<DownloadItem> _downloads = [];
    private readonly List<string> _conversations = [];
    private readonly Dictionary<string, int> _unread = new(Usernames.Comparer);
    private readonly Dictionary<string, RoomState> _rooms = new(StringComparer.Ordinal);
    private string? _switchOnJoin;
    private Password? _newPassword;
    private int _nextDownloadId = 1;
    private int _reconnectAttempt;
    private bool _filesQuietly;
    /// <summary>The server's file list was asked for at least once (by /files, the files view, or a Tab after /get).</summary>
    private bool _filesAsked;
    private string? _overwriteWarned;
    /// <summary>The buffer the last command was typed in: the server's answers to it are shown there.</summary>
    private string? _replyBuffer;
    /// <summary>Refusals still to come for the other lines of a multi-line private message already refused.</summary>
    private int _pmRefusalsToSkip;
    /// <summary>Why the server is closing the connection (it said so just before), for the one "connection lost" line.</summary>
    private string? _closingReason;
    /// <summary>The connection notes said since the last welcome: each only once, however often a retry fails the same way.</summary>
    private readonly HashSet<string> _connectionNotesSaid = [];

    public IReadOnlyList<ChatLine> Log => _log;
    public IReadOnlyList<string> Users => _users;
    /// <summary>The names shown beside the chat: the room's members in a room, everyone online otherwise.</summary>
    public IReadOnlyList<string> UsersShown => CurrentRoom is { } room && room != RoomNames.Lobby && _rooms.TryGetValue(room, out var r) ? r.Members : _users;
    /// <summary>The rooms the user is in, the lobby first.</summary>
    public IReadOnlyList<string> JoinedRooms =>
        [RoomNames.Lobby, .. _rooms.Values.Where(r => r.Joined && r.Name != RoomNames.Lobby).Select(r => r.Name).Order(StringComparer.Ordinal)];
    /// <summary>The server's rooms with their member counts, as the last <c>/rooms</c> answered.</summary>
    public IReadOnlyList<RoomEntry> ServerRooms { get; private set; } = [];
    public IReadOnlyList<FileEntry> Files { get; private set; } = [];
    public IReadOnlyList<DownloadItem> Downloads => _downloads;
    public ConnectionState State { get; private set; } = ConnectionState.Disconnected;
    public string? Me { get; private set; }
    public string? Server { get; private set; }
    /// <summary>The password to log in with (a registered name), kept for reconnecting; null for a guest.</summary>
    public Password? Password { get; private set; }
    /// <summary>Why the last login attempt or connection failed (shown on the connect form).</summary>
    public string? LastProblem { get; private set; }
    /// <summary>
    /// The field the connect form moves the focus to after a refusal: the password after
    /// <c>name_registered</c> or <c>wrong_password</c>, so a password is never typed into the
    /// username field in clear; null when there is nothing to fix on the form.
    /// </summary>
    public ConnectField? FieldToFix { get; private set; }
    /// <summary>Retry after a lost connection by itself (the user can stop it).</summary>
    public bool AutoReconnect
    {
        get => _autoReconnect;
        set
        {
            _autoReconnect = value;
            if (!value && NextRetry is not null)
            {
                NextRetry = null;
                StateChanged?.Invoke();
            }
        }
    }
    private bool _autoReconnect = true;
    /// <summary>When a reconnect is planned: how many tries failed since the connection was lost, and the wait before the next.</summary>
    public (int Failed, TimeSpan Delay)? NextRetry { get; private set; }
    /// <summary>Hide join and leave lines (the setting F7 toggles).</summary>
    public bool HideJoinsAndLeaves { get; private set; }
    /// <summary>The buffer shown: null for the lobby, <c>#name</c> for a room, a user's name for a private conversation.</summary>
    public string? Current { get; private set; }
    /// <summary>The room shown (the lobby included), or null in a private conversation.</summary>
    public string? CurrentRoom => Current is null ? RoomNames.Lobby : Current.StartsWith('#') ? Current[1..] : null;
    /// <summary>Open buffers besides the lobby (rooms as <c>#name</c>, private conversations), in the order they were opened.</summary>
    public IReadOnlyList<string> Conversations => _conversations;
    public InputHistory History { get; } = new();
    public TabCompleter Completer { get; } = new();

    /// <summary>The log changed: lines added, replaced, removed, or the view switched.</summary>
    public event Action? LogChanged;
    public event Action? UsersChanged;
    /// <summary>The rooms joined, or the server's room list, changed.</summary>
    public event Action? RoomsChanged;
    public event Action? FilesChanged;
    public event Action<DownloadItem>? DownloadChanged;
    /// <summary>Downloads were added or removed.</summary>
    public event Action? DownloadsChanged;
    /// <summary>State, title, conversations or unread counts changed.</summary>
    public event Action? StateChanged;

    public string StatusText => State switch
    {
        ConnectionState.Online => $"online as {Me} on {Server} · {_users.Count} online" + (CurrentRoom is { } room and not RoomNames.Lobby ? $" · #{room}" : ""),
        ConnectionState.Connecting => $"connecting to {Server}…",
        ConnectionState.LoggingIn => $"logging in to {Server}…",
        _ => (LastProblem is null ? "disconnected" : $"disconnected: {LastProblem}")
             + (NextRetry is { } retry ? $" · retry {retry.Failed + 1} in {retry.Delay.TotalSeconds:0} s" : ""),
    };

    /// <summary>The short state for the status bar.</summary>
    public string ShortState => State switch
    {
        ConnectionState.Online => $"online ({_users.Count})",
        ConnectionState.Disconnected when Me is null && LastProblem is null => "not connected",
        ConnectionState.Disconnected => NextRetry is { } retry ? $"OFFLINE, retry in {retry.Delay.TotalSeconds:0} s" : "OFFLINE",
        _ => "connecting…",
    };

    public int Unread(string? conversation) => _unread.GetValueOrDefault(conversation ?? "", 0);

    /// <summary>The buffers as tabs: the lobby, then each room and conversation, the current one in brackets, unread counts after.</summary>
    public string ConversationBar()
    {
        string Tab(string? c)
        {
            var name = c ?? RoomNames.Lobby;
            int n = Unread(c);
            var label = n > 0 ? $"{name}({n})" : name;
            return Usernames.Comparer.Equals(c ?? "", Current ?? "") ? $"[{label}]" : label;
        }
        return string.Join(" ", new string?[] { null }.Concat(_conversations).Select(Tab));
    }

    /// <summary>
    /// The lines of the current buffer. Every line belongs to one buffer: a note to the buffer the
    /// command was typed in (or the answer to it), connection notes to the lobby.
    /// </summary>
    public IEnumerable<ChatLine> VisibleLines() => _log.Where(l =>
        !(HideJoinsAndLeaves && l.Kind is LineKind.Join or LineKind.Leave) && SameBuffer(l.Conversation, Current));

    private static bool SameBuffer(string? a, string? b) => Usernames.Comparer.Equals(a ?? "", b ?? "");

    /// <summary>The buffer of <paramref name="room"/>: null for the lobby, else <c>#room</c>.</summary>
    public static string? BufferOf(string? room) => room is null or RoomNames.Lobby ? null : "#" + room;

    // ------------------------------------------------------------------ connection

    public void BeginConnect(string server, Password? password = null)
    {
        Server = server;
        Password = password;
        LastProblem = null;
        NextRetry = null;
        FieldToFix = null;
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
                if (Me is null) return [];
                if (failed.Permanent)
                {
                    // Retrying cannot help (the certificate is not the one pinned): stop, and say why.
                    AutoReconnect = false;
                    SayConnectionNote($"reconnecting stopped: {failed.Reason}. Retrying would not help; check the server, then press F5 to reconnect.");
                    return [];
                }
                return LostConnection(failed.Reason, wasOnline: false);
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
                NextRetry = null;
                _closingReason = null;
                _connectionNotesSaid.Clear();
                _pmRefusalsToSkip = 0; // refusals still due were for the lost connection
                SetUsers(welcome.Users);
                SetState(ConnectionState.Online);
                Add(new ChatLine(_clock(), LineKind.System, $"welcome, {welcome.User}! {welcome.Users.Count} online. Type /help for commands and keys."));
                return [new SendCommands(AfterWelcome())];
            case JoinedFrame { Room: { } room } joined when room != RoomNames.Lobby:
                JoinedRoom(room, joined);
                return [];
            case LeftFrame { Room: { } room } left when room != RoomNames.Lobby:
                LeftRoom(room, left);
                return [];
            case HistoryFrame history:
                AddHistory(history);
                return [];
            case RoomsFrame rooms:
                ServerRooms = rooms.Rooms;
                RoomsChanged?.Invoke();
                AddReply(LineKind.System, rooms.Rooms.Count == 0 ? "no rooms" : "rooms: " + string.Join(", ", rooms.Rooms.Select(r => $"{(r.Name == RoomNames.Lobby ? "" : "#")}{r.Name} ({r.Members})")) + " · /join ROOM");
                return [];
            case RegisteredFrame registered:
                Password = _newPassword;
                _newPassword = null;
                AddReply(LineKind.System, $"{registered.User} is registered: from now on this name needs your password to log in");
                return [];
            case PasswordChangedFrame:
                if (_newPassword is not null) Password = _newPassword;
                _newPassword = null;
                AddReply(LineKind.System, "password changed");
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
                AddReply(LineKind.System, $"online ({users.Users.Count}): {string.Join(", ", users.Users)}");
                return [];
            case MessageFrame msg:
            {
                var room = msg.Room ?? RoomNames.Lobby;
                if (msg.Id is { } id && _rooms.TryGetValue(room, out var state) && !state.Seen(id)) return []; // already shown from history
                var line = MessageLine(msg.From, msg.Text, msg.Ts, room, msg.Id);
                if (!(line.Kind is LineKind.Own or LineKind.Action && Usernames.Comparer.Equals(msg.From, Me) && ConfirmPending(line))) Add(line);
                return line.Mentioned ? [RingBell.Instance] : [];
            }
            case PrivateMessageFrame pm:
            {
                bool outgoing = Usernames.Comparer.Equals(pm.From, Me) && !Usernames.Comparer.Equals(pm.To, Me);
                var peer = outgoing ? pm.To : pm.From;
                OpenConversation(peer, switchTo: false);
                RenameConversation(peer);
                var line = new ChatLine(Time(pm.Ts), outgoing ? LineKind.PmOut : LineKind.PmIn, pm.Text, pm.From, peer,
                    outgoing && pm.Queued ? Delivery.Queued : Delivery.Delivered);
                if (!(outgoing && ConfirmPending(line))) Add(line);
                return outgoing ? [] : [RingBell.Instance];
            }
            case ErrorFrame { Code: ErrorCodes.ServerShutdown or ErrorCodes.IdleTimeout } closing:
                _closingReason = $"{closing.Message} ({closing.Code})"; // said with the loss of the connection that follows
                return [];
            case ErrorFrame { Code: ErrorCodes.NotStored } notStored
                when _log.FindIndex(l => l is { Kind: LineKind.Own or LineKind.Action, Delivery: Delivery.Pending }) is var at && at >= 0:
            {
                // The oldest line still on its way is the one the server could not store: not sent, and said so beside it.
                var line = _log[at] = _log[at] with { Delivery = Delivery.Refused };
                Add(new ChatLine(_clock(), LineKind.Error, $"{notStored.Message} ({notStored.Code})", Conversation: line.Conversation));
                return [];
            }
            case ErrorFrame { Code: ErrorCodes.NoSuchUser or ErrorCodes.MailboxFull } refused when RefusePrivateMessage(refused):
                return [];
            case ErrorFrame error:
                foreach (var r in _rooms.Values) r.HistoryPending = false; // whatever was asked is not coming
                if (error.Code is ErrorCodes.AlreadyRegistered or ErrorCodes.BadPassword or ErrorCodes.WrongPassword or ErrorCodes.NotRegistered)
                    _newPassword = null;
                // A refused download is said once, by the download; anything else as the server put it.
                if (error.Code is ErrorCodes.NoSuchFile or ErrorCodes.BadTicket
                    && _downloads.FirstOrDefault(d => d.Status == DownloadStatus.AwaitingTicket) is { } pending)
                    FailDownload(pending.Id, $"{error.Message} ({error.Code})");
                else
                    AddReply(LineKind.Error, $"{error.Message} ({error.Code})");
                return [];
            case FilesFrame files:
                Files = files.Files;
                _filesAsked = true;
                FilesChanged?.Invoke();
                if (!_filesQuietly)
                    AddReply(LineKind.System, files.Files.Count == 0
                        ? "the server offers no files"
                        : $"{files.Files.Count} file(s): " + string.Join(", ", files.Files.Select(f => $"{f.Name} ({Units.Size(f.Size)})")));
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
        bool notAServer = ChatSessionActor.IsNotAChatServer(error.Code);
        LastProblem = notAServer
            ? error.Code == ChatSessionActor.UnreadableFrameCode ? $"{Server} is not a Messenger server (it answered with something other than chat frames)"
                : ChatSessionActor.NotAChatServer(Server ?? "", error.Message)
            : error.Code == ErrorCodes.NameRegistered ? "That name is registered: enter its password."
            : error.Message;
        FieldToFix = error.Code switch
        {
            ErrorCodes.NameRegistered or ErrorCodes.WrongPassword or ErrorCodes.BadPassword => ConnectField.Password,
            ErrorCodes.UsernameTaken or ErrorCodes.BadUsername => ConnectField.Username,
            _ => null,
        };
        SetState(ConnectionState.Disconnected);
        if (Me is null || notAServer)
        {
            SayConnectionNote(notAServer ? LastProblem : $"{error.Message} ({error.Code})");
            return [CloseSession.Instance];
        }
        return [CloseSession.Instance, .. LostConnection($"{error.Message} ({error.Code})", wasOnline: false)];
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
            // Rooms stay open; they are joined again after the next welcome.
            foreach (var room in _rooms.Values)
            {
                room.Joined = false;
                room.HistoryPending = false;
            }
        }
        if (wasOnline && _closingReason is not null) reason = _closingReason;
        _closingReason = null;
        if (!AutoReconnect)
        {
            NextRetry = null;
            if (wasOnline) SayConnectionNote($"connection lost: {reason}. Press F5 to reconnect as {Me}.");
            StateChanged?.Invoke();
            return [];
        }
        int failed = _reconnectAttempt;
        var delay = TimeSpan.FromSeconds(Math.Min(MaxReconnectDelay.TotalSeconds, Math.Pow(2, _reconnectAttempt++)));
        NextRetry = (failed, delay);
        // The loss is said once; a failed retry once per reason; the rest (each retry's wait) only in the title and the status bar.
        SayConnectionNote(wasOnline
            ? $"connection lost: {reason}. Reconnecting as {Me} in {delay.TotalSeconds:0} s (F5: now or stop)."
            : $"reconnect failed: {reason}. Retrying by itself; the status bar shows when (F5: now or stop).");
        StateChanged?.Invoke();
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
            case InputCommand.Query query:
                if (Usernames.Comparer.Equals(query.With, Me))
                {
                    AddError("that is you: /query NAME opens a conversation with someone else");
                    return new Submitted(false, []);
                }
                OpenConversation(query.With);
                History.Add(text);
                return new Submitted(true, []);
            case InputCommand.Quit:
                return new Submitted(false, [], Quit: true);
            case InputCommand.Part { Room: null } when CurrentRoom is null:
                AddError("usage: /part ROOM (this is a private conversation)");
                return new Submitted(false, []);
            case InputCommand.Part { Room: null }:
                command = new InputCommand.Part(CurrentRoom);
                break;
        }
        if (command is InputCommand.Part { Room: RoomNames.Lobby })
        {
            AddError("everyone stays in the lobby: /part a room you joined");
            return new Submitted(false, []);
        }
        if (State != ConnectionState.Online)
        {
            AddError(Me is null ? "not connected" : "not connected: the text is kept; press F5 to reconnect now");
            return new Submitted(false, []);
        }
        // In a private conversation, plain text goes to the other person; in a room, to the room.
        command = command switch
        {
            InputCommand.Say say when CurrentRoom is null => new InputCommand.PrivateMessage(Current!, say.Text),
            InputCommand.Say say => say with { Room = CurrentRoom },
            InputCommand.Me me when CurrentRoom is not null => me with { Room = CurrentRoom },
            _ => command,
        };
        _replyBuffer = Current;
        switch (command)
        {
            case InputCommand.Join join:
                if (_rooms.TryGetValue(join.Room, out var joinedAlready) && joinedAlready.Joined)
                {
                    SwitchTo(BufferOf(join.Room));
                    History.Add(text);
                    return new Submitted(true, []);
                }
                _switchOnJoin = join.Room;
                AddSystem($"joining #{join.Room}…");
                break;
            case InputCommand.Register register:
                _newPassword = register.Password;
                break;
            case InputCommand.ChangePassword change:
                _newPassword = change.New;
                break;
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
                    Add(new ChatLine(_clock(), LineKind.Own, line, Me, BufferOf(s.Room), Delivery.Pending));
                break;
            case InputCommand.Me me:
                Add(new ChatLine(_clock(), LineKind.Action, me.Text, Me, BufferOf(me.Room), Delivery.Pending));
                break;
            case InputCommand.PrivateMessage pm:
                OpenConversation(pm.To, switchTo: Current is not null);
                foreach (var line in InputCommand.Lines(pm.Text))
                    Add(new ChatLine(_clock(), LineKind.PmOut, line, Me, pm.To, Delivery.Pending));
                break;
        }
        if (!command.HoldsPassword) History.Add(text);
        return new Submitted(true, command.ToClientCommands());
    }

    // ------------------------------------------------------------------ rooms and history

    /// <summary>
    /// The user scrolled up past the first line: the next older page of the room shown, unless one
    /// is on its way, the room's start is shown already, or this is a private conversation.
    /// </summary>
    public IReadOnlyList<ClientCommand> LoadOlderHistory()
    {
        if (State != ConnectionState.Online || CurrentRoom is not { } room || !_rooms.TryGetValue(room, out var state)
            || !state.Joined || state.HistoryPending || !state.More)
            return [];
        state.HistoryPending = true;
        return [new HistoryCommand(room, state.Oldest, HistoryPage)];
    }

    /// <summary>After a welcome: the lobby's recent history, and every room that was open joined again.</summary>
    private List<ClientCommand> AfterWelcome()
    {
        var lobby = Room(RoomNames.Lobby);
        lobby.Joined = true;
        lobby.HistoryPending = true;
        var commands = new List<ClientCommand> { new HistoryCommand(RoomNames.Lobby, null, HistoryPage) };
        foreach (var room in _rooms.Values.Where(r => r.Name != RoomNames.Lobby)) commands.Add(new JoinCommand(room.Name));
        RoomsChanged?.Invoke();
        return commands;
    }

    private RoomState Room(string name)
    {
        if (!_rooms.TryGetValue(name, out var state)) _rooms.Add(name, state = new RoomState(name));
        return state;
    }

    private void JoinedRoom(string room, JoinedFrame joined)
    {
        var buffer = BufferOf(room)!;
        if (Usernames.Comparer.Equals(joined.User, Me) && joined.Users is { } members)
        {
            // Our join is confirmed: the member list now, the recent history next.
            var state = Room(room);
            state.Joined = true;
            state.HistoryPending = true;
            state.Members.Clear();
            state.Members.AddRange(members.Order(StringComparer.OrdinalIgnoreCase));
            if (!_conversations.Contains(buffer)) _conversations.Add(buffer);
            var others = members.Where(m => !Usernames.Comparer.Equals(m, Me)).ToList();
            Add(new ChatLine(_clock(), LineKind.System, others.Count == 0 ? $"you are in #{room}, alone for now" : $"you are in #{room} with {string.Join(", ", others)}", Conversation: buffer));
            if (_switchOnJoin == room) SwitchTo(buffer);
            _switchOnJoin = null;
            RoomsChanged?.Invoke();
            UsersChanged?.Invoke();
            return;
        }
        if (!_rooms.TryGetValue(room, out var r)) return;
        if (!r.Members.Contains(joined.User, Usernames.Comparer))
        {
            r.Members.Add(joined.User);
            r.Members.Sort(StringComparer.OrdinalIgnoreCase);
            UsersChanged?.Invoke();
        }
        Add(new ChatLine(_clock(), LineKind.Join, $"{joined.User} joined #{room}", Conversation: buffer));
    }

    private void LeftRoom(string room, LeftFrame left)
    {
        var buffer = BufferOf(room)!;
        if (!_rooms.TryGetValue(room, out var state)) return;
        if (Usernames.Comparer.Equals(left.User, Me))
        {
            _rooms.Remove(room);
            _conversations.Remove(buffer);
            _unread.Remove(buffer);
            _log.RemoveAll(l => l.Conversation == buffer);
            if (Current == buffer) SwitchTo(null);
            AddSystem($"you left #{room}");
            RoomsChanged?.Invoke();
            UsersChanged?.Invoke();
            return;
        }
        if (state.Members.RemoveAll(u => Usernames.Comparer.Equals(u, left.User)) > 0) UsersChanged?.Invoke();
        Add(new ChatLine(_clock(), LineKind.Leave, $"{left.User} left #{room} ({DescribeReason(left.Reason)})", Conversation: buffer));
    }

    /// <summary>Puts a page of history into its buffer, each message in id order among those shown, none twice.</summary>
    private void AddHistory(HistoryFrame history)
    {
        if (!_rooms.TryGetValue(history.Room, out var state)) return;
        state.HistoryPending = false;
        var buffer = BufferOf(history.Room);
        int added = 0;
        foreach (var entry in history.Messages)
        {
            if (!state.Seen(entry.Id)) continue;
            var line = MessageLine(entry.From, entry.Text, entry.Ts, history.Room, entry.Id);
            int at = _log.FindIndex(l => l.Id > entry.Id && SameBuffer(l.Conversation, buffer));
            _log.Insert(at < 0 ? _log.Count : at, line);
            added++;
        }
        long? pageOldest = history.Messages.Count > 0 ? history.Messages[0].Id : null;
        if (state.Oldest is null || pageOldest is null || pageOldest <= state.Oldest)
        {
            state.Oldest = pageOldest ?? state.Oldest;
            state.More = history.More;
            if (!history.More && !state.StartShown && buffer is not null)
            {
                // The top of the buffer says there is nothing older.
                state.StartShown = true;
                int at = _log.FindIndex(l => SameBuffer(l.Conversation, buffer));
                _log.Insert(at < 0 ? _log.Count : at, new ChatLine(_clock(), LineKind.System, $"the start of #{history.Room}'s history", Conversation: buffer));
                added++;
            }
        }
        if (_log.Count > MaxLogLines) _log.RemoveRange(0, _log.Count - MaxLogLines);
        if (added > 0) LogChanged?.Invoke();
    }

    private ChatLine MessageLine(string from, string text, long ts, string room, long? id)
    {
        bool mine = Usernames.Comparer.Equals(from, Me);
        bool action = text.StartsWith(InputCommand.ActionPrefix, StringComparison.Ordinal);
        var shown = action ? text[InputCommand.ActionPrefix.Length..] : text;
        var kind = action ? LineKind.Action : mine ? LineKind.Own : LineKind.Other;
        return new ChatLine(Time(ts), kind, shown, from, BufferOf(room), Mentioned: !mine && Mentions(shown), Id: id);
    }

    /// <summary>What the view-model knows of a room the user is (or was, before a reconnect) in.</summary>
    private sealed class RoomState(string name)
    {
        private readonly HashSet<long> _ids = [];
        public string Name { get; } = name;
        public List<string> Members { get; } = [];
        /// <summary>In the room on this connection (false after a lost connection, until joined again).</summary>
        public bool Joined { get; set; }
        public bool HistoryPending { get; set; }
        /// <summary>The oldest message id shown.</summary>
        public long? Oldest { get; set; }
        /// <summary>Older messages than <see cref="Oldest"/> are kept on the server (or it is not known yet).</summary>
        public bool More { get; set; } = true;
        public bool StartShown { get; set; }

        /// <summary>True the first time an id is seen; a message is shown once however it arrives.</summary>
        public bool Seen(long id)
        {
            if (!_ids.Add(id)) return false;
            if (Oldest is null || id < Oldest) Oldest = id;
            return true;
        }
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

    /// <summary>The server's spelling of a name (<c>"to":"Dave"</c> for a <c>/pm dave</c>) becomes the conversation's name.</summary>
    private void RenameConversation(string user)
    {
        int at = _conversations.FindIndex(c => Usernames.Comparer.Equals(c, user));
        if (at < 0 || _conversations[at] == user) return;
        var old = _conversations[at];
        _conversations[at] = user;
        for (int i = 0; i < _log.Count; i++)
            if (_log[i].Conversation == old) _log[i] = _log[i] with { Conversation = user };
        if (Current == old) Current = user;
        if (_unread.Remove(old, out int n)) _unread[user] = n;
        LogChanged?.Invoke();
        StateChanged?.Invoke();
    }

    /// <summary>
    /// A private message the server refused (<c>no_such_user</c>, <c>mailbox_full</c>): its lines are
    /// marked not sent and the error said in its conversation; a conversation that only this
    /// message opened, with no one behind it, is closed again and the error said where the
    /// <c>/pm</c> was typed. False when no private message of ours was waiting for an answer.
    /// </summary>
    private bool RefusePrivateMessage(ErrorFrame error)
    {
        if (_pmRefusalsToSkip > 0)
        {
            _pmRefusalsToSkip--; // the other lines of a message already refused
            return true;
        }
        var pending = _log.Where(l => l is { Kind: LineKind.PmOut, Delivery: Delivery.Pending }).ToList();
        if (pending.Count == 0) return false;
        var to = pending.FirstOrDefault(l => error.Message.Contains($"\"{l.Conversation}\"", StringComparison.OrdinalIgnoreCase))?.Conversation
                 ?? pending[0].Conversation!;
        int refused = 0;
        for (int i = 0; i < _log.Count; i++)
            if (_log[i] is { Kind: LineKind.PmOut, Delivery: Delivery.Pending } l && SameBuffer(l.Conversation, to))
            {
                _log[i] = l with { Delivery = Delivery.Refused };
                refused++;
            }
        _pmRefusalsToSkip = refused - 1;
        var text = $"{error.Message} ({error.Code})";
        bool onlyThis = _log.All(l => !SameBuffer(l.Conversation, to) || l is { Kind: LineKind.PmOut, Delivery: Delivery.Refused });
        if (error.Code == ErrorCodes.NoSuchUser && onlyThis && !SameBuffer(_replyBuffer, to))
        {
            _conversations.RemoveAll(c => Usernames.Comparer.Equals(c, to));
            _unread.Remove(to);
            _log.RemoveAll(l => SameBuffer(l.Conversation, to));
            if (SameBuffer(Current, to)) SwitchTo(OpenBufferOr(_replyBuffer));
            AddReply(LineKind.Error, text);
            StateChanged?.Invoke();
            return true;
        }
        Add(new ChatLine(_clock(), LineKind.Error, text, Conversation: to));
        return true;
    }

    /// <summary>Shows the next (+1) or previous (-1) buffer: the lobby, then each room and conversation.</summary>
    public void CycleConversation(int step)
    {
        var all = new string?[] { null }.Concat(_conversations).ToList();
        int at = all.FindIndex(c => Usernames.Comparer.Equals(c ?? "", Current ?? ""));
        SwitchTo(all[((at + step) % all.Count + all.Count) % all.Count]);
    }

    public void SwitchTo(string? conversation)
    {
        Current = conversation is null ? null : _conversations.FirstOrDefault(c => Usernames.Comparer.Equals(c, conversation)) ?? conversation;
        _unread.Remove(conversation ?? "");
        LogChanged?.Invoke();
        StateChanged?.Invoke();
        UsersChanged?.Invoke(); // a room shows its own members
    }

    public void ToggleJoinsAndLeaves()
    {
        HideJoinsAndLeaves = !HideJoinsAndLeaves;
        AddSystem(HideJoinsAndLeaves ? "joins and leaves are hidden (F7 shows them)" : "joins and leaves are shown (F7 hides them)");
    }

    // ------------------------------------------------------------------ files and downloads

    /// <summary>The files view asks for the list: it fills the view without a line in the chat.</summary>
    public void RequestFilesQuietly() => _filesQuietly = true;

    /// <summary>
    /// Tab found no file name to complete after <c>/get</c> because the server's list was never
    /// fetched: the command to fetch it (quietly), once; empty otherwise.
    /// </summary>
    public IReadOnlyList<ClientCommand> FilesForCompletion(string text, int cursor)
    {
        if (_filesAsked || State != ConnectionState.Online || !TabCompleter.CompletesFileName(text, cursor)) return [];
        _filesAsked = true;
        RequestFilesQuietly();
        return [FilesCommand.Instance];
    }

    /// <summary>The user asked for a file; the item waits for its ticket.</summary>
    public DownloadItem RequestDownload(string file, TransferVia via)
    {
        var item = NewDownload(file, via);
        item.Buffer = Current;
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
        AddNote(item, LineKind.System, $"{item.File}: SHA-256 verified, saved to {result.Path} ({Units.Rate(result.Bytes / Math.Max(result.Elapsed.TotalSeconds, 1e-9))})");
    }

    public void FailDownload(int id, string error) => FailDownload(id, error, quietly: false);

    private void FailDownload(int id, string error, bool quietly)
    {
        if (Find(id) is not { } item || item.Finished) return;
        item.Status = DownloadStatus.Failed;
        item.Error = error;
        DownloadChanged?.Invoke(item);
        if (!quietly) AddNote(item, LineKind.Error, $"download of {item.File} failed: {error}");
    }

    /// <summary>Marks a download cancelled; false when it had already finished.</summary>
    public bool CancelDownload(int id)
    {
        if (Find(id) is not { } item || item.Finished) return false;
        item.Status = DownloadStatus.Cancelled;
        DownloadChanged?.Invoke(item);
        AddNote(item, LineKind.System, $"download of {item.File} cancelled");
        return true;
    }

    /// <summary>News of a download, in the buffer it was asked from.</summary>
    private void AddNote(DownloadItem item, LineKind kind, string text) =>
        Add(new ChatLine(_clock(), kind, text, Conversation: OpenBufferOr(item.Buffer)));

    /// <summary>Removes finished downloads from the view.</summary>
    public void ClearFinishedDownloads()
    {
        if (_downloads.RemoveAll(d => d.Finished) > 0) DownloadsChanged?.Invoke();
    }

    /// <summary>A note in the buffer shown (where the user just did something).</summary>
    public void AddSystem(string text) => Add(new ChatLine(_clock(), LineKind.System, text, Conversation: Current));

    /// <summary>An error in the buffer shown (where the user just did something).</summary>
    public void AddError(string text) => Add(new ChatLine(_clock(), LineKind.Error, text, Conversation: Current));

    /// <summary>The server's answer to a command: in the buffer the command was typed in, if it is still open.</summary>
    private void AddReply(LineKind kind, string text) => Add(new ChatLine(_clock(), kind, text, Conversation: OpenBufferOr(_replyBuffer)));

    /// <summary><paramref name="buffer"/> if it is still open (the lobby always is), else the buffer shown.</summary>
    private string? OpenBufferOr(string? buffer) =>
        buffer is null || _conversations.Contains(buffer, Usernames.Comparer) ? buffer : Current;

    /// <summary>A note about the connection, in the lobby, and only once until the next welcome.</summary>
    private void SayConnectionNote(string text)
    {
        if (_connectionNotesSaid.Add(text)) Add(new ChatLine(_clock(), LineKind.Error, text));
    }

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
                                    && SameBuffer(l.Conversation, echo.Conversation));
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
        // Unread counts what others wrote: never a note, a join or leave, or the user's own line.
        if (line.Kind is not (LineKind.System or LineKind.Error or LineKind.Join or LineKind.Leave or LineKind.Own or LineKind.PmOut)
            && !Usernames.Comparer.Equals(line.From ?? "", Me ?? "")
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
