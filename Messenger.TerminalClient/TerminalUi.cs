using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;
using Akka.Actor;
using Messenger.Client;
using Messenger.Protocol;
using Terminal.Gui.App;
using Terminal.Gui.Drawing;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;
using Attribute = Terminal.Gui.Drawing.Attribute;

namespace Messenger.TerminalClient;

public sealed record TerminalUiOptions(string Server, int Port, string? User, string DownloadsFolder, ClientTls? Tls = null);

/// <summary>
/// The full-screen client. It renders <see cref="ChatViewModel"/> and turns keys into calls on
/// it; the view-model decides. Networking lives in the <see cref="ChatSessionActor"/> and the
/// download tasks, whose news reaches the UI thread only through <see cref="Post"/>
/// (<c>app.Invoke</c>), which stops once the app is shutting down.
/// </summary>
public sealed class TerminalUi
{
    /// <summary>Shown on the input line for a newline of a pasted text; Enter sends each line as its own message.</summary>
    private const char PastedNewline = '↵';

    private static readonly Attribute[] UserPalette =
    [
        new(ColorName16.BrightBlue, ColorName16.Black), new(ColorName16.BrightYellow, ColorName16.Black),
        new(ColorName16.BrightCyan, ColorName16.Black), new(ColorName16.Green, ColorName16.Black),
        new(ColorName16.BrightMagenta, ColorName16.Black), new(ColorName16.Blue, ColorName16.Black),
        new(ColorName16.Yellow, ColorName16.Black), new(ColorName16.Cyan, ColorName16.Black),
    ];

    private readonly ActorSystem _system;
    private readonly TerminalUiOptions _options;
    private readonly ChatViewModel _vm;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly ChatRows _chatRows = new();
    private readonly ObservableCollection<string> _userLines = [];
    private readonly ObservableCollection<string> _roomLines = [];
    private readonly ObservableCollection<string> _fileLines = [];
    private readonly Dictionary<int, CancellationTokenSource> _transfers = [];

    private IApplication? _app;
    private QuietMainLoop? _loop;
    private bool _closed;
    private ChatSession? _session;
    private string _host;
    private int _port;
    /// <summary>The server's address the current session's connection reached: a reliable-UDP download goes there.</summary>
    private System.Net.IPAddress? _serverAddress;
    private int _reconnectGeneration;
    private int _selectedDownload;
    private List<ChatLine> _visible = [];
    /// <summary>The input line when Tab had to fetch the file list first: completed when it arrives, if unchanged.</summary>
    private string? _completeWhenFilesArrive;

    private Window _window = null!;
    private View _connectPanel = null!;
    private TextField _serverField = null!, _portField = null!, _userField = null!, _passwordField = null!;
    private Label _connectProblem = null!;
    private View _mainPanel = null!;
    private FrameView _chatFrame = null!, _filesFrame = null!, _downloadsFrame = null!, _usersFrame = null!, _roomsFrame = null!;
    private RowsView _chatView = null!, _downloadsView = null!;
    private ListView _usersList = null!, _filesList = null!, _roomsList = null!;
    private Label _prompt = null!;
    private TextField _input = null!;
    private Shortcut _stateShortcut = null!;

    public TerminalUi(ActorSystem system, TerminalUiOptions options)
    {
        _system = system;
        _options = options;
        _host = options.Server;
        _port = options.Port;
        _vm = new ChatViewModel(alreadyDownloaded: file => File.Exists(Path.Combine(options.DownloadsFolder, file)));
    }

    public int Run()
    {
        DeferredTerminalGuiConfiguration.ApplyIfDeferred();
        var (created, loop) = QuietMainLoop.CreateApplication();
        using var quiet = loop; // disposed after the app, whose input thread wakes it
        using IApplication app = created;
        app.Init();
        _app = app;
        _loop = loop;
        using var window = Build();
        app.Keyboard.KeyDown += OnKey;
        app.Paste += OnPaste;
        try
        {
            app.Run(window); // the flags only fill in the connect form: Enter connects
        }
        finally
        {
            lock (_gate) _closed = true; // nothing posts to the app from here on
            _shutdown.Cancel();
            _session?.Quit();
        }
        return 0;
    }

    /// <summary>Runs <paramref name="action"/> on the UI thread, unless the app is closing.</summary>
    private void Post(Action action)
    {
        lock (_gate)
        {
            if (_closed || _app is null) return;
            _app.Invoke(() =>
            {
                if (!_closed) action();
            });
            _loop?.Wake();
        }
    }

    // ------------------------------------------------------------------ layout

