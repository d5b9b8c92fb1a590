using System.Diagnostics;
using System.Net;
using Akka.Actor;
using Akka.Event;
using Messenger.Accounts;
using Messenger.Protocol;
using Messenger.Rooms;

namespace Messenger.Chat;

// ---- messages (Sender is always the ConnectionActor speaking) ----

/// <summary>
/// Ask to log in under <paramref name="Name"/> (already validated by the codec) from
/// <paramref name="Address"/>; a registered name needs its <paramref name="Password"/>.
/// </summary>
public sealed record ClaimName(string Name, IPAddress Address, Password? Password = null);
/// <summary>Reply to <see cref="ClaimName"/> (from the <see cref="PresenceActor"/>): logged in, with the sorted list of everyone online.</summary>
public sealed record NameClaimed(WelcomeFrame Welcome);
/// <summary>Reply to <see cref="ClaimName"/>: refused (taken, registered, wrong password, too many logins from the address, or this connection already has a name).</summary>
public sealed record NameRefused(ErrorFrame Error);
/// <summary>Say <paramref name="Text"/> to one user, looked up ignoring case.</summary>
public sealed record SendPrivate(string To, string Text);
/// <summary>
/// The connection is leaving for <paramref name="Reason"/> (one of <see cref="LeaveReasons"/>), and
/// leaves the lobby and its other <paramref name="Rooms"/> with it. The reply, <see cref="LeftChat"/>,
/// comes after every lobby message accepted before.
/// </summary>
public sealed record LeaveChat(string Reason, IReadOnlyCollection<string>? Rooms = null);
public sealed record LeftChat { public static readonly LeftChat Instance = new(); }

/// <summary>
/// Owns the names in use and routes private messages. Every logged-in <c>ConnectionActor</c> is
/// registered here and death-watched, so a connection that dies for any reason frees its name.
/// A name is held while its account (<see cref="AccountDirectory"/>) checks the login (a guest
/// name, or a registered one with its password); a private message to someone offline goes to
/// their account, which keeps it if the name is registered. Logins are limited per remote
/// address (<see cref="LoginRateSettings"/>) before anything else is done for them.
/// Presence is not here: an accepted login, and every leave, is handed to the
/// <see cref="PresenceActor"/>, which welcomes the user, announces it, keeps the online list for
/// <c>who</c> (forwarded there) and puts the connection in (and out of) the lobby, so a burst of
/// logins never queues in front of a private message. Room chat does not pass through here: the
/// connection talks to its rooms directly. Connections only ever hold this actor's
/// <see cref="IActorRef"/>, so the registry could become a cluster singleton or sharded per name
/// without touching them.
/// </summary>
public sealed class UsernameRegistry : ReceiveActor
{
    private sealed record Member(string Name, IActorRef Connection);

    private readonly IActorRef _rooms;
    private readonly IActorRef _accounts;
    private readonly IActorRef _presence;
    private readonly bool _passwordsInClear;
    private readonly KeyedThrottle<IPAddress> _loginsPerAddress;
    private readonly LoginRateSettings _loginRate;
    private readonly Stopwatch _uptime = Stopwatch.StartNew();
    private readonly Dictionary<string, IActorRef> _claiming = new(Usernames.Comparer); // the account is checking
    private readonly Dictionary<IActorRef, string> _claimingByConnection = new();
    private DateTime _lastClearTextWarning = DateTime.MinValue;
    private readonly Dictionary<string, Member> _byName = new(Usernames.Comparer);
    private readonly Dictionary<IActorRef, Member> _byConnection = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Func<long> _clock;

