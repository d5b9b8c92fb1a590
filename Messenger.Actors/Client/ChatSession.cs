using System.Net;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Configuration;
using Akka.IO;
using Messenger.Protocol;

namespace Messenger.Client;

// ------------------------------------------------------------------ events (to the subscriber)

/// <summary>What a <see cref="ChatSessionActor"/> tells its subscriber.</summary>
public abstract record SessionEvent;

/// <summary>The TCP connection is up and the hello has been sent.</summary>
public sealed record SessionConnected(EndPoint Remote) : SessionEvent;

/// <summary>The connection could not be made; the session has stopped.</summary>
public sealed record SessionConnectFailed(string Reason) : SessionEvent;

/// <summary>One frame from the server.</summary>
public sealed record SessionFrameReceived(ServerFrame Frame) : SessionEvent;

/// <summary>The connection is gone (after being connected); the session has stopped.</summary>
public sealed record SessionDisconnected(string Reason) : SessionEvent;

// ------------------------------------------------------------------ commands (from the owner)

/// <summary>Says bye, closes the connection and stops the session.</summary>
public sealed record SessionQuit { public static readonly SessionQuit Instance = new(); }

internal sealed record SessionPing { public static readonly SessionPing Instance = new(); }
internal sealed record SessionConnectTimeout { public static readonly SessionConnectTimeout Instance = new(); }

/// <summary>The client session's tunables, from <c>messenger.client</c> in hocon/client.hocon.</summary>
public sealed record ChatSessionSettings(TimeSpan PingInterval, TimeSpan ConnectTimeout, TimeSpan ServerSilenceTimeout)
{
    public static ChatSessionSettings FromConfig(Config config)
    {
        var c = config.GetConfig("messenger.client");
        TimeSpan Get(string path, TimeSpan fallback) => c is null || !c.HasPath(path) ? fallback : c.GetTimeSpan(path);
        return new ChatSessionSettings(
            Get("ping-interval", TimeSpan.FromSeconds(20)),
            Get("connect-timeout", TimeSpan.FromSeconds(10)),
            Get("server-silence-timeout", TimeSpan.FromSeconds(70)));
    }
}

/// <summary>
/// The client's side of the control channel: owns one TCP connection (Akka.IO), sends the hello
/// and every <see cref="ClientCommand"/> it is told, frames and parses what the server sends,
/// pings so the server does not drop it, and tells its subscriber <see cref="SessionEvent"/>s.
/// One session per connection: after <see cref="SessionConnectFailed"/> or
/// <see cref="SessionDisconnected"/> it has stopped, and a reconnect is a new session.
/// </summary>
public sealed class ChatSessionActor : ReceiveActor, IWithTimers
{
    /// <summary>The code of the <see cref="ErrorFrame"/> a session reports for a line from the server it cannot read.</summary>
    public const string UnreadableFrameCode = "client_parse";

    private readonly EndPoint _server;
    private readonly string? _user;
    private readonly IActorRef _subscriber;
    private readonly ChatSessionSettings _settings;
    private readonly LineFramer _framer = new(ProtocolLimits.MaxLineBytes);
    private readonly Queue<ClientCommand> _early = new();
    private IActorRef? _connection;
    private DateTime _lastHeard;
    private bool _finished;