    private Window Build()
    {
        _window = new Window { Title = "Messenger", Width = Dim.Fill(), Height = Dim.Fill() };
        _window.Add(BuildConnectForm(), BuildMainScreen(), BuildStatusBar());
        Subscribe();
        UpdateState();
        return _window;
    }

    private View BuildConnectForm()
    {
        _connectPanel = new FrameView { Title = "Connect", X = Pos.Center(), Y = Pos.Center(), Width = Dim.Percent(90), Height = 12 };
        _serverField = new TextField { X = 12, Y = 0, Width = Dim.Fill(1), Text = _options.Server };
        _portField = new TextField { X = 12, Y = 1, Width = 8, Text = _options.Port.ToString(CultureInfo.InvariantCulture) };
        _userField = new TextField { X = 12, Y = 2, Width = Dim.Fill(1), Text = _options.User ?? "" };
        _passwordField = new TextField { X = 12, Y = 3, Width = Dim.Fill(1), Secret = true };
        var connect = new Button { Text = "Connect", X = 12, Y = 5, IsDefault = true };
        connect.Accepting += (_, e) => { e.Handled = true; Connect(); };
        foreach (var field in new[] { _serverField, _portField, _userField, _passwordField })
            field.Accepting += (_, e) => { e.Handled = true; Connect(); };
        // No hotkey marker: the hint spells out '_' and must show it.
        _connectProblem = new Label { X = 1, Y = 7, Width = Dim.Fill(1), Height = 3, HotKeySpecifier = (Rune)0xFFFF, Text = ConnectHint };
        _connectPanel.Add(
            new Label { Text = "Server:", X = 1, Y = 0 }, _serverField,
            new Label { Text = "Port:", X = 1, Y = 1 }, _portField,
            new Label { Text = "Username:", X = 1, Y = 2 }, _userField,
            new Label { Text = "Password:", X = 1, Y = 3 }, _passwordField,
            connect, _connectProblem);
        return _connectPanel;
    }

    private const string ConnectHint = "Enter a username and press Enter (a password only for a registered name).";

    /// <summary>The online list's width: narrower on small screens, gone below 70 columns (/who still lists them).</summary>
    private int UsersWidth() => (_app?.Screen.Width ?? 80) switch { >= 100 => 22, >= 70 => 16, _ => 0 };

    private View BuildMainScreen()
    {
        _mainPanel = new View { Width = Dim.Fill(), Height = Dim.Fill(1), Visible = false, CanFocus = true };
        var rest = Dim.Func(_ => UsersWidth());

        // The side column: the rooms joined, then who is in the room shown (everyone online in the lobby).
        _roomsFrame = new FrameView { Title = "Rooms", X = Pos.AnchorEnd(), Width = rest, Height = Dim.Func(_ => Math.Min(_vm.JoinedRooms.Count, 6) + 2) };
        _roomsList = new ListView { Width = Dim.Fill(), Height = Dim.Fill() };
        _roomsList.SetSource(_roomLines);
        _roomsList.Accepting += (_, e) =>
        {
            e.Handled = true;
            if (_roomsList.SelectedItem is { } i && i >= 0 && i < _vm.JoinedRooms.Count)
            {
                _vm.SwitchTo(ChatViewModel.BufferOf(_vm.JoinedRooms[i]));
                ShowChat();
            }
        };
        _roomsFrame.Add(_roomsList);
        _usersFrame = new FrameView { Title = "Online", X = Pos.AnchorEnd(), Y = Pos.Bottom(_roomsFrame), Width = rest, Height = Dim.Fill(1) };
        _usersList = new ListView { Width = Dim.Fill(), Height = Dim.Fill() };
        _usersList.SetSource(_userLines);
        _usersList.Accepting += (_, e) =>
        {
            e.Handled = true;
            if (_usersList.SelectedItem is { } i && i >= 0 && i < _vm.UsersShown.Count) OpenConversation(_vm.UsersShown[i]);
        };
        _usersFrame.Add(_usersList);
        _usersFrame.FrameChanged += (_, _) => RefreshUsers();

        _chatFrame = new FrameView { Title = "Chat", Width = Dim.Fill(rest), Height = Dim.Fill(1) };
        _chatView = new RowsView
        {
            Width = Dim.Fill(), Height = Dim.Fill(),
            ItemCount = () => _visible.Count,
            ItemRows = (i, width) => _chatRows.Rows(_visible[i], width, LineColor, UserColor),
        };
        _chatFrame.Add(_chatView);

        _filesFrame = new FrameView { Title = "Files: Enter asks TCP or UDP · Ctrl+T TCP · Ctrl+U UDP · F5 refresh · Esc chat", Width = Dim.Fill(rest), Height = Dim.Fill(1), Visible = false };
        _filesList = new ListView { Width = Dim.Fill(), Height = Dim.Fill() };
        _filesList.SetSource(_fileLines);
        _filesList.Accepting += (_, e) => { e.Handled = true; AskDownloadSelected(); };
        _filesFrame.Add(_filesList);
        _filesFrame.FrameChanged += (_, _) => RefreshFiles();

        _downloadsFrame = new FrameView { Title = $"Downloads to {_options.DownloadsFolder}: Up/Down select · Del cancel · F8 clear finished · Esc chat", Width = Dim.Fill(rest), Height = Dim.Fill(1), Visible = false };
        _downloadsView = new RowsView
        {
            Width = Dim.Fill(), Height = Dim.Fill(),
            ItemCount = () => _vm.Downloads.Count,
            ItemRows = DownloadRows,
        };
        _downloadsFrame.Add(_downloadsView);

        _prompt = new Label { Text = ">", X = 0, Y = Pos.AnchorEnd(1) };
        _input = new TextField { X = Pos.Right(_prompt) + 1, Y = Pos.AnchorEnd(1), Width = Dim.Fill() };
        _input.Accepting += (_, e) => { e.Handled = true; Submit(); };
        _input.TextChanged += (_, _) => UpdatePrompt();
        _mainPanel.Add(_chatFrame, _filesFrame, _downloadsFrame, _roomsFrame, _usersFrame, _prompt, _input);
        return _mainPanel;
    }

