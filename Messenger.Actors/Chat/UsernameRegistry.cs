using Akka.Actor;
using Akka.Event;
using Messenger.Protocol;

namespace Messenger.Chat;

// ---- messages (Sender is always the ConnectionActor speaking) ----

/// <summary>Ask to log in under <paramref name="Name"/> (already validated by the codec).</summary>
public sealed record ClaimName(string Name);
/// <summary>Reply to <see cref="ClaimName"/>: logged in, with the sorted list of everyone online.</summary>
public sealed record NameClaimed(WelcomeFrame Welcome);
/// <summary>Reply to <see cref="ClaimName"/>: refused (taken, or this connection already has a name).</summary>
public sealed record NameRefused(ErrorFrame Error);
/// <summary>Say <paramref name="Text"/> to everyone online.</summary>
public sealed record Broadcast(string Text);
/// <summary>Say <paramref name="Text"/> to one user, looked up ignoring case.</summary>
public sealed record SendPrivate(string To, string Text);
/// <summary>Ask for the online list; the reply is a <see cref="UsersFrame"/>.</summary>
public sealed record ListUsers { public static readonly ListUsers Instance = new(); }
/// <summary>
/// The connection is leaving for <paramref name="Reason"/> (one of <see cref="LeaveReasons"/>).
/// The reply, <see cref="LeftChat"/>, comes after every frame the registry sent it before.
/// </summary>
public sealed record LeaveChat(string Reason);
public sealed record LeftChat { public static readonly LeftChat Instance = new(); }

/// <summary>
/// Owns who is online and routes chat between them. Every logged-in <c>ConnectionActor</c> is
/// registered here and death-watched, so a connection that dies for any reason frees its name.
/// Broadcast and private messages pass through this one actor, which is what gives the
/// ordering guarantees: a message is sent to exactly the users online when it is accepted, and
/// one sender's messages reach every recipient in order. Each outgoing frame is a shared,
/// immutable <see cref="ServerFrame"/> encoded once. Connections only ever hold this actor's
/// <see cref="IActorRef"/>, so the registry could become a cluster singleton or sharded
/// pub-sub without touching them.
/// </summary>
public sealed class UsernameRegistry : ReceiveActor
{
    private sealed record Member(string Name, IActorRef Connection);

    private readonly Dictionary<string, Member> _byName = new(Usernames.Comparer);
    private readonly Dictionary<IActorRef, Member> _byConnection = new();
    private readonly SortedSet<string> _sortedNames = new(Usernames.Comparer); // kept sorted: no sort per login
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Func<long> _clock;

    public UsernameRegistry(Func<long>? unixMillisClock = null)
    {
        _clock = unixMillisClock ?? (() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Receive<ClaimName>(HandleClaim);
        Receive<Broadcast>(HandleBroadcast);
        Receive<SendPrivate>(HandlePrivate);
        Receive<ListUsers>(_ => Sender.Tell(new UsersFrame(SortedNames())));
        Receive<LeaveChat>(m =>
        {
            Remove(Sender, m.Reason);
            Sender.Tell(LeftChat.Instance);
        });
        Receive<Terminated>(t => Remove(t.ActorRef, LeaveReasons.Disconnected));
    }

    public static Props Props(Func<long>? unixMillisClock = null) =>
        Akka.Actor.Props.Create(() => new UsernameRegistry(unixMillisClock));

    private void HandleClaim(ClaimName claim)
    {
        if (_byConnection.ContainsKey(Sender))
        {
            Sender.Tell(new NameRefused(new ErrorFrame(ErrorCodes.AlreadyLoggedIn, "this connection is already logged in")));
            return;
        }
        if (_byName.TryGetValue(claim.Name, out var holder))
        {
            Sender.Tell(new NameRefused(new ErrorFrame(ErrorCodes.UsernameTaken,
                $"the name \"{holder.Name}\" is taken; choose another")));
            return;
        }
        var joined = new JoinedFrame(claim.Name);
        foreach (var other in _byConnection.Keys) other.Tell(joined);

        var member = new Member(claim.Name, Sender);
        _byName.Add(claim.Name, member);
        _sortedNames.Add(claim.Name);
        _byConnection.Add(Sender, member);
        Context.Watch(Sender);
        Sender.Tell(new NameClaimed(new WelcomeFrame(claim.Name, SortedNames())));
        _log.Info("joined: {0} ({1} online)", claim.Name, _byName.Count);
    }

    private void HandleBroadcast(Broadcast broadcast)
    {
        if (!_byConnection.TryGetValue(Sender, out var from)) return; // left meanwhile
        var frame = new MessageFrame(from.Name, broadcast.Text, _clock());
        foreach (var connection in _byConnection.Keys) connection.Tell(frame);
    }

    private void HandlePrivate(SendPrivate pm)
    {
        if (!_byConnection.TryGetValue(Sender, out var from)) return;
        if (!_byName.TryGetValue(pm.To, out var to))
        {
            Sender.Tell(new ErrorFrame(ErrorCodes.NoSuchUser, $"no user named \"{pm.To}\" is online"));
            return;
        }
        var frame = new PrivateMessageFrame(from.Name, to.Name, pm.Text, _clock());
        to.Connection.Tell(frame);
        if (!to.Connection.Equals(Sender)) Sender.Tell(frame);
    }

    private void Remove(IActorRef connection, string reason)
    {
        if (!_byConnection.Remove(connection, out var member)) return;
        _byName.Remove(member.Name);
        _sortedNames.Remove(member.Name);
        Context.Unwatch(connection);
        var left = new LeftFrame(member.Name, reason);
        foreach (var other in _byConnection.Keys) other.Tell(left);
        _log.Info("left: {0} ({1}; {2} online)", member.Name, reason, _byName.Count);
    }

    private string[] SortedNames() => [.. _sortedNames];
}
