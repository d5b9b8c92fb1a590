using System.Net;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Configuration;
using Messenger.Protocol;

namespace Messenger.Client;

// ------------------------------------------------------------------ events (to the subscriber)

/// <summary>What a <see cref="ChatSessionActor"/> tells its subscriber.</summary>
public abstract record SessionEvent;

/// <summary>
/// The TCP connection is up and the hello has been sent. <paramref name="Remote"/>: the server's
/// address it reached, where a reliable-UDP download of a ticket asked for on it goes.
/// </summary>
public sealed record SessionConnected(IPEndPoint Remote) : SessionEvent;

/// <summary>
/// The connection could not be made; the session has stopped. <paramref name="Permanent"/>: trying
/// again cannot help (the server's TLS certificate was refused), so a client should not retry by itself.
/// </summary>
public sealed record SessionConnectFailed(string Reason, bool Permanent = false) : SessionEvent;

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
        var c = config.GetConfig("messenger.client") ?? throw new ConfigurationException("missing messenger.client (hocon/client.hocon)");
        var settings = new ChatSessionSettings(c.GetTimeSpan("ping-interval"), c.GetTimeSpan("connect-timeout"), c.GetTimeSpan("server-silence-timeout"));
        if (settings.PingInterval <= TimeSpan.Zero || settings.ConnectTimeout <= TimeSpan.Zero || settings.ServerSilenceTimeout <= settings.PingInterval)
            throw new ConfigurationException("messenger.client: ping-interval and connect-timeout must be positive, server-silence-timeout longer than ping-interval");
        return settings;
    }
}

/// <summary>
/// The client's side of the control channel: owns one TCP connection (plain or TLS, see
/// <see cref="ClientTransport"/>), sends the hello and every <see cref="ClientCommand"/> it is
/// told, frames and parses what the server sends, pings so the server does not drop it, and tells
/// its subscriber <see cref="SessionEvent"/>s. One session per connection: after
/// <see cref="SessionConnectFailed"/> or <see cref="SessionDisconnected"/> it has stopped, and a
/// reconnect is a new session.
/// </summary>
public sealed class ChatSessionActor : ReceiveActor
{
    /// <summary>The code of the <see cref="ErrorFrame"/> a session reports for a line from the server it cannot read.</summary>
    public const string UnreadableFrameCode = "client_parse";

    /// <summary>
    /// Whether an error answering a <c>hello</c> says the peer is no chat server: an unreadable line,
    /// or the file channel's refusal of a line that is not a ticket (a chat server never answers our hello so).
    /// </summary>
    public static bool IsNotAChatServer(string code) => code is UnreadableFrameCode or ErrorCodes.BadRequest or ErrorCodes.BadTicket;

    /// <summary>What a user is told when <paramref name="server"/> answered the hello with <paramref name="answer"/>, an error <see cref="IsNotAChatServer"/> names.</summary>
    public static string NotAChatServer(string server, string answer) =>
        $"{server} is not a Messenger chat server (it answered the login with \"{answer}\"): is it the file port? the chat port is the one the server logs as \"chat tcp\" (7400 by default)";

    private sealed record Opened(ClientConnection Connection);
    private sealed record OpenFailed(string Reason, bool Permanent);
    private sealed record Received(byte[] Data);
    private sealed record ReadEnded(string Reason);

    private readonly string _host;
    private readonly int _port;
    private readonly string? _user;
    private readonly Password? _password;
    private readonly IActorRef _subscriber;
    private readonly ChatSessionSettings _settings;
    private readonly ClientTls? _tls;
    private readonly LineFramer _framer = new(ProtocolLimits.MaxLineBytes);
    private readonly Queue<ClientCommand> _early = new();
    private readonly Channel<byte[]> _writes = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private Stream? _stream;
    private DateTime _lastHeard;
    private bool _heardAnything;
    private bool _finished;
    // A .NET timer, not an Akka one: Akka's scheduler, once anything is scheduled on it, wakes
    // every 10 ms for the rest of the process, which was most of an idle client's CPU.
    private Timer? _pinger;

    public ChatSessionActor(string host, int port, string? user, IActorRef subscriber, ChatSessionSettings settings, ClientTls? tls, Password? password)
    {
        _host = host;
        _port = port;
        _user = user;
        _password = password;
        _subscriber = subscriber;
        _settings = settings;
        _tls = tls;
        Connecting();
    }

    /// <summary>
    /// A session that connects to <paramref name="host"/>:<paramref name="port"/> and, when <paramref name="user"/> is given, logs in
    /// (with <paramref name="password"/> for a registered name).
    /// </summary>
    public static Props Props(string host, int port, string? user, IActorRef subscriber, ChatSessionSettings settings, ClientTls? tls = null,
        Password? password = null) =>
        Akka.Actor.Props.Create(() => new ChatSessionActor(host, port, user, subscriber, settings, tls, password));

    private string Server => $"{_host}:{_port}";

    /// <summary>
    /// Connects, until the connect timeout or the session's stop (every way out of <see cref="Connecting"/>
    /// cancels <c>_stop</c>). A connection that completes anyway after the session stopped is
    /// closed, not left to a finalizer: the stream is disposed when <c>_stop</c> is cancelled,
    /// at once if it already is.
    /// </summary>
    protected override void PreStart()
    {
        var self = Self;
        var stop = _stop.Token;
        var connect = CancellationTokenSource.CreateLinkedTokenSource(stop);
        connect.CancelAfter(_settings.ConnectTimeout);
        ClientTransport.ConnectAsync(_host, _port, _tls, 64 * 1024, connect.Token).ContinueWith(t =>
        {
            connect.Dispose();
            if (t.IsCompletedSuccessfully)
            {
                var connection = t.Result;
                stop.Register(connection.Stream.Dispose);
                if (!stop.IsCancellationRequested) self.Tell(new Opened(connection));
                return;
            }
            if (stop.IsCancellationRequested) return; // stopped: no one is waiting for the outcome
            var error = t.Exception?.GetBaseException();
            self.Tell(t.IsCanceled || error is OperationCanceledException
                ? new OpenFailed("timed out", Permanent: false)
                : new OpenFailed(DescribeConnectFailure(error!), error is CertificateRefusedException));
        }, TaskScheduler.Default);
    }

