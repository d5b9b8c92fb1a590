using System.Diagnostics;
using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Messenger.Files;
using Messenger.Net;
using Messenger.Protocol;
using Messenger.Rooms;

namespace Messenger.Chat;

/// <summary>Sent by the idle timer; checks when the client last said anything.</summary>
internal sealed record IdleCheck { public static readonly IdleCheck Instance = new(); }

/// <summary>Sent when a graceful close has not finished in time; the socket is then reset.</summary>
internal sealed record CloseDeadline
{
    public static readonly CloseDeadline Instance = new();
    public static readonly TimeSpan After = TimeSpan.FromSeconds(5);
}

/// <summary>
/// One client's control-channel connection. Bytes enter here from Akka.IO (<see cref="Tcp.Received"/>),
/// are framed by <see cref="LineFramer"/> and parsed by <see cref="ChatCodec"/>; from then on only typed
/// messages travel: chat to the <see cref="UsernameRegistry"/>, file requests to the
/// <see cref="TicketOffice"/>. Whatever comes back is a <see cref="ServerFrame"/>, which leaves through
/// the bounded outbound queue in <see cref="OutboundQueue"/>.
/// </summary>
public sealed class ConnectionActor : ReceiveActor, IWithTimers
{
    private readonly IActorRef _tcp;
    private readonly EndPoint _remote;
    private readonly IActorRef _registry;
    private readonly IActorRef _rooms;
    private readonly IActorRef? _ticketOffice;
    private readonly ChatSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private readonly LineFramer _framer = new(ProtocolLimits.MaxLineBytes);
    private readonly Queue<byte[]> _pendingLines = new();
    private readonly OutboundQueue _outbound;
    private readonly TokenBucket? _rateLimit;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _lastHeard;
    private bool _rateLimitLogged;

    private string? _name;
    private readonly HashSet<string> _joinedRooms = new(); // besides the lobby
    private bool _awaitingClaim;
    private bool _socketClosed;
    private bool _readingSuspended;

    public ConnectionActor(IActorRef tcp, EndPoint remote, IActorRef registry, IActorRef rooms, IActorRef? ticketOffice, ChatSettings settings)
    {
        _tcp = tcp;
        _remote = remote;
        _registry = registry;
        _rooms = rooms;
        _ticketOffice = ticketOffice;
        _settings = settings;
        _outbound = new OutboundQueue(tcp, Self, settings.OutboundLimitBytes);
        if (settings.RateLimitEnabled)
            _rateLimit = new TokenBucket(settings.RateLimitPerSecond, settings.RateLimitBurst, _clock.Elapsed.Ticks);
        Context.Watch(tcp);
        Active();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef tcp, EndPoint remote, IActorRef registry, IActorRef rooms, IActorRef? ticketOffice, ChatSettings settings) =>
        Akka.Actor.Props.Create(() => new ConnectionActor(tcp, remote, registry, rooms, ticketOffice, settings));

    private string Who => _name is null ? _remote.ToString()! : $"{_name}@{_remote}";

    protected override void PreStart()
    {
        var interval = TimeSpan.FromTicks(Math.Clamp(_settings.IdleTimeout.Ticks / 10,
            TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromSeconds(2).Ticks));
        Timers.StartPeriodicTimer(nameof(IdleCheck), IdleCheck.Instance, interval);
    }

    // ------------------------------------------------------------------ behaviours

    /// <summary>Reading and writing; before and after login (the difference is in <see cref="Handle"/>).</summary>
    private void Active()
    {
        Receive<Tcp.Received>(OnReceived);
        Receive<NameClaimed>(OnNameClaimed);
        Receive<NameRefused>(m => { _awaitingClaim = false; Send(m.Error); ProcessPendingLines(); });
        Receive<ServerFrame>(Send);
        Receive<IdleCheck>(_ => CheckIdle());
        Receive<ServerStopping>(_ => Close(LeaveReasons.Disconnected, "server shutting down"));
        CommonHandlers();
    }