    private StatusBar BuildStatusBar()
    {
        // The connection state first, so it stays visible however narrow the terminal; F4 (back
        // to the chat, as Esc) is left off the bar so the rest fits in 80 columns.
        _stateShortcut = new Shortcut(Key.F5, "offline", ReconnectKey, "reconnect");
        return new StatusBar([
            _stateShortcut,
            new Shortcut(Key.F1, "help", ShowHelp),
            new Shortcut(Key.F2, "files", ShowFiles),
            new Shortcut(Key.F3, "downloads", ShowDownloads),
            new Shortcut(Key.Q.WithCtrl, "quit", Quit),
        ]);
    }

    private void Subscribe()
    {
        _vm.LogChanged += RefreshLog;
        _vm.UsersChanged += RefreshUsers;
        _vm.RoomsChanged += RefreshRooms;
        _vm.FilesChanged += RefreshFiles;
        _vm.FilesChanged += () =>
        {
            if (_completeWhenFilesArrive is not { } waiting) return;
            _completeWhenFilesArrive = null;
            if (_input.HasFocus && _input.Text == waiting) Complete();
        };
        _vm.DownloadChanged += _ => _downloadsView.SetNeedsDraw();
        _vm.DownloadsChanged += () =>
        {
            _selectedDownload = Math.Clamp(_selectedDownload, 0, Math.Max(0, _vm.Downloads.Count - 1));
            _downloadsView.SetNeedsDraw();
        };
        _vm.StateChanged += UpdateState;
    }

    private void RefreshLog()
    {
        int before = _visible.Count;
        var last = before > 0 ? _visible[^1] : null;
        _visible = _vm.VisibleLines().ToList();
        // Lines added at the bottom (not a switch of buffer): keep a scrolled-up view still.
        int added = last is not null && _visible.Count > before && ReferenceEquals(_visible[before - 1], last) ? _visible.Count - before : 0;
        int width = Math.Max(1, _chatView.Viewport.Width);
        int rows = _visible.Skip(_visible.Count - added).Sum(l => _chatRows.Rows(l, width, LineColor, UserColor).Count);
        _chatView.ItemsAdded(rows, added);
    }

    private void RefreshRooms()
    {
        int width = Math.Max(4, _roomsList.Viewport.Width);
        _roomLines.Clear();
        foreach (var room in _vm.JoinedRooms)
        {
            var buffer = ChatViewModel.BufferOf(room);
            int unread = _vm.Unread(buffer);
            var label = (buffer ?? room) + (unread > 0 ? $" ({unread})" : "");
            _roomLines.Add(TextLayout.Ellipsize((buffer == _vm.Current ? "▶" : " ") + label, width));
        }
        _roomsFrame.SetNeedsLayout();
    }

    private void RefreshUsers()
    {
        int width = Math.Max(4, _usersList.Viewport.Width);
        var shown = _vm.UsersShown;
        _userLines.Clear();
        foreach (var u in shown)
            _userLines.Add(TextLayout.Ellipsize(Usernames.Comparer.Equals(u, _vm.Me) ? u + " (you)" : u, width));
        _usersFrame.Title = _vm.CurrentRoom is { } room and not RoomNames.Lobby ? $"#{room} ({shown.Count})" : $"Online ({shown.Count})";
        if (_usersList.SelectedItem is null || _usersList.SelectedItem >= _userLines.Count) _usersList.SelectedItem = _userLines.Count > 0 ? 0 : null;
    }

