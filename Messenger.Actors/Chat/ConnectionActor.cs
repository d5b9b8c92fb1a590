using Akka.Actor;
using Akka.Event;
using Messenger.Accounts;
using Messenger.Files;
using Messenger.Net;
using Messenger.Protocol;
using Messenger.Rooms;

namespace Messenger.Chat;

// The connection's timers are plain scheduled messages, never cancelled: each is judged by the
// state it arrives in (a login deadline after the login is ignored). A cancellable Akka timer costs
// about 700 bytes per connection, a plain one about 140, so a logged-in connection keeps none: the
// registry's IdleCheck comes to all of them. One that arrives after the connection has stopped is
// a dead letter, not logged.

/// <summary>Fires when a client that has not logged in has used up its time to do so.</summary>
internal sealed record LoginDeadline : IDeadLetterSuppression { public static readonly LoginDeadline Instance = new(); }
/// <summary>Fires when the account has not answered the <paramref name="Ask"/>th request awaited (<c>register</c> or <c>passwd</c>) in time.</summary>
internal sealed record AccountAnswerDeadline(int Ask) : IDeadLetterSuppression;
/// <summary>Fires when a graceful close has not finished in time; the connection is then cut.</summary>
internal sealed record CloseDeadline : IDeadLetterSuppression { public static readonly CloseDeadline Instance = new(); }
/// <summary>
/// From a room or the presence actor of this node, once it has queued the answer to the request
/// the connection waits on (<c>join</c>, <c>history</c>, <c>who</c>) into the connection's
/// <see cref="OutboundQueue"/>: the next line may be acted on. <paramref name="JoinedRoom"/>: the
/// room just joined, whose entity (the sender) is to be watched. Never crosses nodes: a member on
/// another node is told the answer itself.
/// </summary>
public sealed record AnswerWritten(string? JoinedRoom = null) { public static readonly AnswerWritten Instance = new(); }

/// <summary>
/// What every chat connection of a node talks to, and its settings: one instance shared by all of
/// them (as separate constructor arguments they cost 64 bytes more on each connection).
/// </summary>
/// <param name="Rooms">The room region: room chat is told to it as <see cref="ToRoom"/>.</param>
/// <param name="RoomDirectory">Answers <c>rooms</c>.</param>
/// <param name="TicketOffice">Null when the server offers no files.</param>
public sealed record ConnectionServices(IActorRef Registry, IActorRef Rooms, IActorRef RoomDirectory, IActorRef Accounts,
    IActorRef? TicketOffice, ChatSettings Settings);

/// <summary>
/// One client's control-channel connection. Lines enter through <see cref="ChatInput"/>, the
/// connection's reading loop, which parses them and tells this actor typed <see cref="Inbound"/>
/// commands. From here only typed messages travel: room chat to the room region (<see cref="ToRoom"/>), logins and private messages to
/// the <see cref="UsernameRegistry"/>, <c>register</c> and <c>passwd</c> to the <see cref="AccountDirectory"/>, file requests to the <see cref="TicketOffice"/>. What comes back
/// leaves through the bounded <see cref="OutboundQueue"/>: the rooms and the presence actor of this
/// node put their frames into it themselves (it is in <see cref="Outboxes"/> while this actor
/// lives), everything else (its own answers, private messages, frames from rooms on other nodes) is
/// a <see cref="ServerFrame"/> told to this actor, which writes it at once.
/// <para>States: <see cref="AwaitingHello"/> → <see cref="AwaitingClaim"/> → <see cref="LoggedIn"/>
/// → <see cref="Closing"/> → <see cref="Flushing"/>. Input is bounded by the credit of <see cref="ChatInput"/>: the bytes of a line are
/// given back only once it has been acted on and the client's unread answers are below
/// <see cref="ReadPauseBytes"/>, so a client that pipelines faster than it reads is slowed by its
/// own socket, not dropped. A request whose answer comes from another actor (<c>who</c>,
/// <c>join</c>, <c>history</c>, <c>files</c>, <c>get</c>) is answered (the frame, or
/// <see cref="AnswerWritten"/> once it is in the queue) before the next line is acted on, so
/// answers still inside other actors are bounded too.</para>
/// </summary>
public sealed class ConnectionActor : UntypedActor
{
    private readonly ClientConnection _connection;
    private readonly ConnectionServices _services;
    private readonly ChatInput _input;
    private readonly OutboundQueue _outbound;
    // Made on first use: most connections never log, never ask for files and stay in the lobby,
    // and each of these costs 50-150 bytes on every one of ten thousand idle connections.
    private ILoggingAdapter? _log;
    private TokenBucket? _fileRequests;
    private LogThrottle? _errorLog;

