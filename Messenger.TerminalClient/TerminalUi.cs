using System.Collections.ObjectModel;
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
/// The full-screen client. It only renders <see cref="ChatViewModel"/>; networking lives in the
/// <see cref="ChatSessionActor"/> and the download tasks, whose news reaches the UI thread only
/// through <see cref="Post"/> (<c>app.Invoke</c>), which stops once the app is shutting down.
/// </summary>
public sealed class TerminalUi(ActorSystem system, TerminalUiOptions options)
{
    private const int UsersWidth = 20;

    private readonly ChatViewModel _vm = new();
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly ObservableCollection<string> _logLines = [];
    private readonly List<LineKind> _logKinds = [];
    private readonly ObservableCollection<string> _userLines = [];
    private readonly ObservableCollection<string> _fileLines = [];

    private IApplication? _app;
    private bool _closed;
    private ChatSession? _session;
    private string _host = options.Server;

    private Window _window = null!;
    private View _connectPanel = null!;
    private TextField _serverField = null!, _portField = null!, _userField = null!;
    private Label _connectProblem = null!;
    private View _mainPanel = null!;
    private FrameView _chatFrame = null!, _filesFrame = null!, _downloadsFrame = null!, _usersFrame = null!;
    private ListView _chatList = null!, _usersList = null!, _filesList = null!;
    private TextField _input = null!;
    private Shortcut _stateShortcut = null!;
    private readonly Dictionary<int, (Label Text, Label Detail, ProgressBar Bar)> _downloadRows = [];

