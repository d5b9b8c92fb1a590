using System.Diagnostics;
using System.Net;
using System.Net.Security;
using Akka.Actor;
using Akka.Event;
using Messenger.Protocol;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Messenger.Net;

/// <summary>Ask the acceptor where it listens; the reply is <see cref="TcpBound"/> once bound.</summary>
public sealed record GetBinding { public static readonly GetBinding Instance = new(); }
/// <summary>Where an acceptor listens (the real port, when port 0 was asked for).</summary>
public sealed record TcpBound(IPEndPoint LocalAddress);
/// <summary>Stop taking clients, close every connection gracefully, unbind last; the reply is <see cref="StoppedAccepting"/> once all are gone.</summary>
public sealed record StopServer { public static readonly StopServer Instance = new(); }
public sealed record StoppedAccepting { public static readonly StoppedAccepting Instance = new(); }
/// <summary>Told to every connection handler when the server stops: close gracefully.</summary>
public sealed record ServerStopping { public static readonly ServerStopping Instance = new(); }
/// <summary>A handler tells its acceptor that its connection left the pre-login phase (logged in, or presented a ticket).</summary>
public sealed record PastPreLogin { public static readonly PastPreLogin Instance = new(); }
/// <summary>
/// Told to a handler still logging in whose pre-login slot a newcomer took (see <see cref="ConnectionLimits"/>):
/// it sends <see cref="Error"/> and closes. Once past the pre-login phase a handler ignores it.
/// </summary>
public sealed record DisplacedBeforeLogin
{
    public static readonly DisplacedBeforeLogin Instance = new();
    public ErrorFrame Error { get; } = new(ErrorCodes.ConnectionLimit,
        "too many connections are logging in; yours waited longest and was closed to make room");
}

/// <summary>How one listener accepts: socket, buffers, limits and (optionally) TLS. Read from HOCON by the host.</summary>
public sealed record ListenerSettings(
    int Backlog,
    long InputPauseBytes,
    long OutputPauseBytes,
    ConnectionLimitSettings Limits,
    TimeSpan HandshakeTimeout,
    TimeSpan LimitLogInterval,
    SslServerAuthenticationOptions? Tls,
    bool InlineIo,
    int RefusingAtOnce);

/// <summary>
/// Listens on one TCP endpoint through Kestrel's socket transport and creates one handler actor
/// per admitted connection, from the props factory it was given (chat: <c>ConnectionActor</c>;
/// files: <c>FileUploadActor</c>). Every connection is counted against
/// <see cref="ConnectionLimits"/>: past a limit the peer gets one error line and a close, and the
/// log gets one line per limit per interval. Over TLS the handshake runs here, bounded in time,
/// before the handler exists. Stopping: new peers are told the server is shutting down, the
/// handlers close gracefully, and the socket is unbound only when they are all gone, so no
/// client is reset.
/// </summary>
public sealed class TcpAcceptor : ReceiveActor
{
    private sealed record Bound(IConnectionListener Listener);
    private sealed record Accepted(ConnectionContext Transport);
    private sealed record Handshaken(long Id, ClientConnection Connection);
    private sealed record Handshake(IPAddress Address, CancellationTokenSource Cancel);
    private sealed record HandshakeFailed(long Id, string Why);
    private sealed record Unbound { public static readonly Unbound Instance = new(); }
    private sealed record Admitted(long Id, IPAddress Address);
    private sealed record AcceptFailed(Exception Cause);
    private sealed record HandlerStopped(IActorRef Handler);

    private readonly string _what;
    private readonly IPEndPoint _endpoint;
    private readonly Func<ClientConnection, Props> _handlerProps;
    private readonly ListenerSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ConnectionLimits _limits;
    private readonly Dictionary<IActorRef, Admitted> _handlers = new();
    private readonly Dictionary<long, IActorRef> _loggingIn = new();
    private readonly Dictionary<long, Handshake> _handshakes = new();
    private readonly Dictionary<string, LogThrottle> _limitLogs = new();
    private readonly List<IActorRef> _waitingForBinding = new();
    private readonly List<IActorRef> _waitingForStop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    /// <summary>
    /// Accepted connections not yet admitted, and refused ones not yet closed: the accept loop
    /// takes one before each accept, so refusals cannot pile up descriptors faster than they close.
    /// </summary>
    private readonly SemaphoreSlim _unsettled;
    private IConnectionListener? _listener;
    private TcpBound? _bound;
    private long _nextId;