    private string? _name;
    private HashSet<string>? _joinedRooms; // besides the lobby
    private Dictionary<IActorRef, string>? _roomEntities; // watched: rejoined if one stops
    private HashSet<string>? _rejoining; // rooms whose entity stopped, asked again at each IdleCheck until one answers
    private IActorRef? _lobby; // the lobby's entity, where known (presence puts this connection in it and back)
    private UnansweredSays? _unanswered; // says to rooms on other nodes, until their echo
    private TimeSpan _lastHeard;
    private long _heldCredit;
    private Type? _awaitedAnswer;
    private int _asks; // requests awaited so far: an AccountAnswerDeadline names the one it is for
    /// <summary>Tells the account that the private messages it kept are written, once everything queued (they, behind the welcome) is.</summary>
    private ToAccount? _handOverWhenFlushed;
    private bool _readingPaused;
    private bool _ended;
    /// <summary>
    /// Messages that must wait (for the login's answer, an awaited answer, or the client to read
    /// its answers), in the order they came; made when the first has to. Akka's stash, with the
    /// deque mailbox it needs, held about 150 bytes on every connection from the start.
    /// </summary>
    private Queue<object>? _held;

    public ConnectionActor(ClientConnection connection, ConnectionServices services)
    {
        _connection = connection;
        _services = services;
        _input = new ChatInput(Self, Settings.InputBufferBytes, Settings.RateLimit);
        _outbound = new OutboundQueue(connection.Output, Self, Settings.OutboundLimitBytes, Settings.WriteChunkBytes);
    }

    /// <summary>
    /// How every connection actor is deployed: with the compact mailbox (HOCON
    /// <c>messenger.connection-mailbox</c>). One instance for all: <c>Props.WithMailbox</c> made a copy per connection.
    /// </summary>
    private static readonly Deploy CompactMailbox = Deploy.Local.WithMailbox("messenger.connection-mailbox");

    public static Props Props(ClientConnection connection, ConnectionServices services) =>
        new(CompactMailbox, typeof(ConnectionActor), connection, services);

    /// <summary>Past this many unread bytes waiting for the client, its input is not acted on.</summary>
    private long ReadPauseBytes => Settings.OutboundLimitBytes / 2;
    /// <summary>Once its unread bytes fall to this, input is acted on again.</summary>
    private long ReadResumeBytes => Settings.OutboundLimitBytes / 4;

    private ChatSettings Settings => _services.Settings;
    private ILoggingAdapter Log => _log ??= Context.GetLogger();
    private LogThrottle ErrorLog => _errorLog ??= new LogThrottle(Settings.LogInterval);
    private bool InRoom(string room) => _joinedRooms?.Contains(room) == true;

    private string Who => _name is null ? _connection.Remote.ToString() : $"{_name}@{_connection.Remote}";

    protected override void PreStart()
    {
        After(Settings.LoginTimeout, LoginDeadline.Instance);
        Outboxes.Get(Context.System).Add(Self, _outbound);
        _connection.StartReading(_input.RunAsync(_connection.Input, _connection.Closing));
    }