    public ChatSessionActor(EndPoint server, string? user, IActorRef subscriber, ChatSessionSettings settings)
    {
        _server = server;
        _user = user;
        _subscriber = subscriber;
        _settings = settings;
        Connecting();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>A session that connects to <paramref name="host"/>:<paramref name="port"/> and, when <paramref name="user"/> is given, logs in.</summary>
    public static Props Props(string host, int port, string? user, IActorRef subscriber, ChatSessionSettings settings)
    {
        EndPoint server = IPAddress.TryParse(host, out var ip) ? new IPEndPoint(ip, port) : new DnsEndPoint(host, port);
        return Akka.Actor.Props.Create(() => new ChatSessionActor(server, user, subscriber, settings));
    }

    protected override void PreStart()
    {
        Context.System.Tcp().Tell(new Tcp.Connect(_server, timeout: _settings.ConnectTimeout));
        Timers.StartSingleTimer(nameof(SessionConnectTimeout), SessionConnectTimeout.Instance, _settings.ConnectTimeout + TimeSpan.FromSeconds(1));
    }

    private void Connecting()
    {
        Receive<Tcp.Connected>(connected =>
        {
            Timers.Cancel(nameof(SessionConnectTimeout));
            _connection = Sender;
            _connection.Tell(new Tcp.Register(Self));
            Context.Watch(_connection);
            _lastHeard = DateTime.UtcNow;
            Timers.StartPeriodicTimer(nameof(SessionPing), SessionPing.Instance, _settings.PingInterval);
            _subscriber.Tell(new SessionConnected(connected.RemoteAddress));
            if (_user is not null) Write(new HelloCommand(_user));
            while (_early.Count > 0) Write(_early.Dequeue());
            Become(Connected);
        });
        Receive<Tcp.CommandFailed>(failed => Fail(new SessionConnectFailed(
            $"cannot connect to {Describe(_server)}: {ConnectFailure(failed)}")));
        Receive<SessionConnectTimeout>(_ => Fail(new SessionConnectFailed($"cannot connect to {Describe(_server)}: timed out")));
        Receive<ClientCommand>(command => _early.Enqueue(command));
        Receive<SessionQuit>(_ => Fail(new SessionDisconnected("quit before connecting")));
    }

    private void Connected()
    {
        Receive<Tcp.Received>(received =>
        {
            _lastHeard = DateTime.UtcNow;
            bool ok = _framer.Feed(received.Data.ToReadOnlySpan(), line =>
            {
                var parsed = ChatCodec.ParseFrame(line);
                _subscriber.Tell(parsed.Value is { } frame
                    ? new SessionFrameReceived(frame)
                    : new SessionFrameReceived(new ErrorFrame(UnreadableFrameCode, parsed.Error!.Message)));
            });
            if (!ok) Abort("the server sent a line longer than the protocol allows");
        });
        Receive<ClientCommand>(Write);
        Receive<SessionPing>(_ =>
        {
            if (DateTime.UtcNow - _lastHeard > _settings.ServerSilenceTimeout)
            {
                Abort($"nothing heard from the server for {_settings.ServerSilenceTimeout.TotalSeconds:0} s");
                return;
            }
            Write(PingCommand.Instance);
        });
        Receive<SessionQuit>(_ =>
        {
            Write(ByeCommand.Instance);
            _connection!.Tell(Tcp.Close.Instance);
            Finish(new SessionDisconnected("you quit"));
        });
        Receive<Tcp.CommandFailed>(failed => Abort($"the connection failed: {failed.CauseString ?? failed.Cmd.ToString()}"));
        Receive<Tcp.ConnectionClosed>(closed => Finish(new SessionDisconnected(closed switch
        {
            Tcp.PeerClosed => "the server closed the connection",
            Tcp.ErrorClosed e => $"the connection broke: {e.Cause}",
            Tcp.Aborted => "the connection was reset",
            _ => "the connection closed",
        })));
        Receive<Terminated>(_ => Finish(new SessionDisconnected("the connection is gone")));
    }

    private void Write(ClientCommand command) => _connection?.Tell(Tcp.Write.Create(ByteString.FromBytes(ChatCodec.EncodeCommand(command))));

    private void Abort(string reason)
    {
        _connection?.Tell(Tcp.Abort.Instance);
        Finish(new SessionDisconnected(reason));
    }

    private void Fail(SessionEvent ev) => Finish(ev);

    private void Finish(SessionEvent ev)
    {
        if (!_finished)
        {
            _finished = true;
            _subscriber.Tell(ev);
        }
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        if (!_finished)
        {
            _finished = true;
            _connection?.Tell(Tcp.Close.Instance);
            _subscriber.Tell(_connection is null
                ? new SessionConnectFailed("the session stopped before connecting")
                : new SessionDisconnected("the session stopped"));
        }
    }

    private static string ConnectFailure(Tcp.CommandFailed failed)
    {
        var cause = failed.CauseString?.Trim();
        // Akka.IO's text for a refused connect is about its internals; say what the user can act on.
        return string.IsNullOrEmpty(cause) || cause.Contains("finishConnect", StringComparison.Ordinal)
            ? "connection refused or host unreachable (is the server running?)"
            : cause;
    }

    private static string Describe(EndPoint endPoint) => endPoint switch
    {
        DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
        _ => endPoint.ToString() ?? "?",
    };
}

/// <summary>
/// A <see cref="ChatSessionActor"/> for code outside actors (the terminal UI, headless commands):
/// events arrive on <see cref="Events"/>, commands go in with <see cref="Send"/>.
/// </summary>
public sealed class ChatSession
{
    private readonly IActorRef _session;