    private void RefreshFiles()
    {
        int width = Math.Max(20, _filesList.Viewport.Width);
        int nameWidth = Math.Max(8, width - 12);
        _fileLines.Clear();
        foreach (var f in _vm.Files) _fileLines.Add($"{TextLayout.Ellipsize(f.Name, nameWidth).PadRight(nameWidth)} {Units.Size(f.Size),10}");
        if (_fileLines.Count > 0 && _filesList.SelectedItem is null) _filesList.SelectedItem = 0;
    }

    private void UpdatePrompt()
    {
        var text = _input.Text ?? "";
        int length = text.EnumerateRunes().Count();
        // Long text shows its length beside the limit, so an over-long paste is seen before Enter.
        _prompt.Text = length > 200 ? string.Create(CultureInfo.InvariantCulture, $"{length:N0}/{ProtocolLimits.MaxTextCodePoints:N0}>") : ">";
        _vm.Completer.Reset();
    }

    private static Attribute LineColor(ChatLine line) => line switch
    {
        { Delivery: Delivery.Failed or Delivery.Refused } => new Attribute(ColorName16.BrightRed, ColorName16.Black),
        { Delivery: Delivery.Pending } => new Attribute(ColorName16.DarkGray, ColorName16.Black),
        { Mentioned: true } => new Attribute(ColorName16.Black, ColorName16.BrightYellow),
        _ => line.Kind switch
        {
            LineKind.Own => new Attribute(ColorName16.BrightGreen, ColorName16.Black),
            LineKind.Other => new Attribute(ColorName16.White, ColorName16.Black),
            LineKind.Action => new Attribute(ColorName16.BrightYellow, ColorName16.Black),
            LineKind.PmIn => new Attribute(ColorName16.BrightMagenta, ColorName16.Black),
            LineKind.PmOut => new Attribute(ColorName16.Magenta, ColorName16.Black),
            LineKind.Join => new Attribute(ColorName16.BrightCyan, ColorName16.Black),
            LineKind.Leave => new Attribute(ColorName16.Cyan, ColorName16.Black),
            LineKind.Error => new Attribute(ColorName16.BrightRed, ColorName16.Black),
            _ => new Attribute(ColorName16.Yellow, ColorName16.Black),
        },
    };

    private static Attribute UserColor(string user) => UserPalette[UserColors.Index(user, UserPalette.Length)];

    private IReadOnlyList<ScreenRow> DownloadRows(int i, int width)
    {
        var item = _vm.Downloads[i];
        bool selected = i == _selectedDownload && _downloadsView.HasFocus;
        var color = item.Status switch
        {
            DownloadStatus.Verified => new Attribute(ColorName16.BrightGreen, ColorName16.Black),
            DownloadStatus.Failed => new Attribute(ColorName16.BrightRed, ColorName16.Black),
            DownloadStatus.Cancelled => new Attribute(ColorName16.DarkGray, ColorName16.Black),
            _ => new Attribute(ColorName16.White, ColorName16.Black),
        };
        int barWidth = Math.Clamp(width / 3, 10, 40);
        int filled = (int)Math.Round(item.Fraction * barWidth);
        var bar = "[" + new string('#', filled) + new string('.', barWidth - filled) + "] ";
        var rows = new List<ScreenRow>();
        foreach (var r in TextLayout.Wrap(selected ? "▶ " : "  ", item.Describe(), width)) rows.Add(new ScreenRow(r, color));
        foreach (var r in TextLayout.Wrap("  " + bar, item.Detail(), width)) rows.Add(new ScreenRow(r, color));
        return rows;
    }