    // ------------------------------------------------------------------ states
    // Each state is a plain method over the message, chosen by _state: unlike ReceiveActor's
    // handler tables or Become's delegates (and the behaviour stack Akka keeps for them), a state
    // costs no per-connection allocations, which matters with ten thousand idle connections.

    private enum State { AwaitingHello, AwaitingClaim, LoggedIn, Closing, Flushing }
    private State _state;

    protected override void OnReceive(object message)
    {
        // Frames reach the queue without passing here: whether the client is behind on reading is
        // looked at when its input is.
        if (message is Inbound or InboundError) PauseIfBehind();
        switch (_state)
        {
            case State.AwaitingHello: AwaitingHello(message); break;
            case State.AwaitingClaim: AwaitingClaim(message); break;
            case State.LoggedIn: LoggedIn(message); break;
            case State.Closing: Closing(message); break;
            case State.Flushing: Flushing(message); break;
        }
    }

    /// <summary>Connected, not logged in: only <c>hello</c>, <c>ping</c> and <c>bye</c> are served.</summary>
    private void AwaitingHello(object message)
    {
        switch (message)
        {
            case Inbound when _readingPaused:
                Hold(message);
                break;
            case Inbound inbound:
                switch (inbound.Command)
                {
                    case HelloCommand hello:
                        _services.Registry.Tell(new ClaimName(hello.User, _connection.Remote.Address, hello.Password));
                        _state = State.AwaitingClaim;
                        break;
                    case PingCommand: Send(PongFrame.Instance); break;
                    case ByeCommand: Close(LeaveReasons.Quit, "bye"); break;
                    default: Send(new ErrorFrame(ErrorCodes.NotLoggedIn, "log in first: {\"type\":\"hello\",\"user\":NAME}")); break;
                }
                Done(inbound.Bytes);
                break;
            case LoginDeadline:
                Send(new ErrorFrame(ErrorCodes.LoginTimeout, $"log in within {Settings.LoginTimeout.TotalSeconds:0.#} s of connecting; closing"));
                Close(LeaveReasons.Timeout, "no login in time");
                break;
            case DisplacedBeforeLogin displaced:
                Send(displaced.Error);
                Close(LeaveReasons.Disconnected, "a newcomer took its pre-login slot");
                break;
            default:
                Connected(message);
                break;
        }
    }

    /// <summary>
    /// A name was asked for; everything the client sends meanwhile waits for the answer. The
    /// welcome is queued by the <see cref="PresenceActor"/> before it tells <see cref="NameClaimed"/>;
    /// a frame for the name that comes first (a private message: the claim delivers as soon as it
    /// is granted, the welcome may be a batch window later) waits for it too, so it follows the welcome.
    /// </summary>
    private void AwaitingClaim(object message)
    {
        switch (message)
        {
            case Inbound or InboundError or LoginDeadline or DisplacedBeforeLogin or ServerFrame: // the answer decides what they mean
                Hold(message);
                break;
            case NameClaimed claimed:
                _name = claimed.Welcome.User;
                _lobby = claimed.Lobby;
                // The private messages kept for the user are in the queue behind the welcome: once
                // they are written, the account stops keeping them (a connection that closed before
                // this, or before they were written, never says so, and the next login gets them).
                if (claimed.OfflineThrough > 0)
                {
                    _handOverWhenFlushed = new ToAccount(_name, new OfflineHandedOver(claimed.OfflineThrough));
                    HandOverIfFlushed();
                }
                Context.Parent.Tell(PastPreLogin.Instance);
                _lastHeard = MonotonicClock.Now;
                _state = State.LoggedIn;
                ReleaseHeld();
                break;
            case NameRefused refused:
                Send(refused.Error);
                _state = State.AwaitingHello;
                ReleaseHeld();
                break;
            default:
                Connected(message);
                break;
        }
    }

