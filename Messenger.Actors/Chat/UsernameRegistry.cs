using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Messenger.Cluster;
using Messenger.Protocol;
using Messenger.Rooms;

namespace Messenger.Chat;

// ---- messages (Sender is always the ConnectionActor speaking) ----

/// <summary>
/// Ask to log in under <paramref name="Name"/> (already validated by the codec); a registered name
/// needs its <paramref name="Password"/>.
/// </summary>
public sealed record ClaimName(string Name, Password? Password = null);
/// <summary>Reply to <see cref="ClaimName"/>: logged in, with the sorted list of everyone online.</summary>
public sealed record NameClaimed(WelcomeFrame Welcome) : ICrossNodeMessage;
/// <summary>Reply to <see cref="ClaimName"/>: refused (taken, registered, wrong password, or this connection already has a name).</summary>
public sealed record NameRefused(ErrorFrame Error);
/// <summary>Say <paramref name="Text"/> to one user, looked up ignoring case.</summary>
public sealed record SendPrivate(string To, string Text);
/// <summary>Ask for the online list; the reply is a <see cref="UsersFrame"/>.</summary>
public sealed record ListUsers { public static readonly ListUsers Instance = new(); }
/// <summary>
/// The connection is leaving for <paramref name="Reason"/> (one of <see cref="LeaveReasons"/>), and
/// leaves the lobby and its other <paramref name="Rooms"/> with it. The reply, <see cref="LeftChat"/>,
/// comes after every lobby message accepted before.
/// </summary>
public sealed record LeaveChat(string Reason, IReadOnlyCollection<string>? Rooms = null);
public sealed record LeftChat : ICrossNodeMessage { public static readonly LeftChat Instance = new(); }

/// <summary>
/// A node's door to the chat for its connections: who is online here, logins, private messages.
/// Every logged-in <c>ConnectionActor</c> of this node is registered here and death-watched, so a
/// connection that dies for any reason frees its name. Names are unique across the cluster: a
/// login asks the name's <see cref="NameClaim"/> (a sharded entity, on whichever node), which asks
/// the name's account (a guest name, or a registered one with its password); the registry watches
/// each of its users' claims and, if one stops (its node left or died), claims the name again.
/// A private message goes to the recipient's claim, which hands it to the recipient wherever it
/// is, or to the account when the name is free.
/// Room chat does not pass through here: a login puts the connection in the lobby
/// (<see cref="RoomDirectory"/>), which tells it its welcome and from then on every lobby message
/// and presence change, and the connection talks to its rooms directly.
/// </summary>
public sealed class UsernameRegistry : ReceiveActor
{
    private sealed record Member(string Name, IActorRef Connection);

    private readonly IActorRef _rooms;
    private readonly IActorRef _claims;
    private readonly bool _passwordsInClear;
    private readonly HashSet<IActorRef> _claiming = new(); // connections whose claim is being decided
    private DateTime _lastClearTextWarning = DateTime.MinValue;
    private readonly Dictionary<string, Member> _byName = new(Usernames.Comparer);
    private readonly Dictionary<IActorRef, Member> _byConnection = new();
    private readonly Dictionary<IActorRef, Member> _byClaim = new(); // each user's claim entity
    // Persistent (immutable) sorted set: a login adds in O(log n) and a welcome or `who` shares it
    // without copying; the encoded `users` frame is kept until the set changes.
    private ImmutableSortedSet<string> _online = ImmutableSortedSet.Create<string>(Usernames.Comparer);
    private UsersFrame? _usersFrame;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Func<long> _clock;