    /// <summary>
    /// Leaving: input is ignored; frames the registry sent before it saw us leave are still
    /// written (the client asked for them); once it confirms, the queue is flushed and the
    /// socket closes.
    /// </summary>
    private void Closing()
    {
        Receive<Tcp.Received>(_ => { });
        Receive<ServerFrame>(Send);
        Receive<LeftChat>(_ => _outbound.CloseWhenFlushed());
        Receive<NameClaimed>(_ => { });
        Receive<NameRefused>(_ => { });
        Receive<IdleCheck>(_ => { });
        Receive<ServerStopping>(_ => { });
        Receive<CloseDeadline>(_ => Abort(LeaveReasons.Disconnected)); // flushing took too long
        CommonHandlers();
    }

    private void CommonHandlers()
    {
        Receive<OutboundQueue.Flush>(_ => _outbound.OnFlush());
        Receive<OutboundQueue.WriteAck>(_ => OnWriteAck());
        Receive<Tcp.CommandFailed>(f =>
        {
            _log.Warning("{0}: write failed ({1}); closing", Who, f.Cmd);
            Abort(LeaveReasons.Disconnected);
        });
        Receive<Tcp.ConnectionClosed>(_ =>
        {
            _socketClosed = true;
            LeaveRegistry(LeaveReasons.Disconnected);
            Context.Stop(Self);
        });
        Receive<Terminated>(t => t.ActorRef.Equals(_tcp), _ =>
        {
            LeaveRegistry(LeaveReasons.Disconnected);
            Context.Stop(Self);
        });
    }

    // ------------------------------------------------------------------ input

    private void OnReceived(Tcp.Received received)
    {
        _lastHeard = _clock.Elapsed;
        if (!_framer.Feed(received.Data.ToReadOnlySpan(), _pendingLines.Enqueue))
        {
            Send(new ErrorFrame(ErrorCodes.LineTooLong, $"a line is limited to {ProtocolLimits.MaxLineBytes} bytes; closing"));
            Close(LeaveReasons.Disconnected, "line too long");
            return;
        }
        ProcessPendingLines();
    }

    private void ProcessPendingLines()
    {
        while (!_awaitingClaim && _pendingLines.Count > 0)
        {
            if (SuspendReadingIfBehind()) return;
            var line = _pendingLines.Dequeue();
            if (_rateLimit is not null && !_rateLimit.TryTake(_clock.Elapsed.Ticks))
            {
                if (!_rateLimitLogged) _log.Warning("{0}: rate limited", Who);
                _rateLimitLogged = true;
                Send(new ErrorFrame(ErrorCodes.RateLimited,
                    $"slow down: at most {_settings.RateLimitPerSecond:0.#} messages a second (bursts of {_settings.RateLimitBurst})"));
                continue;
            }
            _rateLimitLogged = false;

            var parsed = ChatCodec.ParseCommand(line);
            if (parsed.Error is { } error)
            {
                _log.Info("{0}: error {1}: {2}", Who, error.Code, error.Message);
                Send(ErrorFrame.From(error));
                if (error.ClosesConnection)
                {
                    Close(LeaveReasons.Disconnected, "invalid UTF-8");
                    return;
                }
                continue;
            }
            Handle(parsed.Value!);
            if (IsClosing) return;
        }
    }

    /// <summary>
    /// Input backpressure: a client whose answers pile up unread (it pipelines requests faster
    /// than it reads) is not read from until half of its queue has drained. Its own socket then
    /// fills and slows it down, instead of the server buffering without bound.
    /// </summary>
    private bool SuspendReadingIfBehind()
    {
        if (_readingSuspended) return true;
        if (_outbound.PendingBytes <= _settings.OutboundLimitBytes / 2) return false;
        _readingSuspended = true;
        _tcp.Tell(Tcp.SuspendReading.Instance);
        return true;
    }

    private void OnWriteAck()
    {
        _outbound.OnAck();
        if (!_readingSuspended || _outbound.PendingBytes > _settings.OutboundLimitBytes / 4 || IsClosing) return;
        _readingSuspended = false;
        _tcp.Tell(Tcp.ResumeReading.Instance);
        ProcessPendingLines();
    }