    private void LoggedIn(object message)
    {
        switch (message)
        {
            case Inbound or InboundError when _awaitedAnswer is not null || _readingPaused:
                Hold(message);
                break;
            case Inbound inbound:
                _lastHeard = MonotonicClock.Now;
                Handle(inbound.Command);
                Done(inbound.Bytes);
                break;
            case ServerFrame frame:
                Send(frame);
                if (_unanswered is { IsEmpty: false }) NoteEchoes(frame);
                if (frame is JoinedFrame { Users: not null, Room: { } joined } && InRoom(joined)) WatchRoom(joined);
                if (_awaitedAnswer is null || !_awaitedAnswer.IsInstanceOfType(frame) && frame is not ErrorFrame) break;
                Answered();
                break;
            case AnswerWritten written:
                if (written.JoinedRoom is { } room && InRoom(room)) WatchRoom(room);
                Answered();
                break;
            case IdleCheck when MonotonicClock.Now - _lastHeard >= Settings.IdleTimeout:
                Send(new ErrorFrame(ErrorCodes.IdleTimeout, $"nothing received for {Settings.IdleTimeout.TotalSeconds:0.#} s (a ping keeps a connection open); closing"));
                Close(LeaveReasons.Timeout, $"nothing received for {Settings.IdleTimeout.TotalSeconds:0.#} s");
                break;
            case AccountAnswerDeadline deadline:
                if (deadline.Ask != _asks || _awaitedAnswer is null) break; // answered in time
                Send(new ErrorFrame(ErrorCodes.NotStored,
                    $"no answer from your account within {Settings.AccountAnswerTimeout.TotalSeconds:0.#} s: the change may or may not have been made; check, or try again"));
                Answered();
                break;
            case IdleCheck:
                RejoinAgain();
                RefuseUnanswered();
                break;
            case LoginDeadline or DisplacedBeforeLogin: // meant for a login that has since succeeded
                break;
            case Rejoined { Room: RoomNames.Lobby }: // presence watches the lobby; its place is noted for says
                _lobby = Sender;
                break;
            case Rejoined rejoined:
                WatchRoom(rejoined.Room);
                break;
            case Terminated t:
                // A room's entity stopped while this connection was in it: its shard moved to another
                // node. Join its next incarnation; messages meanwhile show as a gap in the ids. The
                // rejoin is sent again at each IdleCheck until the room answers: one sent before this
                // node's region saw the old node go was sent there, and lost.
                if (_roomEntities?.Remove(t.ActorRef, out var left) == true && InRoom(left))
                {
                    (_rejoining ??= new()).Add(left);
                    _services.Rooms.Tell(new ToRoom(left, new RejoinRoom(_name!)));
                }
                break;
            default:
                Connected(message);
                break;
        }
    }

    /// <summary>
    /// Leaving: input is ignored; frames sent before the registry saw us leave are still
    /// written (the client asked for them); once it confirms (<see cref="LeftChat"/>), the queue is
    /// flushed and the connection closes, or is cut at the close deadline.
    /// </summary>
    private void Closing(object message)
    {
        switch (message)
        {
            case ServerFrame frame: Send(frame); break;
            case LeftChat: FinishWhenFlushed(); break;
            case OutboundQueue.Dropped { Slow: true }: Abort(LeaveReasons.Slow, "slow"); break;
            case OutboundQueue.Dropped: Finish(); break;
            case CloseDeadline: Abort(LeaveReasons.Disconnected, "the close did not finish in time"); break;
        }
    }

    /// <summary>The chat is left: the connection closes once everything queued has been handed to the transport.</summary>
    private void Flushing(object message)
    {
        if (message is OutboundQueue.Drained) FinishIfFlushed();
        else Closing(message);
    }