    private void UpdateState()
    {
        bool online = _vm.State == ConnectionState.Online;
        _window.Title = $"Messenger · {_vm.StatusText}";
        _stateShortcut.Title = _vm.ShortState;
        _stateShortcut.HelpText = _vm.State != ConnectionState.Disconnected ? "" : _vm.Me is null ? "connect" : "reconnect";
        _chatFrame.Title = _vm.Conversations.Count == 0 ? "Chat" : $"Chat: {_vm.ConversationBar()} (Ctrl+N/P)";
        RefreshRooms();
        // The main screen stays up after a connection loss (the log is worth keeping); the
        // connect form is for the first login and for retrying a refused name.
        _mainPanel.Visible = online || _vm.Me is not null;
        _connectPanel.Visible = !_mainPanel.Visible;
        if (_connectPanel.Visible)
        {
            _connectProblem.Text = _vm.State switch
            {
                ConnectionState.Connecting or ConnectionState.LoggingIn => _vm.StatusText,
                _ => _vm.LastProblem is { } p ? $"{p}\nFix it and press Enter to try again." : ConnectHint,
            };
            if (!_userField.HasFocus && !_serverField.HasFocus && !_portField.HasFocus && !_passwordField.HasFocus) _userField.SetFocus();
        }
        else if (online && !_input.HasFocus && _chatFrame.Visible && !_chatView.HasFocus && !_usersList.HasFocus)
        {
            _input.SetFocus();
        }
    }

    // ------------------------------------------------------------------ connection

    private void Connect()
    {
        if (_vm.State is ConnectionState.Connecting or ConnectionState.LoggingIn) return;
        var server = (_serverField.Text ?? "").Trim();
        var user = (_userField.Text ?? "").Trim();
        if (!int.TryParse(_portField.Text, out int port) || port is < 1 or > 65535)
        {
            _connectProblem.Text = "The port must be a number from 1 to 65535.";
            return;
        }
        if (server.Length == 0)
        {
            _connectProblem.Text = "Enter the server's host name or address.";
            return;
        }
        if (!Usernames.IsValid(user))
        {
            _connectProblem.Text = "A username is 1-32 letters, digits, '_', '-' or '.'.";
            _userField.SetFocus();
            return;
        }
        var password = _passwordField.Text ?? "";
        if (password.Length != 0 && password.Length is < ProtocolLimits.MinPasswordLength or > ProtocolLimits.MaxPasswordLength)
        {
            _connectProblem.Text = $"A password is {ProtocolLimits.MinPasswordLength}-{ProtocolLimits.MaxPasswordLength} characters (leave it empty for a guest name).";
            _passwordField.SetFocus();
            return;
        }
        StartSession(server, port, user, password.Length == 0 ? null : new Password(password));
    }

    private void StartSession(string server, int port, string user, Password? password)
    {
        _session?.Quit();
        _reconnectGeneration++;
        _host = server;
        _port = port;
        _vm.BeginConnect($"{server}:{port}", password);
        var session = ChatSession.Start(_system, server, port, user, _options.Tls, password);
        _session = session;
        _ = Task.Run(async () =>
        {
            try
            {
                await foreach (var ev in session.Events.ReadAllAsync(_shutdown.Token))
                    Post(() => OnSessionEvent(session, ev));
            }
            catch (OperationCanceledException)
            {
            }
        });
    }

    private void OnSessionEvent(ChatSession session, SessionEvent ev)
    {
        if (!ReferenceEquals(session, _session)) return; // a session we already left
        if (ev is SessionDisconnected or SessionConnectFailed) _session = null;
        if (ev is SessionConnected connected) _serverAddress = connected.Remote.Address;
        foreach (var reaction in _vm.Apply(ev))
        {
            switch (reaction)
            {
                case StartDownload start:
                    StartTransfer(start.Item, start.Ticket);
                    break;
                case CloseSession:
                    _session = null;
                    session.Quit();
                    break;
                case ReconnectLater later:
                    ScheduleReconnect(later.Delay);
                    break;
                case RingBell:
                    Ring();
                    break;
                case SendCommands send:
                    foreach (var command in send.Commands) session.Send(command);
                    break;
            }
        }
        if (_connectPanel.Visible && ev is SessionFrameReceived { Frame: ErrorFrame }) FocusFieldToFix();
    }

    /// <summary>After a refusal on the connect form: the field to fix gets the focus (a password is then never typed into Username).</summary>
    private void FocusFieldToFix()
    {
        switch (_vm.FieldToFix)
        {
            case ConnectField.Password:
                _passwordField.Text = "";
                _passwordField.SetFocus();
                break;
            case ConnectField.Username:
                _userField.SetFocus();
                break;
        }
    }

    private void ScheduleReconnect(TimeSpan delay)
    {
        int generation = ++_reconnectGeneration;
        _app?.AddTimeout(delay, () =>
        {
            if (generation == _reconnectGeneration && _vm.AutoReconnect && _vm.State == ConnectionState.Disconnected) Reconnect();
            return false;
        });
    }