    public TcpAcceptor(string what, IPEndPoint endpoint, Func<ClientConnection, Props> handlerProps, ListenerSettings settings)
    {
        _what = what;
        _endpoint = endpoint;
        _handlerProps = handlerProps;
        _settings = settings;
        _limits = new ConnectionLimits(settings.Limits);
        _unsettled = new SemaphoreSlim(settings.RefusingAtOnce);
        Binding();
    }

    public static Props Props(string what, IPEndPoint endpoint, Func<ClientConnection, Props> handlerProps, ListenerSettings settings) =>
        Akka.Actor.Props.Create(() => new TcpAcceptor(what, endpoint, handlerProps, settings));

    /// <summary>
    /// A handler that fails is stopped (its connection cut, its slot freed), never restarted: a
    /// fresh instance would start a second reading loop on the same connection.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() => new HandlerStrategy(Self);

    /// <summary>
    /// Akka tells a parent's supervisor strategy when a child has stopped, for whatever reason: the
    /// acceptor learns of its handlers' ends from that, as a <see cref="HandlerStopped"/> to itself, in
    /// order with their other messages. A death-watch on each handler would tell the same thing,
    /// at about 100 bytes per connection (the watch, and a fourth watcher in the handler's set).
    /// </summary>
    private sealed class HandlerStrategy(IActorRef acceptor) : OneForOneStrategy(_ => Directive.Stop)
    {
        public override void HandleChildTerminated(IActorContext actorContext, IActorRef child, IEnumerable<IInternalActorRef> children) =>
            acceptor.Tell(new HandlerStopped(child));
    }

    protected override void PreStart()
    {
        var transport = new SocketTransportFactory(Options.Create(new SocketTransportOptions
        {
            Backlog = _settings.Backlog,
            MaxReadBufferSize = _settings.InputPauseBytes,
            MaxWriteBufferSize = _settings.OutputPauseBytes,
            NoDelay = true,
            WaitForDataBeforeAllocatingBuffer = true, // an idle client holds no receive buffer
            UnsafePreferInlineScheduling = _settings.InlineIo,
        }), NullLoggerFactory.Instance);
        try
        {
            transport.BindAsync(_endpoint).AsTask().PipeTo(Self, success: listener => new Bound(listener));
        }
        catch (Exception e) // the socket transport binds before it returns its task: a port in use throws here
        {
            Self.Tell(new Status.Failure(e));
        }
    }

    // ------------------------------------------------------------------ behaviours

    private void Binding()
    {
        Receive<Bound>(bound =>
        {
            _listener = bound.Listener;
            _bound = new TcpBound((IPEndPoint)bound.Listener.EndPoint);
            _log.Info("{0} listening on {1}{2}; at most {3} connections, {4} per address, {5} logging in",
                _what, _bound.LocalAddress, _settings.Tls is null ? "" : " (TLS)",
                _settings.Limits.Total, _settings.Limits.PerAddress, _settings.Limits.PreLogin);
            foreach (var waiter in _waitingForBinding) waiter.Tell(_bound);
            _waitingForBinding.Clear();
            AcceptLoop(bound.Listener, _unsettled, Self);
            Become(Accepting);
        });
        Receive<Status.Failure>(failed =>
        {
            var error = new Status.Failure(new ListenFailedException(_endpoint.ToString(), _what, failed.Cause));
            _log.Error(error.Cause.Message);
            foreach (var waiter in _waitingForBinding) waiter.Tell(error);
            _waitingForBinding.Clear();
            Become(() => Failed(error));
        });
        Receive<GetBinding>(_ => _waitingForBinding.Add(Sender));
        Receive<StopServer>(_ => { Sender.Tell(StoppedAccepting.Instance); Context.Stop(Self); });
    }