    private void Handle(ClientCommand command)
    {
        switch (command)
        {
            case PingCommand: Send(PongFrame.Instance); return;
            case ByeCommand: Close(LeaveReasons.Quit, "bye"); return;
            case HelloCommand hello when _name is null:
                _awaitingClaim = true;
                _registry.Tell(new ClaimName(hello.User));
                return;
            case HelloCommand:
                Send(new ErrorFrame(ErrorCodes.AlreadyLoggedIn, $"already logged in as \"{_name}\""));
                return;
            case var _ when _name is null:
                Send(new ErrorFrame(ErrorCodes.NotLoggedIn, "log in first: {\"type\":\"hello\",\"user\":NAME}"));
                return;
            case SayCommand say: _rooms.Tell(new ToRoom(say.Room ?? RoomNames.Lobby, new PostToRoom(_name, say.Text))); return;
            case JoinCommand { Room: RoomNames.Lobby }: Send(new ErrorFrame(ErrorCodes.BadRoom, "everyone is in the lobby already")); return;
            case JoinCommand join when !_joinedRooms.Contains(join.Room) && _joinedRooms.Count >= _settings.MaxJoinedRooms:
                Send(new ErrorFrame(ErrorCodes.TooManyRooms, $"you are in {_joinedRooms.Count} rooms, the limit; part one first"));
                return;
            case JoinCommand join:
                _joinedRooms.Add(join.Room);
                _rooms.Tell(new ToRoom(join.Room, new JoinRoom(_name)));
                return;
            case PartCommand { Room: RoomNames.Lobby }: Send(new ErrorFrame(ErrorCodes.BadRoom, "everyone stays in the lobby")); return;
            case PartCommand part:
                _joinedRooms.Remove(part.Room);
                _rooms.Tell(new ToRoom(part.Room, new PartRoom(_name, LeaveReasons.Part)));
                return;
            case HistoryCommand history: _rooms.Tell(new ToRoom(history.Room, new GetHistory(history.Before, history.Limit))); return;
            case RoomsCommand: _rooms.Tell(ListRooms.Instance); return;
            case PmCommand pm: _registry.Tell(new SendPrivate(pm.To, pm.Text)); return;
            case WhoCommand: _registry.Tell(ListUsers.Instance); return;
            case FilesCommand when _ticketOffice is not null: _ticketOffice.Tell(ListFiles.Instance); return;
            case GetCommand get when _ticketOffice is not null: _ticketOffice.Tell(new IssueTicket(get.File, get.Via)); return;
            default:
                Send(new ErrorFrame(ErrorCodes.BadRequest, "this server offers no files"));
                return;
        }
    }

    private void OnNameClaimed(NameClaimed claimed)
    {
        _awaitingClaim = false;
        _name = claimed.Welcome.User;
        Send(claimed.Welcome);
        ProcessPendingLines();
    }

    private void CheckIdle()
    {
        if (_clock.Elapsed - _lastHeard < _settings.IdleTimeout) return;
        Close(LeaveReasons.Timeout, $"nothing received for {_settings.IdleTimeout.TotalSeconds:0.#} s");
    }

    // ------------------------------------------------------------------ output and closing

    private bool IsClosing { get; set; }

    private void Send(ServerFrame frame)
    {
        if (_socketClosed) return;
        if (!_outbound.Enqueue(frame.Line))
        {
            _log.Warning("{0}: more than {1} bytes waiting to be read; dropping as slow", Who, _settings.OutboundLimitBytes);
            Abort(LeaveReasons.Slow);
        }
    }

    /// <summary>Graceful close: leave the chat, flush what is queued, then close the socket.</summary>
    private void Close(string reason, string why)
    {
        if (IsClosing) return;
        IsClosing = true;
        _log.Info("{0}: closing ({1})", Who, why);
        Become(Closing);
        if (!LeaveRegistry(reason)) _outbound.CloseWhenFlushed();
        Timers.StartSingleTimer(nameof(CloseDeadline), CloseDeadline.Instance, CloseDeadline.After);
    }

    /// <summary>Hard close: leave the chat and reset the socket without flushing.</summary>
    private void Abort(string reason)
    {
        LeaveRegistry(reason);
        IsClosing = true;
        _socketClosed = true;
        _tcp.Tell(Tcp.Abort.Instance);
        Context.Stop(Self);
    }

    /// <summary>Tells the registry we leave; false if we were not logged in.</summary>
    private bool LeaveRegistry(string reason)
    {
        if (_name is null) return false;
        _registry.Tell(new LeaveChat(reason, _joinedRooms));
        _name = null;
        return true;
    }

    protected override void PostStop()
    {
        // The registry's death-watch covers any path that did not say goodbye.
        if (!_socketClosed) _tcp.Tell(Tcp.Close.Instance);
    }
}