    /// <summary>F5: connect from the form; when the connection is lost, reconnect now or stop retrying.</summary>
    private void ReconnectKey()
    {
        if (_vm.State != ConnectionState.Disconnected || _app is null) return;
        if (_vm.Me is null)
        {
            Connect();
            return;
        }
        int? choice = MessageBox.Query(_app, "Not connected", $"{_vm.LastProblem}\n\nReconnect to {_vm.Server} as {_vm.Me}?",
            "Cancel", _vm.AutoReconnect ? "Stop retrying" : "Retry by itself", "Reconnect now");
        if (choice == 2)
        {
            _vm.AutoReconnect = true;
            Reconnect();
        }
        else if (choice == 1)
        {
            _vm.AutoReconnect = !_vm.AutoReconnect;
            _vm.AddSystem(_vm.AutoReconnect ? "reconnecting by itself again" : "no longer reconnecting by itself: F5 reconnects");
            if (_vm.AutoReconnect) ScheduleReconnect(TimeSpan.Zero);
            else _reconnectGeneration++;
        }
    }

    private void Reconnect()
    {
        if (_vm.State != ConnectionState.Disconnected || _vm.Me is null) return;
        StartSession(_host, _port, _vm.Me, _vm.Password);
    }

    private static void Ring()
    {
        Console.Out.Write('\a');
        Console.Out.Flush();
    }

    // ------------------------------------------------------------------ input and panels

    private void Submit()
    {
        var outcome = _vm.Submit((_input.Text ?? "").Replace(PastedNewline, '\n'));
        if (outcome.Quit)
        {
            Quit();
            return;
        }
        foreach (var command in outcome.Send) _session?.Send(command);
        if (outcome.ClearInput) _input.Text = "";
        _chatView.ScrollToEnd();
    }

    /// <summary>Scrolling up while the first line is already on screen: ask for the page before it.</summary>
    private void LoadOlderIfAtTop()
    {
        if (!_chatView.AtTop) return;
        foreach (var command in _vm.LoadOlderHistory()) _session?.Send(command);
    }

    private void OpenConversation(string user)
    {
        _vm.OpenConversation(user);
        ShowChat();
    }

    private void ShowPanel(FrameView panel)
    {
        if (!_mainPanel.Visible) return;
        foreach (var p in new[] { _chatFrame, _filesFrame, _downloadsFrame }) p.Visible = ReferenceEquals(p, panel);
    }

    private void ShowChat()
    {
        if (!_mainPanel.Visible) return;
        ShowPanel(_chatFrame);
        _input.SetFocus();
    }

    private void ShowFiles()
    {
        if (!_mainPanel.Visible)
        {
            _connectProblem.Text = "Log in first: the files view lists the server's files.";
            return;
        }
        ShowPanel(_filesFrame);
        _filesList.SetFocus();
        RequestFiles();
    }

    private void RequestFiles()
    {
        if (_session is null || _vm.State != ConnectionState.Online) return;
        _vm.RequestFilesQuietly();
        _session.Send(FilesCommand.Instance);
    }

    private void ShowDownloads()
    {
        if (!_mainPanel.Visible)
        {
            _connectProblem.Text = "Log in first: the downloads view shows your transfers.";
            return;
        }
        ShowPanel(_downloadsFrame);
        _downloadsView.SetFocus();
    }

    private void ShowHelp()
    {
        if (!_mainPanel.Visible)
        {
            if (_app is not null) MessageBox.Query(_app, "Help", $"Fill in the server, port and a username, then press Enter.\n\n{HelpText.Commands}\n\n{HelpText.Keys}", "OK");
            return;
        }
        ShowChat();
        _vm.ShowHelp();
    }

    private void Quit()
    {
        if (_app is null) return;
        int running = _vm.Downloads.Count(d => !d.Finished);
        if (running > 0 && MessageBox.Query(_app, "Quit", $"{running} download(s) still running. Quit anyway? (An unfinished TCP download resumes next time.)", "Keep downloading", "Quit") != 1)
            return;
        _app.RequestStop();
    }

    private void OnPaste(object? sender, PasteEventArgs e)
    {
        if (!_mainPanel.Visible || _app?.TopRunnableView != _window) return;
        e.Handled = true;
        _input.SetFocus();
        var text = e.Text.Replace("\r\n", "\n").Replace('\r', '\n').TrimEnd('\n').Replace('\n', PastedNewline);
        _input.InsertText(text);
    }