    /// <summary>Could not bind: whoever asks where it listens, now or later, is told why.</summary>
    private void Failed(Status.Failure error)
    {
        Receive<GetBinding>(_ => Sender.Tell(error));
        Receive<StopServer>(_ => { Sender.Tell(StoppedAccepting.Instance); Context.Stop(Self); });
    }

    private void Accepting()
    {
        Receive<Accepted>(OnAccepted);
        Receive<StopServer>(_ =>
        {
            _waitingForStop.Add(Sender);
            _log.Info("{0}: stopping; closing {1} connections", _what, _handlers.Count + _handshakes.Count);
            foreach (var handler in _handlers.Keys) handler.Tell(ServerStopping.Instance);
            Become(Stopping);
            UnbindIfIdle();
        });
        Connections();
    }

    /// <summary>New peers are told the server is going away; the socket stays bound until the last handler is gone.</summary>
    private void Stopping()
    {
        Receive<Accepted>(accepted => Refuse(accepted.Transport, ErrorCodes.ServerShutdown, "the server is shutting down"));
        Receive<StopServer>(_ => _waitingForStop.Add(Sender));
        Receive<Unbound>(_ =>
        {
            _log.Info("{0} stopped listening", _what);
            foreach (var waiter in _waitingForStop) waiter.Tell(StoppedAccepting.Instance);
            _waitingForStop.Clear();
            Context.Stop(Self);
        });
        Connections();
    }

    private void Connections()
    {
        Receive<GetBinding>(_ => Sender.Tell(_bound));
        Receive<AcceptFailed>(failed => _log.Error(failed.Cause, "{0}: accepting failed; trying again in {1} s", _what, AcceptRetry.TotalSeconds));
        Receive<Handshaken>(OnHandshaken);
        Receive<HandshakeFailed>(failed =>
        {
            if (!_handshakes.Remove(failed.Id, out var handshake)) return;
            handshake.Cancel.Dispose();
            _limits.Release(failed.Id, handshake.Address);
            _log.Debug("{0}: TLS handshake with {1} failed: {2}", _what, handshake.Address, failed.Why);
            UnbindIfIdle();
        });
        Receive<PastPreLogin>(_ =>
        {
            if (!_handlers.TryGetValue(Sender, out var admitted)) return;
            _loggingIn.Remove(admitted.Id);
            _limits.LoggedIn(admitted.Id);
        });
        Receive<HandlerStopped>(stopped =>
        {
            if (!_handlers.Remove(stopped.Handler, out var admitted)) return;
            _loggingIn.Remove(admitted.Id);
            _limits.Release(admitted.Id, admitted.Address);
            UnbindIfIdle();
        });
    }

    // ------------------------------------------------------------------ accepting

    /// <summary>How long the accept loop waits after an unexpected failure (the transport retries socket errors itself).</summary>
    private static readonly TimeSpan AcceptRetry = TimeSpan.FromSeconds(1);