    private void Connecting()
    {
        Receive<Opened>(opened =>
        {
            _stream = opened.Connection.Stream;
            StartIo(_stream, Self);
            _lastHeard = DateTime.UtcNow;
            var self = Self;
            _pinger = new Timer(_ => self.Tell(SessionPing.Instance), null, _settings.PingInterval, _settings.PingInterval);
            _subscriber.Tell(new SessionConnected(opened.Connection.Remote));
            if (_user is not null) Write(new HelloCommand(_user, _password));
            while (_early.Count > 0) Write(_early.Dequeue());
            Become(Connected);
        });
        Receive<OpenFailed>(failed => Finish(new SessionConnectFailed($"cannot connect to {Server}: {failed.Reason}", failed.Permanent)));
        Receive<ClientCommand>(command => _early.Enqueue(command));
        Receive<SessionQuit>(_ => Finish(new SessionDisconnected("quit before connecting")));
    }

    private void Connected()
    {
        Receive<Received>(received =>
        {
            _lastHeard = DateTime.UtcNow;
            _heardAnything = true;
            bool ok = _framer.Feed(received.Data, line =>
            {
                var parsed = ChatCodec.ParseFrame(line);
                _subscriber.Tell(parsed.Value is { } frame
                    ? new SessionFrameReceived(frame)
                    : new SessionFrameReceived(new ErrorFrame(UnreadableFrameCode, parsed.Error!.Message)));
            });
            if (!ok) Finish(new SessionDisconnected("the server sent a line longer than the protocol allows"));
        });
        Receive<ClientCommand>(Write);
        Receive<SessionPing>(_ =>
        {
            if (DateTime.UtcNow - _lastHeard > _settings.ServerSilenceTimeout)
            {
                Finish(new SessionDisconnected($"nothing heard from the server for {_settings.ServerSilenceTimeout.TotalSeconds:0} s"));
                return;
            }
            Write(PingCommand.Instance);
        });
        Receive<SessionQuit>(_ =>
        {
            Write(ByeCommand.Instance);
            _writes.Writer.TryComplete();
            Finish(new SessionDisconnected("you quit"), closeNow: false);
        });
        Receive<ReadEnded>(ended => Finish(new SessionDisconnected(!_heardAnything && _tls is null ? ClientTransport.ClosedBeforeAnswering : ended.Reason)));
    }

    /// <summary>One loop reads the stream and tells the actor; another writes what the actor queued.</summary>
    private void StartIo(Stream stream, IActorRef self)
    {
        var stop = _stop.Token;
        var writes = _writes.Reader;
        _ = Task.Run(async () =>
        {
            var buffer = new byte[16 * 1024];
            string reason = "the server closed the connection";
            try
            {
                while (true)
                {
                    int n = await stream.ReadAsync(buffer, stop);
                    if (n == 0) break;
                    self.Tell(new Received(buffer.AsSpan(0, n).ToArray()));
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
            {
                reason = e is IOException { InnerException: System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionReset } }
                    ? "the connection was reset" : $"the connection broke: {e.GetBaseException().Message}";
            }
            self.Tell(new ReadEnded(reason));
        });
        _ = Task.Run(async () =>
        {
            try
            {
                await foreach (var line in writes.ReadAllAsync(stop)) await stream.WriteAsync(line, stop);
                await stream.FlushAsync(stop);
                if (stream is System.Net.Security.SslStream ssl) await ssl.ShutdownAsync();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
            {
            }
            finally
            {
                stream.Dispose();
            }
        });
    }

    private void Write(ClientCommand command) => _writes.Writer.TryWrite(ChatCodec.EncodeCommand(command));

    private void Finish(SessionEvent ev, bool closeNow = true)
    {
        if (!_finished)
        {
            _finished = true;
            _subscriber.Tell(ev);
        }
        _writes.Writer.TryComplete();
        if (closeNow) _stop.Cancel();
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        _pinger?.Dispose();
        _writes.Writer.TryComplete();
        if (!_finished)
        {
            _finished = true;
            _stop.Cancel();
            _subscriber.Tell(_stream is null
                ? new SessionConnectFailed("the session stopped before connecting")
                : new SessionDisconnected("the session stopped"));
        }
    }

    /// <summary>Why a connection to the server could not be made, for a person.</summary>
    internal static string DescribeConnectFailure(Exception e) => e switch
    {
        System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused } =>
            "connection refused (is the server running?)",
        System.Net.Sockets.SocketException s => s.Message,
        System.Security.Authentication.AuthenticationException a => a.Message,
        _ => e.Message,
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

    public static ChatSession Start(ActorSystem system, string host, int port, string? user, ClientTls? tls = null, Password? password = null)
    {
        var channel = Channel.CreateUnbounded<SessionEvent>(new UnboundedChannelOptions { SingleReader = true });
        var sink = system.ActorOf(Akka.Actor.Props.Create(() => new ChannelSink(channel.Writer)));
        var session = system.ActorOf(ChatSessionActor.Props(host, port, user, sink, ChatSessionSettings.FromConfig(system.Settings.Config), tls, password));
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