    /// <summary>Every key, before the focused view sees it: the client's own keys, then typing routed to the input line.</summary>
    private void OnKey(object? sender, Key key)
    {
        if (_app?.TopRunnableView != _window) return; // a dialog is up: let it have its keys
        if (key == Key.Esc)
        {
            key.Handled = true; // Esc goes back to the chat; it does not quit (Ctrl+Q does)
            ShowChat();
            return;
        }
        if (key == Key.F4)
        {
            key.Handled = true;
            if (_mainPanel.Visible) ShowChat();
            else _connectProblem.Text = "Log in first: the chat opens once you are online.";
            return;
        }
        if (!_mainPanel.Visible) return;
        if (key == Key.Tab || key == Key.Tab.WithShift)
        {
            key.Handled = true;
            // On a line with text, Tab completes or does nothing: it never takes the focus off the line being typed.
            if (key == Key.Tab && _input.HasFocus && (_input.Text ?? "").Length > 0)
            {
                Complete();
                return;
            }
            MoveFocus(key == Key.Tab ? 1 : -1);
            return;
        }
        if (key == Key.PageUp || key == Key.PageDown)
        {
            key.Handled = true;
            var view = _downloadsFrame.Visible ? _downloadsView : _chatView;
            int page = Math.Max(1, view.Viewport.Height - 1);
            if (key == Key.PageUp && view == _chatView) LoadOlderIfAtTop();
            view.ScrollBy(key == Key.PageUp ? page : -page);
            return;
        }
        if (key == Key.End && (_input.HasFocus || _chatView.HasFocus || _downloadsView.HasFocus))
        {
            // End: back to the newest line (as the "more rows below" bar says), and the cursor to the end of the input line.
            key.Handled = true;
            (_downloadsFrame.Visible ? _downloadsView : _chatView).ScrollToEnd();
            if (_input.HasFocus) _input.MoveEnd();
            return;
        }
        if (key == Key.N.WithCtrl || key == Key.P.WithCtrl)
        {
            key.Handled = true;
            ShowPanel(_chatFrame);
            _vm.CycleConversation(key == Key.N.WithCtrl ? 1 : -1);
            return;
        }
        if (key == Key.F7)
        {
            key.Handled = true;
            _vm.ToggleJoinsAndLeaves();
            return;
        }
        if (_filesList.HasFocus && HandleFilesKey(key)) { key.Handled = true; return; }
        if (_downloadsView.HasFocus && HandleDownloadsKey(key)) { key.Handled = true; return; }
        if (_chatView.HasFocus && (key == Key.CursorUp || key == Key.CursorDown))
        {
            key.Handled = true;
            if (key == Key.CursorUp) LoadOlderIfAtTop();
            _chatView.ScrollBy(key == Key.CursorUp ? 1 : -1);
            return;
        }
        if (_input.HasFocus)
        {
            if (HandleInputKey(key)) key.Handled = true;
            return;
        }
        // Letters typed anywhere belong to the input line.
        if (!key.IsCtrl && !key.IsAlt && key.AsRune is { Value: >= 0x20 } rune && rune.Value != 0x7F)
        {
            key.Handled = true;
            _input.SetFocus();
            _input.MoveEnd();
            _input.InsertText(rune.ToString());
        }
    }

    private bool HandleInputKey(Key key)
    {
        if (key == Key.CursorUp || key == Key.CursorDown)
        {
            var line = key == Key.CursorUp ? _vm.History.Older(_input.Text ?? "") : _vm.History.Newer();
            if (line is not null)
            {
                _input.Text = line;
                _input.MoveEnd();
            }
            return true;
        }
        LineEdit? edit = key == Key.A.WithCtrl ? LineEdit.Home
            : key == Key.E.WithCtrl ? LineEdit.End
            : key == Key.U.WithCtrl ? LineEdit.KillToStart
            : key == Key.K.WithCtrl ? LineEdit.KillToEnd
            : key == Key.W.WithCtrl ? LineEdit.KillWordBack
            : null;
        if (edit is null) return false;
        var edited = EditedLine.Apply(_input.Text ?? "", _input.InsertionPoint, edit.Value);
        _input.Text = edited.Text;
        _input.InsertionPoint = edited.Cursor;
        return true;
    }

    /// <summary>Tab on the input line: completes a name, a /command or a file name.</summary>
    private void Complete()
    {
        var text = _input.Text ?? "";
        if (text.Length == 0) return;
        var done = _vm.Completer.Complete(text, _input.InsertionPoint, _vm.Users.Where(u => !Usernames.Comparer.Equals(u, _vm.Me)), _vm.Files.Select(f => f.Name));
        if (done is not { } line)
        {
            // A file name before the list was ever fetched: fetch it, and complete when it arrives if the line is unchanged.
            var fetch = _vm.FilesForCompletion(text, _input.InsertionPoint);
            if (fetch.Count > 0 && _session is not null)
            {
                foreach (var command in fetch) _session.Send(command);
                _completeWhenFilesArrive = text;
            }
            return;
        }
        _input.Text = line.Text;
        _input.InsertionPoint = line.Cursor;
    }