    private ChatSession(IActorRef session, ChannelReader<SessionEvent> events)
    {
        _session = session;
        Events = events;
    }

    public ChannelReader<SessionEvent> Events { get; }

    public static ChatSession Start(ActorSystem system, string host, int port, string? user)
    {
        var channel = Channel.CreateUnbounded<SessionEvent>(new UnboundedChannelOptions { SingleReader = true });
        var sink = system.ActorOf(Akka.Actor.Props.Create(() => new ChannelSink(channel.Writer)));
        var session = system.ActorOf(ChatSessionActor.Props(host, port, user, sink, ChatSessionSettings.FromConfig(system.Settings.Config)));
        return new ChatSession(session, channel.Reader);
    }

    public void Send(ClientCommand command) => _session.Tell(command);

    /// <summary>Says bye and closes; <see cref="Events"/> then ends with a <see cref="SessionDisconnected"/>.</summary>
    public void Quit() => _session.Tell(SessionQuit.Instance);

    /// <summary>
    /// Waits for the next frame of type <typeparamref name="T"/> (others are skipped). Throws
    /// <see cref="ServerErrorException"/> on an error frame and <see cref="SessionEndedException"/>
    /// if the session ends first.
    /// </summary>
    public async Task<T> ExpectAsync<T>(Func<T, bool>? match = null, CancellationToken cancel = default) where T : ServerFrame
    {
        await foreach (var ev in Events.ReadAllAsync(cancel))
        {
            switch (ev)
            {
                case SessionFrameReceived { Frame: T frame } when match is null || match(frame): return frame;
                case SessionFrameReceived { Frame: ErrorFrame error }: throw new ServerErrorException(error.Code, error.Message);
                case SessionConnectFailed f: throw new SessionEndedException(f.Reason);
                case SessionDisconnected d: throw new SessionEndedException(d.Reason);
            }
        }
        throw new SessionEndedException("the session ended");
    }

    /// <summary>Passes each event on to a channel, and completes it after the session's last one.</summary>
    private sealed class ChannelSink : ReceiveActor
    {
        public ChannelSink(ChannelWriter<SessionEvent> writer)
        {
            Receive<SessionEvent>(ev =>
            {
                writer.TryWrite(ev);
                if (ev is SessionConnectFailed or SessionDisconnected)
                {
                    writer.TryComplete();
                    Context.Stop(Self);
                }
            });
        }
    }
}

/// <summary>The session ended (could not connect, or lost the connection) while a frame was awaited.</summary>
public sealed class SessionEndedException(string reason) : Exception(reason);

/// <summary>The server answered with an error frame while a frame was awaited.</summary>
public sealed class ServerErrorException(string code, string message) : Exception($"{message} ({code})")
{
    public string Code { get; } = code;
}

/// <summary>Waits for the end of a session (after <see cref="ChatSession.Quit"/>).</summary>
public static class ChatSessionExtensions
{
    public static async Task WaitEndedAsync(this ChatSession session, CancellationToken cancel = default)
    {
        try
        {
            await foreach (var _ in session.Events.ReadAllAsync(cancel)) { }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
        }
    }
}