    public int Run()
    {
        using IApplication app = Application.Create();
        app.Init();
        _app = app;
        using var window = Build();
        app.Keyboard.KeyDown += OnGlobalKey;
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
        }
    }

    // ------------------------------------------------------------------ layout

    private Window Build()
    {
        var window = new Window { Title = "Messenger", Width = Dim.Fill(), Height = Dim.Fill() };
        _window = window;

        // The connect form.
        _connectPanel = new FrameView { Title = "Connect", X = Pos.Center(), Y = Pos.Center(), Width = 60, Height = 11 };
        _serverField = new TextField { X = 12, Y = 0, Width = Dim.Fill(1), Text = options.Server };
        _portField = new TextField { X = 12, Y = 1, Width = 8, Text = options.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        _userField = new TextField { X = 12, Y = 2, Width = Dim.Fill(1), Text = options.User ?? "" };
        var connect = new Button { Text = "Connect", X = 12, Y = 4, IsDefault = true };
        connect.Accepting += (_, e) => { e.Handled = true; Connect(); };
        foreach (var field in new[] { _serverField, _portField, _userField })
            field.Accepting += (_, e) => { e.Handled = true; Connect(); };
        _connectProblem = new Label { X = 1, Y = 6, Width = Dim.Fill(1), Height = 2, Text = "Enter a username and press Enter." };
        _connectPanel.Add(
            new Label { Text = "Server:", X = 1, Y = 0 }, _serverField,
            new Label { Text = "Port:", X = 1, Y = 1 }, _portField,
            new Label { Text = "Username:", X = 1, Y = 2 }, _userField,
            connect, _connectProblem);

        // The main screen.
        _mainPanel = new View { Width = Dim.Fill(), Height = Dim.Fill(1), Visible = false, CanFocus = true };
        _usersFrame = new FrameView { Title = "Online", X = Pos.AnchorEnd(UsersWidth), Width = UsersWidth, Height = Dim.Fill(1) };
        _usersList = new ListView { Width = Dim.Fill(), Height = Dim.Fill() };
        _usersList.SetSource(_userLines);
        _usersList.Accepting += (_, e) =>
        {
            e.Handled = true;
            if (_usersList.SelectedItem is { } i && i >= 0 && i < _userLines.Count) StartPm(_vm.Users[i]);
        };
        _usersFrame.Add(_usersList);

        _chatFrame = new FrameView { Title = "Chat", Width = Dim.Fill(UsersWidth), Height = Dim.Fill(1) };
        _chatList = new ListView { Width = Dim.Fill(), Height = Dim.Fill() };
        _chatList.SetSource(_logLines);
        _chatList.RowRender += (_, e) =>
        {
            if (e.Row >= 0 && e.Row < _logKinds.Count && e.Row != _chatList.SelectedItem) e.RowAttribute = KindAttribute(_logKinds[e.Row]);
        };
        _chatFrame.Add(_chatList);

        _filesFrame = new FrameView { Title = "Files: Enter or T = TCP, U = UDP, F5 = refresh, Esc = chat", Width = Dim.Fill(UsersWidth), Height = Dim.Fill(1), Visible = false };
        _filesList = new ListView { Width = Dim.Fill(), Height = Dim.Fill() };
        _filesList.SetSource(_fileLines);
        _filesList.Accepting += (_, e) => { e.Handled = true; AskDownloadSelected(); };
        _filesFrame.Add(_filesList);

        _downloadsFrame = new FrameView { Title = $"Downloads (to {options.DownloadsFolder}), Esc = chat", Width = Dim.Fill(UsersWidth), Height = Dim.Fill(1), Visible = false, CanFocus = true };

        _input = new TextField { X = 2, Y = Pos.AnchorEnd(1), Width = Dim.Fill() };
        _input.Accepting += (_, e) => { e.Handled = true; Submit(); };
        _mainPanel.Add(_chatFrame, _filesFrame, _downloadsFrame, _usersFrame, new Label { Text = ">", X = 0, Y = Pos.AnchorEnd(1) }, _input);

        _stateShortcut = new Shortcut(Key.F5, "reconnect", Reconnect, "disconnected");
        var status = new StatusBar([
            new Shortcut(Key.F1, "help", ShowHelp),
            new Shortcut(Key.F2, "files", ShowFiles),
            new Shortcut(Key.F3, "downloads", ShowDownloads),
            new Shortcut(Key.F4, "chat", ShowChat),
            new Shortcut(Key.Q.WithCtrl, "quit", Quit),
            _stateShortcut,
        ]);

        window.Add(_connectPanel, _mainPanel, status);

        _vm.LineAdded += line =>
        {
            _logLines.Add(line.Render());
            _logKinds.Add(line.Kind);
            if (!_chatList.HasFocus || _chatList.SelectedItem is null || _chatList.SelectedItem >= _logLines.Count - 2)
            {
                _chatList.SelectedItem = _logLines.Count - 1;
                _chatList.EnsureSelectedItemVisible();
            }
        };
        _vm.LinesTrimmed += n =>
        {
            for (int i = 0; i < n; i++) { _logLines.RemoveAt(0); _logKinds.RemoveAt(0); }
        };
        _vm.UsersChanged += () =>
        {
            _userLines.Clear();
            foreach (var u in _vm.Users) _userLines.Add(Usernames.Comparer.Equals(u, _vm.Me) ? u + " (you)" : u);
            _usersFrame.Title = $"Online ({_vm.Users.Count})";
        };
        _vm.FilesChanged += () =>
        {
            _fileLines.Clear();
            foreach (var f in _vm.Files) _fileLines.Add($"{f.Name,-40} {DownloadItem.Size(f.Size),10}");
            if (_fileLines.Count > 0 && _filesList.SelectedItem is null) _filesList.SelectedItem = 0;
        };
        _vm.DownloadChanged += UpdateDownloadRow;
        _vm.StateChanged += UpdateState;
        UpdateState();
        return window;
    }

    private static Attribute KindAttribute(LineKind kind) => kind switch
    {
        LineKind.Own => new Attribute(ColorName16.BrightGreen, ColorName16.Black),
        LineKind.Other => new Attribute(ColorName16.White, ColorName16.Black),
        LineKind.PmIn => new Attribute(ColorName16.BrightMagenta, ColorName16.Black),
        LineKind.PmOut => new Attribute(ColorName16.Magenta, ColorName16.Black),
        LineKind.Join => new Attribute(ColorName16.BrightCyan, ColorName16.Black),
        LineKind.Leave => new Attribute(ColorName16.Cyan, ColorName16.Black),
        LineKind.Error => new Attribute(ColorName16.BrightRed, ColorName16.Black),
        _ => new Attribute(ColorName16.Yellow, ColorName16.Black),
    };

    private void UpdateState()
    {
        bool online = _vm.State == ConnectionState.Online;
        bool everOnline = _vm.Me is not null;
        _window.Title = $"Messenger · {_vm.StatusText}";
        _stateShortcut.HelpText = _vm.State switch
        {
            ConnectionState.Online => "online",
            ConnectionState.Disconnected => "DISCONNECTED",
            _ => "connecting…",
        };
        // The main screen stays up after a connection loss (the log is worth keeping); the
        // connect form is for the first login and for retrying a refused name.
        _mainPanel.Visible = online || everOnline;
        _connectPanel.Visible = !_mainPanel.Visible;
        if (_connectPanel.Visible)
        {
            _connectProblem.Text = _vm.State switch
            {
                ConnectionState.Connecting or ConnectionState.LoggingIn => _vm.StatusText,
                _ => _vm.LastProblem is { } p ? $"{p}\nFix it and press Enter to try again." : "Enter a username and press Enter.",
            };
            if (!_userField.HasFocus && !_serverField.HasFocus && !_portField.HasFocus) _userField.SetFocus();
        }
        else if (online && !_input.HasFocus && _chatFrame.Visible)
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
        StartSession(server, port, user);
    }

    private void StartSession(string server, int port, string user)
    {
        _session?.Quit();
        _host = server;
        _vm.BeginConnect($"{server}:{port}");
        var session = ChatSession.Start(system, server, port, user, options.Tls);
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
        bool wasOnline = _vm.State == ConnectionState.Online;
        if (ev is SessionFrameReceived { Frame: ErrorFrame } && _vm.State == ConnectionState.LoggingIn)
        {
            // A refused name: show the server's words on the connect form and let the user retry.
            _vm.Apply(ev);
            _session = null;
            session.Quit();
            _vm.Apply(new SessionDisconnected(_vm.LastProblem ?? "refused"));
            if (_vm.Me is not null) ShowReconnectHint();
            return;
        }
        if (ev is SessionFrameReceived { Frame: var frame })
        {
            if (_vm.Apply(frame) is { } started) StartDownload(started.Item, started.Ticket);
        }
        else
        {
            _vm.Apply(ev);
        }
        if (ev is SessionDisconnected or SessionConnectFailed)
        {
            _session = null;
            if (wasOnline || _vm.Me is not null) ShowReconnectHint();
        }
    }

    private void ShowReconnectHint()
    {
        _vm.AddSystem($"not connected: {_vm.LastProblem}. Press F5 to reconnect as {_vm.Me}.");
        if (_app is null) return;
        int? choice = MessageBox.Query(_app, "Connection lost", $"{_vm.LastProblem}\n\nReconnect to {_vm.Server}?", "Later", "Reconnect");
        if (choice == 1) Reconnect();
    }

    private void Reconnect()
    {
        if (_vm.State != ConnectionState.Disconnected) return;
        if (_vm.Me is null)
        {
            Connect();
            return;
        }
        if (!int.TryParse(_portField.Text, out int port)) port = options.Port;
        StartSession(_host, port, _vm.Me);
    }

    // ------------------------------------------------------------------ input and panels

    private void Submit()
    {
        var text = _input.Text ?? "";
        var command = InputCommand.Parse(text);
        switch (command)
        {
            case InputCommand.Empty:
                return;
            case InputCommand.Invalid invalid:
                _vm.AddError(invalid.Error);
                return; // keep the text so it can be fixed
            case InputCommand.Help:
                _vm.AddSystem(InputCommand.HelpText);
                _vm.AddSystem("keys: F1 help · F2 files · F3 downloads · F4/Esc chat · F5 reconnect · Tab moves · Enter on a user starts /pm · Ctrl+Q quit");
                break;
            case InputCommand.Quit:
                Quit();
                return;
            default:
                if (_session is null || _vm.State != ConnectionState.Online)
                {
                    _vm.AddError("not connected: press F5 to reconnect");
                    return;
                }
                if (command is InputCommand.Get get) _vm.RequestDownload(get.File, get.Via);
                _session.Send(command.ToClientCommand()!);
                break;
        }
        _input.Text = "";
    }

    private void StartPm(string user)
    {
        ShowChat();
        _input.Text = $"/pm {user} ";
        _input.SetFocus();
        _input.MoveEnd();
    }

    private void ShowPanel(FrameView panel)
    {
        if (!_mainPanel.Visible) return;
        foreach (var p in new[] { _chatFrame, _filesFrame, _downloadsFrame }) p.Visible = ReferenceEquals(p, panel);
    }

    private void ShowChat()
    {
        ShowPanel(_chatFrame);
        if (_mainPanel.Visible) _input.SetFocus();
    }

    private void ShowFiles()
    {
        ShowPanel(_filesFrame);
        if (!_mainPanel.Visible) return;
        _filesList.SetFocus();
        if (_session is not null && _vm.State == ConnectionState.Online) _session.Send(FilesCommand.Instance);
    }

    private void ShowDownloads()
    {
        ShowPanel(_downloadsFrame);
        if (_mainPanel.Visible) _downloadsFrame.SetFocus();
    }

    private void ShowHelp()
    {
        ShowChat();
        _vm.AddSystem(InputCommand.HelpText);
        _vm.AddSystem("keys: F1 help · F2 files · F3 downloads · F4/Esc chat · F5 reconnect · Tab moves · Enter on a user starts /pm · Ctrl+Q quit");
    }

    private void Quit() => _app?.RequestStop();

    private void OnGlobalKey(object? sender, Key key)
    {
        if (_app?.TopRunnableView != _window) return; // a dialog is up: let it have its keys
        if (key == Key.Esc)
        {
            key.Handled = true; // Esc goes back to the chat; it does not quit (Ctrl+Q does)
            ShowChat();
        }
        else if (_filesFrame.Visible && !_input.HasFocus && (key == Key.T || key == Key.T.WithShift || key == Key.U || key == Key.U.WithShift))
        {
            key.Handled = true;
            DownloadSelected(key == Key.T || key == Key.T.WithShift ? TransferVia.Tcp : TransferVia.Udp);
        }
        else if (key == Key.F5 && _filesFrame.Visible && _session is not null && _vm.State == ConnectionState.Online)
        {
            key.Handled = true;
            _session.Send(FilesCommand.Instance);
        }
    }

    // ------------------------------------------------------------------ downloads

    private void AskDownloadSelected()
    {
        if (SelectedFile() is not { } file || _app is null) return;
        int? choice = MessageBox.Query(_app, "Download", $"Download {file.Name} ({DownloadItem.Size(file.Size)}) over", "Cancel", "UDP", "TCP");
        if (choice == 2) DownloadSelected(TransferVia.Tcp);
        else if (choice == 1) DownloadSelected(TransferVia.Udp);
    }

    private FileEntry? SelectedFile() =>
        _filesList.SelectedItem is { } i && i >= 0 && i < _vm.Files.Count ? _vm.Files[i] : null;

    private void DownloadSelected(TransferVia via)
    {
        if (SelectedFile() is not { } file) return;
        if (_session is null || _vm.State != ConnectionState.Online)
        {
            _vm.AddError("not connected: press F5 to reconnect");
            return;
        }
        _vm.RequestDownload(file.Name, via);
        _session.Send(new GetCommand(file.Name, via));
        ShowDownloads();
    }

    private void StartDownload(DownloadItem item, TicketFrame ticket)
    {
        var progress = new UiProgress(this, item.Id);
        var host = _host;
        var folder = options.DownloadsFolder;
        var cancel = _shutdown.Token;
        _ = Task.Run(async () =>
        {
            try
            {
                var result = ticket.Via == TransferVia.Udp
                    ? await RudpDownload.RunAsync(system, host, ticket, folder, progress, cancel)
                    : await TcpDownload.RunAsync(host, ticket, folder, progress, cancel, options.Tls);
                Post(() => _vm.CompleteDownload(item.Id, result));
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Post(() => _vm.FailDownload(item.Id, e.Message));
            }
        });
    }

    private void UpdateDownloadRow(DownloadItem item)
    {
        if (!_downloadRows.TryGetValue(item.Id, out var row))
        {
            int y = _downloadRows.Count * 3;
            row = (new Label { X = 0, Y = y, Width = Dim.Fill(), Height = 1 },
                new Label { X = 2, Y = y + 1, Width = Dim.Fill(), Height = 1 },
                new ProgressBar { X = 0, Y = y + 2, Width = Dim.Fill(), Height = 1 });
            _downloadsFrame.Add(row.Text, row.Detail, row.Bar);
            _downloadRows[item.Id] = row;
        }
        row.Text.Text = item.Describe();
        row.Detail.Text = item.Detail();
        row.Bar.Fraction = item.Fraction;
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