    public UsernameRegistry(IActorRef rooms, IActorRef accounts, IActorRef presence, LoginRateSettings loginRate,
        bool passwordsInClear, Func<long>? unixMillisClock = null)
    {
        _rooms = rooms;
        _accounts = accounts;
        _presence = presence;
        _loginRate = loginRate;
        _loginsPerAddress = new KeyedThrottle<IPAddress>(loginRate.PerSecond, loginRate.Burst);
        _passwordsInClear = passwordsInClear;
        _clock = unixMillisClock ?? (() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Receive<ClaimName>(HandleClaim);
        Receive<LoginAccepted>(OnLoginAccepted);
        Receive<LoginRefused>(refused =>
        {
            if (!EndClaim(refused.Connection, refused.User)) return;
            Context.Unwatch(refused.Connection);
            refused.Connection.Tell(new NameRefused(refused.Error));
        });
        Receive<SendPrivate>(HandlePrivate);
        Receive<ListUsers>(list => _presence.Forward(list));
        Receive<LeaveChat>(m => Remove(Sender, m.Reason, m.Rooms, LeftChat.Instance));
        Receive<Terminated>(t =>
        {
            if (_claimingByConnection.Remove(t.ActorRef, out var claimed)) _claiming.Remove(claimed);
            Remove(t.ActorRef, LeaveReasons.Disconnected, null, null);
        });
    }

    /// <param name="passwordsInClear">Clients reach the server on a non-loopback address without TLS: warn when a password arrives.</param>
    public static Props Props(IActorRef rooms, IActorRef accounts, IActorRef presence, LoginRateSettings loginRate,
        bool passwordsInClear = false, Func<long>? unixMillisClock = null) =>
        Akka.Actor.Props.Create(() => new UsernameRegistry(rooms, accounts, presence, loginRate, passwordsInClear, unixMillisClock));

    private void HandleClaim(ClaimName claim)
    {
        if (_byConnection.ContainsKey(Sender) || _claimingByConnection.ContainsKey(Sender))
        {
            Sender.Tell(new NameRefused(new ErrorFrame(ErrorCodes.AlreadyLoggedIn, "this connection is already logged in")));
            return;
        }
        if (!_loginsPerAddress.TryTake(claim.Address, _uptime.Elapsed.Ticks))
        {
            Sender.Tell(new NameRefused(new ErrorFrame(ErrorCodes.TooManyLogins,
                $"too many logins from your address (at most {_loginRate.PerSecond:0.#} a second, bursts of {_loginRate.Burst}); try again shortly")));
            return;
        }
        if (_byName.TryGetValue(claim.Name, out var holder) || _claiming.ContainsKey(claim.Name))
        {
            Sender.Tell(new NameRefused(new ErrorFrame(ErrorCodes.UsernameTaken,
                $"the name \"{holder?.Name ?? claim.Name}\" is taken; choose another")));
            return;
        }
        if (claim.Password is not null && _passwordsInClear && DateTime.UtcNow - _lastClearTextWarning > TimeSpan.FromMinutes(1))
        {
            _lastClearTextWarning = DateTime.UtcNow;
            _log.Warning("a password arrived over a connection without TLS on a non-loopback address: anyone on the path can read it (warned at most once a minute)");
        }
        _claiming.Add(claim.Name, Sender);
        _claimingByConnection.Add(Sender, claim.Name);
        Context.Watch(Sender);
        _accounts.Tell(new ToAccount(claim.Name, new CheckLogin(claim.Name, claim.Password, Sender)));
    }

    private void OnLoginAccepted(LoginAccepted accepted)
    {
        var connection = accepted.Connection;
        if (!EndClaim(connection, accepted.User)) return; // the connection died meanwhile
        var name = accepted.User; // a registered name as registered
        var member = new Member(name, connection);
        _byName.Add(name, member);
        _byConnection.Add(connection, member);
        _presence.Tell(new UserOnline(name, connection, accepted.Offline));
        _log.Info("joined: {0} ({1} online)", name, _byName.Count);
    }

    /// <summary>Ends the pending claim of <paramref name="connection"/>; false if there is none (it died).</summary>
    private bool EndClaim(IActorRef connection, string user)
    {
        if (!_claimingByConnection.Remove(connection)) return false;
        _claiming.Remove(user);
        return true;
    }

    private void HandlePrivate(SendPrivate pm)
    {
        if (!_byConnection.TryGetValue(Sender, out var from)) return;
        if (!_byName.TryGetValue(pm.To, out var to))
        {
            // Offline: kept by the account if the name is registered, else no_such_user.
            _accounts.Tell(new ToAccount(pm.To, new QueueOffline(from.Name, pm.To, pm.Text, _clock())), Sender);
            return;
        }
        var frame = new PrivateMessageFrame(from.Name, to.Name, pm.Text, _clock());
        to.Connection.Tell(frame);
        if (!to.Connection.Equals(Sender)) Sender.Tell(frame);
    }

    private void Remove(IActorRef connection, string reason, IReadOnlyCollection<string>? rooms, object? confirmation)
    {
        if (!_byConnection.Remove(connection, out var member))
        {
            if (confirmation is not null) connection.Tell(confirmation);
            return;
        }
        _byName.Remove(member.Name);
        Context.Unwatch(connection);
        // Presence (and the lobby, through it) learns who left, and why, only from here (the
        // registry watches every connection); other rooms also watch their members, in case a
        // connection dies unannounced.
        foreach (var room in rooms ?? []) _rooms.Tell(new ToRoom(room, new PartRoom(member.Name, reason)), connection);
        _presence.Tell(new UserOffline(member.Name, connection, reason, confirmation));
        _log.Info("left: {0} ({1}; {2} online)", member.Name, reason, _byName.Count);
    }
}