    /// <summary>Tab order of the panel shown: its list or log, the input line, the online list.</summary>
    private void MoveFocus(int step)
    {
        View main = _filesFrame.Visible ? _filesList : _downloadsFrame.Visible ? _downloadsView : _chatView;
        var order = new List<View> { _input, main };
        if (_usersFrame.Frame.Width > 0) order.AddRange([_usersList, _roomsList]);
        int at = order.FindIndex(v => v.HasFocus);
        order[((at + step) % order.Count + order.Count) % order.Count].SetFocus();
    }

    private bool HandleFilesKey(Key key)
    {
        if (key == Key.T.WithCtrl || key == Key.U.WithCtrl)
        {
            DownloadSelected(key == Key.T.WithCtrl ? TransferVia.Tcp : TransferVia.Udp);
            return true;
        }
        if (key == Key.F5)
        {
            RequestFiles();
            return true;
        }
        return false;
    }

    private bool HandleDownloadsKey(Key key)
    {
        if (key == Key.CursorUp || key == Key.CursorDown)
        {
            _selectedDownload = Math.Clamp(_selectedDownload + (key == Key.CursorUp ? -1 : 1), 0, Math.Max(0, _vm.Downloads.Count - 1));
            _downloadsView.SetNeedsDraw();
            return true;
        }
        if (key == Key.Delete || key == Key.DeleteChar)
        {
            if (_selectedDownload < _vm.Downloads.Count) CancelTransfer(_vm.Downloads[_selectedDownload]);
            return true;
        }
        if (key == Key.F8)
        {
            _vm.ClearFinishedDownloads();
            return true;
        }
        return false;
    }

    // ------------------------------------------------------------------ downloads

    private void AskDownloadSelected()
    {
        if (SelectedFile() is not { } file || _app is null) return;
        int? choice = MessageBox.Query(_app, "Download", $"Download {file.Name} ({Units.Size(file.Size)}) over TCP or over reliable UDP?", "Cancel", "UDP", "TCP");
        if (choice == 2) DownloadSelected(TransferVia.Tcp);
        else if (choice == 1) DownloadSelected(TransferVia.Udp);
    }

    private FileEntry? SelectedFile() =>
        _filesList.SelectedItem is { } i && i >= 0 && i < _vm.Files.Count ? _vm.Files[i] : null;

    private void DownloadSelected(TransferVia via)
    {
        if (SelectedFile() is not { } file || _app is null) return;
        if (_vm.State != ConnectionState.Online || _session is null)
        {
            _vm.AddError("not connected: press F5 to reconnect");
            return;
        }
        if (File.Exists(Path.Combine(_options.DownloadsFolder, file.Name))
            && MessageBox.Query(_app, "Replace?", $"{file.Name} is already in {_options.DownloadsFolder}. Replace it?", "Replace", "Keep it") != 0) // the last button, Enter's default, keeps it
            return;
        _vm.RequestDownload(file.Name, via);
        _session.Send(new GetCommand(file.Name, via));
        ShowDownloads();
    }

    private void StartTransfer(DownloadItem item, TicketFrame ticket)
    {
        var progress = new UiProgress(this, item.Id);
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
        _transfers[item.Id] = cancel;
        var (host, server, folder, system, tls) = (_host, _serverAddress!, _options.DownloadsFolder, _system, _options.Tls);
        _ = Task.Run(async () =>
        {
            try
            {
                var result = await Download.RunAsync(system, host, server, ticket, folder, progress, cancel.Token, tls);
                Post(() => _vm.CompleteDownload(item.Id, result));
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Post(() => _vm.FailDownload(item.Id, e.Message));
            }
            finally
            {
                Post(() =>
                {
                    if (_transfers.Remove(item.Id, out var done)) done.Dispose();
                });
            }
        });
    }

    private void CancelTransfer(DownloadItem item)
    {
        if (!_vm.CancelDownload(item.Id)) return;
        if (!_transfers.Remove(item.Id, out var cancel)) return;
        cancel.Cancel();
        cancel.Dispose();
    }

    /// <summary>Download progress to the UI thread, at most ten times a second per download.</summary>
    private sealed class UiProgress(TerminalUi ui, int id) : IProgress<DownloadProgress>
    {
        private long _lastTicks;

        public void Report(DownloadProgress value)
        {
            long now = Environment.TickCount64;
            if (value.BytesDone < value.TotalBytes && now - Interlocked.Read(ref _lastTicks) < 100) return;
            Interlocked.Exchange(ref _lastTicks, now);
            ui.Post(() => ui._vm.ReportProgress(id, value));
        }
    }
}