    public UsernameRegistry(IActorRef rooms, IActorRef claims, bool passwordsInClear, Func<long>? unixMillisClock = null)
    {
        _rooms = rooms;
        _claims = claims;
        _passwordsInClear = passwordsInClear;
        _clock = unixMillisClock ?? (() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Receive<ClaimName>(HandleClaim);
        Receive<ClaimGranted>(OnClaimGranted);
        Receive<ClaimRefused>(refused =>
        {
            if (!_claiming.Remove(refused.Connection))
            {
                if (_byConnection.ContainsKey(refused.Connection))
                    _log.Warning("{0} lost its name when its claim moved; it stays connected", refused.Connection);
                return;
            }
            Context.Unwatch(refused.Connection);
            refused.Connection.Tell(new NameRefused(refused.Error));
        });
        Receive<SendPrivate>(HandlePrivate);
        Receive<ListUsers>(_ => Sender.Tell(_usersFrame ??= new UsersFrame(_online)));
        Receive<LeaveChat>(m => Remove(Sender, m.Reason, m.Rooms, LeftChat.Instance));
        Receive<Terminated>(t =>
        {
            if (_byClaim.Remove(t.ActorRef, out var member))
            {
                _claims.Tell(new ToClaim(member.Name, new Reclaim(member.Name, member.Connection)));
                return;
            }
            _claiming.Remove(t.ActorRef);
            Remove(t.ActorRef, LeaveReasons.Disconnected, null, null);
        });
    }

    /// <param name="claims">The name-claim region (<see cref="NameClaim"/>).</param>
    /// <param name="passwordsInClear">Clients reach the server on a non-loopback address without TLS: warn when a password arrives.</param>
    public static Props Props(IActorRef rooms, IActorRef claims, bool passwordsInClear = false, Func<long>? unixMillisClock = null) =>
        Akka.Actor.Props.Create(() => new UsernameRegistry(rooms, claims, passwordsInClear, unixMillisClock));

    private void HandleClaim(ClaimName claim)
    {
        if (_byConnection.ContainsKey(Sender) || _claiming.Contains(Sender))
        {
            Sender.Tell(new NameRefused(new ErrorFrame(ErrorCodes.AlreadyLoggedIn, "this connection is already logged in")));
            return;
        }
        if (claim.Password is not null && _passwordsInClear && DateTime.UtcNow - _lastClearTextWarning > TimeSpan.FromMinutes(1))
        {
            _lastClearTextWarning = DateTime.UtcNow;
            _log.Warning("a password arrived over a connection without TLS on a non-loopback address: anyone on the path can read it (warned at most once a minute)");
        }
        _claiming.Add(Sender);
        Context.Watch(Sender);
        _claims.Tell(new ToClaim(claim.Name, new Claim(claim.Name, claim.Password, Sender)));
    }

    private void OnClaimGranted(ClaimGranted granted)
    {
        var connection = granted.Connection;
        if (_byConnection.TryGetValue(connection, out var reclaimed))
        {
            // A reclaim after the claim moved: watch its new incarnation.
            _byClaim[Sender] = reclaimed;
            Context.Watch(Sender);
            return;
        }
        if (!_claiming.Remove(connection)) return; // the connection died meanwhile; its claim sees that too
        var name = granted.User; // a registered name as registered
        var member = new Member(name, connection);
        _byName.Add(name, member);
        _byConnection.Add(connection, member);
        _byClaim[Sender] = member;
        Context.Watch(Sender);
        _online = _online.Add(name);
        _usersFrame = null;
        // The lobby hands the welcome (and the private messages kept while the user was away) over
        // before any lobby traffic, so the client sees them first.
        var welcome = new NameClaimed(new WelcomeFrame(name, _online));
        _rooms.Tell(new ToRoom(RoomNames.Lobby, new JoinRoom(name, [welcome, .. granted.Offline])), connection);
        _log.Info("joined: {0} ({1} online here)", name, _byName.Count);
    }

    private void HandlePrivate(SendPrivate pm)
    {
        if (!_byConnection.TryGetValue(Sender, out var from)) return;
        _claims.Tell(new ToClaim(pm.To, new DeliverPrivate(from.Name, pm.To, pm.Text, _clock())), Sender);
    }

    private void Remove(IActorRef connection, string reason, IReadOnlyCollection<string>? rooms, object? confirmation)
    {
        if (!_byConnection.Remove(connection, out var member))
        {
            if (confirmation is not null) connection.Tell(confirmation);
            return;
        }
        _byName.Remove(member.Name);
        _online = _online.Remove(member.Name);
        _usersFrame = null;
        Context.Unwatch(connection);
        foreach (var (claim, holder) in _byClaim.Where(p => p.Value == member).ToArray())
        {
            Context.Unwatch(claim);
            _byClaim.Remove(claim);
        }
        _claims.Tell(new ToClaim(member.Name, new Release(connection)));
        // The lobby learns who left, and why, only from here (the registry watches every
        // connection); other rooms also watch their members, in case a connection dies unannounced.
        foreach (var room in rooms ?? []) _rooms.Tell(new ToRoom(room, new PartRoom(member.Name, reason)), connection);
        _rooms.Tell(new ToRoom(RoomNames.Lobby, new PartRoom(member.Name, reason, confirmation)), connection);
        _log.Info("left: {0} ({1}; {2} online here)", member.Name, reason, _byName.Count);
    }
}
