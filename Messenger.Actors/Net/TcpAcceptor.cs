using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;

namespace Messenger.Net;

/// <summary>Ask the acceptor where it listens; the reply is <see cref="TcpBound"/> once bound.</summary>
public sealed record GetBinding { public static readonly GetBinding Instance = new(); }
/// <summary>Where an acceptor listens (the real port, when port 0 was asked for).</summary>
public sealed record TcpBound(IPEndPoint LocalAddress);
/// <summary>Stop accepting, close every connection gracefully; the reply is <see cref="StoppedAccepting"/> once all are gone.</summary>
public sealed record StopServer { public static readonly StopServer Instance = new(); }
public sealed record StoppedAccepting { public static readonly StoppedAccepting Instance = new(); }
/// <summary>Told to every connection handler when the server stops: close gracefully.</summary>
public sealed record ServerStopping { public static readonly ServerStopping Instance = new(); }

/// <summary>
/// Listens on one TCP endpoint through Akka.IO and creates one handler actor per accepted
/// connection, from the props factory it was given (chat: <c>ConnectionActor</c>; files:
/// <c>FileUploadActor</c>). Stopping it unbinds and closes the handlers gracefully.
/// </summary>
public sealed class TcpAcceptor : ReceiveActor
{
    private readonly string _what;
    private readonly Func<IActorRef, EndPoint, Props> _handlerProps;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IActorRef> _waitingForBinding = new();
    private readonly List<IActorRef> _waitingForStop = new();
    private IActorRef? _listener;
    private TcpBound? _bound;
    private bool _stopping;

    public TcpAcceptor(string what, IPEndPoint endpoint, Func<IActorRef, EndPoint, Props> handlerProps, TcpSettings? settings = null)
    {
        _what = what;
        _handlerProps = handlerProps;
        var bind = new Tcp.Bind(Self, endpoint, backlog: 1024, options: [], pullMode: false);
        if (settings is not null) bind.TcpSettings = settings; // this listener's own buffer sizes
        Context.System.Tcp().Tell(bind);

        Receive<Tcp.Bound>(bound =>
        {
            _listener = Sender;
            _bound = new TcpBound((IPEndPoint)bound.LocalAddress);
            _log.Info("{0} listening on {1}", _what, bound.LocalAddress);
            foreach (var waiter in _waitingForBinding) waiter.Tell(_bound);
            _waitingForBinding.Clear();
        });
        Receive<Tcp.CommandFailed>(failed => failed.Cmd is Tcp.Bind, failed =>
        {
            var error = new Status.Failure(new InvalidOperationException($"{_what}: cannot listen on {endpoint}: {failed.CauseString}"));
            _log.Error("{0}: cannot listen on {1}: {2}", _what, endpoint, failed.CauseString);
            foreach (var waiter in _waitingForBinding) waiter.Tell(error);
            Context.Stop(Self);
        });
        Receive<GetBinding>(_ =>
        {
            if (_bound is not null) Sender.Tell(_bound);
            else _waitingForBinding.Add(Sender);
        });
        Receive<Tcp.Connected>(connected =>
        {
            if (_stopping) { Sender.Tell(Tcp.Close.Instance); return; } // raced our unbind
            var handler = Context.ActorOf(_handlerProps(Sender, connected.RemoteAddress));
            Context.Watch(handler);
            Sender.Tell(new Tcp.Register(handler));
        });
        Receive<StopServer>(_ =>
        {
            _stopping = true;
            _waitingForStop.Add(Sender);
            _listener?.Tell(Tcp.Unbind.Instance);
            foreach (var child in Context.GetChildren()) child.Tell(ServerStopping.Instance);
            ReplyIfStopped();
        });
        Receive<Tcp.Unbound>(_ => _log.Info("{0} stopped listening", _what));
        Receive<Terminated>(_ => ReplyIfStopped());
    }

    public static Props Props(string what, IPEndPoint endpoint, Func<IActorRef, EndPoint, Props> handlerProps, TcpSettings? settings = null) =>
        Akka.Actor.Props.Create(() => new TcpAcceptor(what, endpoint, handlerProps, settings));

    private void ReplyIfStopped()
    {
        if (_waitingForStop.Count == 0 || Context.GetChildren().Any()) return;
        foreach (var waiter in _waitingForStop) waiter.Tell(StoppedAccepting.Instance);
        _waitingForStop.Clear();
    }
}