    private static void AcceptLoop(IConnectionListener listener, SemaphoreSlim unsettled, IActorRef self) => Task.Run(async () =>
    {
        while (true)
        {
            try
            {
                await unsettled.WaitAsync();
                if (await listener.AcceptAsync() is not { } transport) return;
                self.Tell(new Accepted(transport));
            }
            catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException)
            {
                return;
            }
            catch (Exception e)
            {
                unsettled.Release();
                self.Tell(new AcceptFailed(e));
                await Task.Delay(AcceptRetry);
            }
        }
    });

    private void OnAccepted(Accepted accepted)
    {
        var transport = accepted.Transport;
        var address = (transport.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        long id = _nextId++;
        if (_limits.TryAdmit(id, address, out long? displaced) is { } refusal)
        {
            LogLimit(refusal.Limit, "refused", address);
            Refuse(transport, ErrorCodes.ConnectionLimit, refusal.Message);
            return;
        }
        _unsettled.Release();
        if (displaced is { } victim) Displace(victim);
        if (_settings.Tls is null)
        {
            Start(ClientConnection.Plain(transport), id, address);
            return;
        }
        var self = Self;
        var timeout = new CancellationTokenSource(_settings.HandshakeTimeout);
        _handshakes[id] = new Handshake(address, timeout);
        ClientConnection.AcceptTlsAsync(transport, _settings.Tls, timeout.Token).ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully) self.Tell(new Handshaken(id, t.Result));
            else
            {
                _ = transport.DisposeAsync();
                self.Tell(new HandshakeFailed(id, t.Exception?.GetBaseException().Message ?? "timed out"));
            }
        }, TaskScheduler.Default);
    }

    private void OnHandshaken(Handshaken handshaken)
    {
        if (!_handshakes.Remove(handshaken.Id, out var handshake)) return;
        handshake.Cancel.Dispose();
        if (_waitingForStop.Count > 0 || handshake.Cancel.IsCancellationRequested)
        {
            _limits.Release(handshaken.Id, handshake.Address);
            _ = handshaken.Connection.CloseAsync(_settings.HandshakeTimeout);
            UnbindIfIdle();
            return;
        }
        Start(handshaken.Connection, handshaken.Id, handshake.Address);
    }

    private void Start(ClientConnection connection, long id, IPAddress address)
    {
        var handler = Context.ActorOf(_handlerProps(connection));
        _handlers[handler] = new Admitted(id, address);
        _loggingIn[id] = handler;
    }

    /// <summary>A newcomer took the pre-login slot of connection <paramref name="id"/>: close it (or cut its TLS handshake short).</summary>
    private void Displace(long id)
    {
        if (_loggingIn.Remove(id, out var handler))
        {
            handler.Tell(DisplacedBeforeLogin.Instance);
            LogLimit("max-pre-login", "displaced the oldest connection logging in from", _handlers[handler].Address);
        }
        else if (_handshakes.TryGetValue(id, out var handshake))
        {
            handshake.Cancel.Cancel();
            LogLimit("max-pre-login", "cut the oldest TLS handshake from", handshake.Address);
        }
    }

    /// <summary>One error line where the protocol allows it (not inside TLS), then a graceful close; then the accept loop may go on.</summary>
    private void Refuse(ConnectionContext transport, string code, string message)
    {
        _ = RefuseAsync(transport, _settings.Tls is null ? new ErrorFrame(code, message).Line : null, _unsettled);

        static async Task RefuseAsync(ConnectionContext transport, byte[]? line, SemaphoreSlim unsettled)
        {
            try
            {
                if (line is not null) await transport.Transport.Output.WriteAsync(line);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException) { }
            try { await transport.DisposeAsync(); }
            finally { unsettled.Release(); }
        }
    }

    /// <summary>One log line per limit and action per interval, with the count of those held back.</summary>
    private void LogLimit(string limit, string action, IPAddress address)
    {
        string key = limit + " " + action;
        if (!_limitLogs.TryGetValue(key, out var throttle))
            _limitLogs[key] = throttle = new LogThrottle(_settings.LimitLogInterval);
        if (throttle.ShouldLog(_clock.Elapsed.Ticks, out long held))
            _log.Warning("{0}: {1} {2} ({3}; {4} more since the last such line)", _what, action, address, limit, held);
    }

    private void UnbindIfIdle()
    {
        if (_waitingForStop.Count == 0 || _handlers.Count > 0 || _handshakes.Count > 0 || _listener is null) return;
        var listener = _listener;
        _listener = null;
        async Task Unbind()
        {
            await listener.UnbindAsync();
            await listener.DisposeAsync();
        }
        Unbind().PipeTo(Self, success: () => Unbound.Instance, failure: _ => Unbound.Instance);
    }

    protected override void PostStop()
    {
        if (_listener is { } listener) _ = listener.DisposeAsync().AsTask();
    }
}