    /// <summary>What every open state handles the same way.</summary>
    private void Connected(object message)
    {
        switch (message)
        {
            case ServerFrame frame:
                Send(frame);
                break;
            case InboundError bad:
                if (ErrorLog.ShouldLog(MonotonicClock.Now.Ticks, out long held))
                    Log.Info("{0}: error {1}: {2} ({3} more since the last such line)", Who, bad.Error.Code, bad.Error.Message, held);
                Send(ErrorFrame.From(bad.Error));
                if (bad.Error.ClosesConnection) Close(LeaveReasons.Disconnected, "invalid UTF-8");
                else Done(bad.Bytes);
                break;
            case InputRateLimited limited:
                if (ErrorLog.ShouldLog(MonotonicClock.Now.Ticks, out long refusals))
                    Log.Warning("{0}: rate limited ({1} more refusals logged since the last such line)", Who, refusals);
                Send(new ErrorFrame(ErrorCodes.RateLimited,
                    $"slow down: at most {limited.PerSecond:0.#} messages a second (bursts of {limited.Burst}); lines over it are dropped"));
                break;
            case InputFlooding flooding:
                Send(new ErrorFrame(ErrorCodes.RateLimited, $"{flooding.Refused} lines over the rate limit; closing"));
                Close(LeaveReasons.Disconnected, "flooding");
                break;
            case InputEnded { LineTooLong: true }:
                Send(new ErrorFrame(ErrorCodes.LineTooLong, $"a line is limited to {ProtocolLimits.MaxLineBytes} bytes; closing"));
                Close(LeaveReasons.Disconnected, "line too long");
                break;
            case InputEnded ended:
                Log.Debug("{0}: {1}", Who, ended.Why);
                Leave(LeaveReasons.Disconnected);
                break;
            case OutboundQueue.Drained:
                HandOverIfFlushed();
                // The client read what it was behind on, unless more has come meanwhile.
                if (!_readingPaused || !_outbound.WakeAtMost(ReadResumeBytes)) break;
                _readingPaused = false;
                if (_awaitedAnswer is null) ReleaseHeld();
                ReturnHeldCredit();
                break;
            case OutboundQueue.Dropped { Slow: true }:
                Log.Warning("{0}: more than {1} bytes waiting to be read; dropping as slow", Who, Settings.OutboundLimitBytes);
                Abort(LeaveReasons.Slow, "slow");
                break;
            case OutboundQueue.Dropped:
                LeaveRegistry(LeaveReasons.Disconnected);
                Finish();
                break;
            case ServerStopping:
                Send(new ErrorFrame(ErrorCodes.ServerShutdown, "the server is shutting down"));
                Close(LeaveReasons.Disconnected, "server shutting down");
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>The sender is the entity of <paramref name="room"/>: watch it, to rejoin if it stops.</summary>
    private void WatchRoom(string room)
    {
        _roomEntities ??= new();
        foreach (var (entity, name) in _roomEntities.Where(p => p.Value == room).ToArray())
        {
            Context.Unwatch(entity);
            _roomEntities.Remove(entity);
        }
        _roomEntities[Sender] = room;
        Context.Watch(Sender);
        _rejoining?.Remove(room);
    }

    /// <summary>Asks again to rejoin each room whose entity stopped and has not answered since.</summary>
    private void RejoinAgain()
    {
        if (_rejoining is null) return;
        _rejoining.RemoveWhere(room => !InRoom(room));
        foreach (var room in _rejoining) _services.Rooms.Tell(new ToRoom(room, new RejoinRoom(_name!)));
    }

    /// <summary>Whether the entity of <paramref name="room"/> is known to be on this node (its echoes then never pass here).</summary>
    private bool HostedHere(string room)
    {
        if (room == RoomNames.Lobby) return _lobby?.Path.Address.HasLocalScope == true;
        foreach (var (entity, name) in _roomEntities ?? [])
        {
            if (name == room) return entity.Path.Address.HasLocalScope;
        }
        return false;
    }

    /// <summary>Each echo of this connection's own says, from a room on another node, is one say answered.</summary>
    private void NoteEchoes(ServerFrame frame)
    {
        if (frame is FrameBatch batch)
        {
            foreach (var inner in batch.Frames) NoteEchoes(inner);
        }
        else if (frame is MessageFrame { Room: { } room } message && message.From == _name)
            _unanswered!.Echoed(room);
    }

    /// <summary>A say to a room on another node not echoed within say-timeout is lost with that node: it gets not_stored.</summary>
    private void RefuseUnanswered()
    {
        if (_unanswered is not { IsEmpty: false } unanswered) return;
        foreach (var (room, says) in unanswered.TakeExpired(MonotonicClock.Now, Settings.SayTimeout))
        {
            for (int i = 0; i < says; i++)
                Send(new ErrorFrame(ErrorCodes.NotStored,
                    $"your message in \"{room}\" got no answer within {Settings.SayTimeout.TotalSeconds:0.#} s: the server node hosting the room is not answering (a lost node is removed within about 10-20 s, and the room then starts again on another one); it may still be stored: look at the room's history before sending it again"));
        }
    }

    private void Hold(object message) => (_held ??= new()).Enqueue(message);

    /// <summary>The awaited answer has arrived: the next line may be acted on.</summary>
    private void Answered()
    {
        _awaitedAnswer = null;
        if (!_readingPaused) ReleaseHeld();
    }

    /// <summary>
    /// Acts on the held messages now, in order, as if they had just arrived (as Akka's
    /// <c>UnstashAll</c> would, just before the mailbox's next): from the first that has to wait
    /// again, they are held again, still in order. Only input, login timers and frames that came
    /// before the welcome are held, and acting on them never releases held messages itself.
    /// </summary>
    private void ReleaseHeld()
    {
        if (_held is not { } released) return;
        _held = null;
        while (released.TryDequeue(out var message))
        {
            if (_held is null) OnReceive(message);
            else _held.Enqueue(message);
        }
    }

    // ------------------------------------------------------------------ input

    private void Handle(ClientCommand command)
    {
        switch (command)
        {
            case PingCommand: Send(PongFrame.Instance); return;
            case ByeCommand: Close(LeaveReasons.Quit, "bye"); return;
            case HelloCommand: Send(new ErrorFrame(ErrorCodes.AlreadyLoggedIn, $"already logged in as \"{_name}\"")); return;
            // Only rooms this connection is in are asked (a room that is not running is not started for a stranger).
            case SayCommand or HistoryCommand or PartCommand when RoomOf(command) is { } room && room != RoomNames.Lobby && !InRoom(room):
                Send(RoomActor.NotMember(room));
                return;
            case SayCommand say:
                var to = say.Room ?? RoomNames.Lobby;
                if (!HostedHere(to)) (_unanswered ??= new()).Sent(to, MonotonicClock.Now);
                _services.Rooms.Tell(new ToRoom(to, new PostToRoom(_name!, say.Text)));
                return;
            case JoinCommand { Room: RoomNames.Lobby }: Send(new ErrorFrame(ErrorCodes.BadRoom, "everyone is in the lobby already")); return;
            case JoinCommand join when !InRoom(join.Room) && _joinedRooms?.Count >= Settings.MaxJoinedRooms:
                Send(new ErrorFrame(ErrorCodes.TooManyRooms, $"you are in {_joinedRooms!.Count} rooms, the limit; part one first"));
                return;
            case JoinCommand join:
                (_joinedRooms ??= new()).Add(join.Room);
                Ask(_services.Rooms, new ToRoom(join.Room, new JoinRoom(_name!)), typeof(HistoryFrame));
                return;
            case PartCommand { Room: RoomNames.Lobby }: Send(new ErrorFrame(ErrorCodes.BadRoom, "everyone stays in the lobby")); return;
            case PartCommand part:
                _joinedRooms?.Remove(part.Room);
                _services.Rooms.Tell(new ToRoom(part.Room, new PartRoom(_name!, LeaveReasons.Part)));
                return;
            case HistoryCommand history: Ask(_services.Rooms, new ToRoom(history.Room, new GetHistory(history.Before, history.Limit)), typeof(HistoryFrame)); return;
            case RoomsCommand: Ask(_services.RoomDirectory, ListRooms.Instance, typeof(RoomsFrame)); return;
            case RegisterCommand register: AskAccount(_services.Registry, new RegisterName(register.Password, _connection.Remote.Address), typeof(RegisteredFrame)); return;
            case PasswdCommand passwd: AskAccount(_services.Accounts, new ToAccount(_name!, new ChangePassword(passwd.Old, passwd.New)), typeof(PasswordChangedFrame)); return;
            case PmCommand pm: _services.Registry.Tell(new SendPrivate(pm.To, pm.Text)); return;
            case WhoCommand: Ask(_services.Registry, ListUsers.Instance, typeof(UsersFrame)); return;
            case FilesCommand or GetCommand when _services.TicketOffice is null:
                Send(new ErrorFrame(ErrorCodes.BadRequest, "this server offers no files"));
                return;
            case FilesCommand or GetCommand when !TakeFileRequest():
                Send(new ErrorFrame(ErrorCodes.RateLimited,
                    $"slow down: at most {Settings.FileRequests.PerSecond:0.#} file requests a second (bursts of {Settings.FileRequests.Burst})"));
                return;
            case FilesCommand files: Ask(_services.TicketOffice!, new ListFiles(files.Offset, files.Limit), typeof(FilesFrame)); return;
            case GetCommand get: Ask(_services.TicketOffice!, new IssueTicket(get.File, get.Via, _connection.Remote.Address), typeof(TicketFrame)); return;
        }
    }

    /// <summary>Files and tickets have their own, lower rate; the bucket is made at a connection's first file request.</summary>
    private bool TakeFileRequest()
    {
        long now = MonotonicClock.Now.Ticks;
        _fileRequests ??= Settings.FileRequests.NewBucket(now);
        return _fileRequests.TryTake(now);
    }

    private static string? RoomOf(ClientCommand command) => command switch
    {
        SayCommand say => say.Room,
        HistoryCommand history => history.Room,
        PartCommand part => part.Room,
        _ => null,
    };


    /// <summary>Sends a request whose answer (a <paramref name="answer"/> or an error) must arrive before the next line is acted on.</summary>
    private void Ask(IActorRef to, object request, Type answer)
    {
        _awaitedAnswer = answer;
        _asks++;
        to.Tell(request);
    }

    /// <summary>
    /// An <see cref="Ask"/> answered by an account (through its journal, perhaps on another node), with
    /// a deadline: past it the client is told there was no answer, and its next line is acted on.
    /// </summary>
    private void AskAccount(IActorRef to, object request, Type answer)
    {
        Ask(to, request, answer);
        After(Settings.AccountAnswerTimeout, new AccountAnswerDeadline(_asks));
    }

    /// <summary>A line has been acted on: its bytes may be read again, unless the client is behind on reading.</summary>
    private void Done(int bytes)
    {
        _heldCredit += bytes;
        ReturnHeldCredit();
    }

    private void ReturnHeldCredit()
    {
        if (_heldCredit == 0 || _readingPaused) return;
        _input.Return(_heldCredit);
        _heldCredit = 0;
    }

    // ------------------------------------------------------------------ output and closing

    /// <summary>Queues a frame; past the outbound limit the queue tells <see cref="OutboundQueue.Dropped"/> and the client is dropped as slow.</summary>
    private void Send(ServerFrame frame)
    {
        if (_ended) return;
        _outbound.WriteNow(frame.Line);
        PauseIfBehind();
    }

    /// <summary>Past <see cref="ReadPauseBytes"/> unread, input waits until the client has read down to <see cref="ReadResumeBytes"/> (<see cref="OutboundQueue.Drained"/>).</summary>
    private void PauseIfBehind()
    {
        if (!_readingPaused && _outbound.PendingBytes > ReadPauseBytes) _readingPaused = !_outbound.WakeAtMost(ReadResumeBytes);
    }

    /// <summary>Graceful close: leave the chat, flush what is queued, then close the connection.</summary>
    private void Close(string reason, string why)
    {
        Log.Info("{0}: closing ({1})", Who, why);
        Leave(reason);
    }

    /// <summary>
    /// Leaves the chat and stops once the lobby confirms it (<see cref="LeftChat"/>) and the queue is
    /// flushed, or at the close deadline. A client that hung up waits for that too: so when every
    /// connection has stopped, no leave is still on its way to a room (a shutdown's shard hand-off
    /// then waited for one, its phase's full 10 s).
    /// </summary>
    private void Leave(string reason)
    {
        _state = State.Closing;
        After(Settings.CloseDeadline, CloseDeadline.Instance);
        if (!LeaveRegistry(reason)) FinishWhenFlushed();
    }

    private void FinishWhenFlushed()
    {
        _state = State.Flushing;
        FinishIfFlushed();
    }

    private void FinishIfFlushed()
    {
        if (!_outbound.WakeWhenFlushed()) return;
        HandOverIfFlushed();
        Finish();
    }

    /// <summary>
    /// Tells the account the kept private messages are written (<see cref="OfflineHandedOver"/>) once
    /// everything queued has been handed to the transport; else asks to be woken when it has. Not if
    /// the queue was dropped first: then they may not have been.
    /// </summary>
    private void HandOverIfFlushed()
    {
        if (_handOverWhenFlushed is not { } handOver || !_outbound.WakeWhenFlushed()) return;
        _handOverWhenFlushed = null;
        if (!_outbound.IsDropped) _services.Accounts.Tell(handOver);
    }

    // AK1004 prefers cancellable timers; these are one-shot and bounded by the login, close and
    // account-answer timeouts, so one left pending by a stopped connection is only a dead letter within a minute.
#pragma warning disable AK1004
    private void After(TimeSpan delay, object timer) => Context.System.Scheduler.ScheduleTellOnce(delay, Self, timer, Self);
#pragma warning restore AK1004

    /// <summary>Hard close: leave the chat and cut the connection without flushing.</summary>
    private void Abort(string reason, string why)
    {
        Log.Info("{0}: cutting the connection ({1})", Who, why);
        LeaveRegistry(reason);
        _ended = true;
        _outbound.Close();
        _connection.Abort();
        Context.Stop(Self);
    }

    /// <summary>
    /// Tells the registry we leave; false if we were not logged in. The rooms whose entities we know
    /// hear it from us first: the part then reaches them before our death-watch does, so they
    /// announce why we left (slow, quit), not <c>disconnected</c>. The registry tells every room
    /// we joined as well (a room joined meanwhile, or one whose entity moved); a part for someone who
    /// is no longer a member is ignored.
    /// </summary>
    private bool LeaveRegistry(string reason)
    {
        if (_name is null) return false;
        foreach (var (entity, room) in _roomEntities ?? [])
        {
            if (InRoom(room)) entity.Tell(new PartRoom(_name, reason));
        }
        _services.Registry.Tell(new LeaveChat(reason, _joinedRooms));
        _name = null;
        return true;
    }

    /// <summary>The connection is done: close it (sending what was flushed) and stop.</summary>
    private void Finish()
    {
        if (_ended) return;
        _ended = true;
        _outbound.Close(); // nobody writes to the pipe once closing has begun
        _ = _connection.CloseAsync(Settings.CloseDeadline);
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        Outboxes.Get(Context.System).Remove(Self);
        // The registry's death-watch covers any path that did not say goodbye.
        if (_ended) return;
        _outbound.Close();
        _connection.Abort();
    }
}
