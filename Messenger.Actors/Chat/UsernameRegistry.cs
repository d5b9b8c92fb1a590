using System.Diagnostics;
using System.Net;
using Akka.Actor;
using Akka.Event;
using Messenger.Accounts;
using Messenger.Cluster;
using Messenger.Protocol;
using Messenger.Rooms;

namespace Messenger.Chat;

// ---- messages (Sender is always the ConnectionActor speaking) ----

/// <summary>
/// Ask to log in under <paramref name="Name"/> (already validated by the codec) from
/// <paramref name="Address"/>; a registered name needs its <paramref name="Password"/>.
/// </summary>
public sealed record ClaimName(string Name, IPAddress Address, Password? Password = null);
/// <summary>
/// Reply to <see cref="ClaimName"/> (from the <see cref="PresenceActor"/>): logged in, with the sorted
/// list of everyone online. The presence actor has queued the welcome, and the private messages
/// kept for the user, in the connection's outbound queue before it tells this; the connection then
/// tells the account it has those kept up to <paramref name="OfflineThrough"/> (0: none, see <see cref="OfflineMessages"/>).
/// <paramref name="Lobby"/>: the lobby's entity, where the connection has just been put (null while it moves).
/// </summary>
public sealed record NameClaimed(WelcomeFrame Welcome, long OfflineThrough, IActorRef? Lobby = null) : ICrossNodeMessage;
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
public sealed record LeftChat : ICrossNodeMessage { public static readonly LeftChat Instance = new(); }
/// <summary>
/// Register the name the connection (from <paramref name="Address"/>) is logged in with; the name's
/// account answers (a <see cref="RegisteredFrame"/> or an error), unless the address has registered too often lately.
/// </summary>
public sealed record RegisterName(Password Password, IPAddress Address);
/// <summary>
/// Told to every logged-in connection of the node every <c>idle-check-interval</c>: one that has
/// heard nothing for its idle timeout closes. One sweep for all, not a timer per connection.
/// </summary>
public sealed record IdleCheck : IDeadLetterSuppression { public static readonly IdleCheck Instance = new(); }

/// <summary>
/// A node's door to the chat for its connections: logins, leaves and private messages. Every
/// logged-in <c>ConnectionActor</c> of this node is registered here and death-watched, so a
/// connection that dies for any reason frees its name. Names are unique across the cluster: a
/// login asks the name's claim (<see cref="NameClaims"/>, a sharded entity, on whichever node), which asks
/// the name's account (a guest name, or a registered one with its password); the registry watches
/// the claims entities holding its users' names and, if one stops (its shard moved to another
/// node), claims those names again. A private message goes to the recipient's claim, which hands it to the recipient wherever
/// it is, or to the account (kept if the name is registered) when the name is free. Logins are
/// limited per remote address (<see cref="LoginRateSettings"/>) before anything else is done for them,
/// and each accepted one counts towards a collection step (<see cref="LoginBurstCollection"/>);
/// registrations are limited per remote address too (<c>messenger.accounts.registrations-per-address</c>).
/// Every <c>idle-check-interval</c> the registry tells its connections to check for silence
/// (<see cref="IdleCheck"/>): a scheduled timer per connection cost 144 bytes on each idle one.
/// Presence is not here: an accepted login, and every leave, is handed to this node's
/// <see cref="PresenceActor"/>, which welcomes the user, announces it, keeps the online list for
/// <c>who</c> (forwarded there) and puts the connection in (and out of) the lobby, so a burst of
/// logins never queues in front of a private message. Room chat does not pass through here: the
/// connection talks to its rooms directly.
/// </summary>
public sealed class UsernameRegistry : ReceiveActor, IWithTimers
{
    private sealed record SweepIdle { public static readonly SweepIdle Instance = new(); }

    /// <summary>A logged-in user of this node, and the claims entity holding its name (watched).</summary>
    private sealed class Member(string name, IActorRef connection)
    {
        public string Name { get; } = name;
        public IActorRef Connection { get; } = connection;
        public IActorRef? Claim { get; set; }
    }

    private readonly IActorRef _rooms;
    private readonly IActorRef _claims;
    private readonly IActorRef _presence;
    private readonly bool _passwordsInClear;
    private readonly KeyedThrottle<IPAddress> _loginsPerAddress;
    private readonly LoginRateSettings _loginRate;
    private readonly KeyedThrottle<IPAddress> _registrationsPerAddress;
    private readonly TokenBucketSettings _registrationRate;
    private readonly Stopwatch _uptime = Stopwatch.StartNew();
    private readonly HashSet<IActorRef> _claiming = new(); // connections whose claim is being decided
    private DateTime _lastClearTextWarning = DateTime.MinValue;
    private readonly Dictionary<IActorRef, Member> _byConnection = new();
    private readonly Dictionary<IActorRef, HashSet<Member>> _byClaim = new(); // claims entities holding users' names, watched
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Func<long> _clock;
    private readonly TimeSpan _idleCheckInterval;
    private readonly LoginBurstCollection? _loginBurst;

    /// <param name="claims">The name-claim region (<see cref="NameClaims"/>).</param>
    public UsernameRegistry(IActorRef rooms, IActorRef claims, IActorRef presence, LoginRateSettings loginRate, TokenBucketSettings registrationRate,
        TimeSpan idleCheckInterval, bool passwordsInClear, Func<long>? unixMillisClock = null, LoginBurstCollection? loginBurst = null)
    {
        _registrationRate = registrationRate;
        _registrationsPerAddress = new KeyedThrottle<IPAddress>(registrationRate.PerSecond, registrationRate.Burst);
        _idleCheckInterval = idleCheckInterval;
        _loginBurst = loginBurst;
        _rooms = rooms;
        _claims = claims;
        _presence = presence;
        _loginRate = loginRate;
        _loginsPerAddress = new KeyedThrottle<IPAddress>(loginRate.PerSecond, loginRate.Burst);
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
        Receive<RegisterName>(HandleRegister);
        Receive<ListUsers>(list => _presence.Forward(list));
        Receive<LeaveChat>(m => Remove(Sender, m.Reason, m.Rooms, LeftChat.Instance));
        Receive<SweepIdle>(_ =>
        {
            foreach (var connection in _byConnection.Keys) connection.Tell(IdleCheck.Instance);
        });
        Receive<Terminated>(t =>
        {
            if (_byClaim.Remove(t.ActorRef, out var members))
            {
                if (EntityDirectory.NodeIsLeaving(Context.System)) return; // its clients are closed already
                // The claims' shard moved (its node left or died): hold the names again.
                foreach (var member in members)
                {
                    member.Claim = null;
                    _claims.Tell(new ToClaim(member.Name, new Reclaim(member.Name, member.Connection)));
                }
                return;
            }
            _claiming.Remove(t.ActorRef);
            Remove(t.ActorRef, LeaveReasons.Disconnected, null, null);
        });
    }

    /// <param name="claims">The name-claim region (<see cref="NameClaims"/>).</param>
    /// <param name="registrationRate">Registrations allowed from one IP address (<c>messenger.accounts.registrations-per-address</c>).</param>
    /// <param name="idleCheckInterval">How often logged-in connections are told to check for silence (<see cref="IdleCheck"/>).</param>
    /// <param name="passwordsInClear">Clients reach the server on a non-loopback address without TLS: warn when a password arrives.</param>
    /// <param name="loginBurst">Told of every accepted login, to collect in steps during a burst of them (null: never).</param>
    public static Props Props(IActorRef rooms, IActorRef claims, IActorRef presence, LoginRateSettings loginRate, TokenBucketSettings registrationRate,
        TimeSpan idleCheckInterval, bool passwordsInClear = false, Func<long>? unixMillisClock = null, LoginBurstCollection? loginBurst = null) =>
        Akka.Actor.Props.Create(() => new UsernameRegistry(rooms, claims, presence, loginRate, registrationRate, idleCheckInterval, passwordsInClear,
            unixMillisClock, loginBurst));

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart() => Timers.StartPeriodicTimer(SweepIdle.Instance, SweepIdle.Instance, _idleCheckInterval);

    private void HandleClaim(ClaimName claim)
    {
        if (_byConnection.ContainsKey(Sender) || _claiming.Contains(Sender))
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
            // Granted again after the claim moved: watch its new holder.
            HeldBy(reclaimed, Sender);
            return;
        }
        // The connection died meanwhile; its claim saw that too, and its kept messages stay with its account.
        if (!_claiming.Remove(connection)) return;
        var member = new Member(granted.User, connection); // a registered name as registered
        _byConnection.Add(connection, member);
        HeldBy(member, Sender);
        _presence.Tell(new UserOnline(member.Name, connection, granted.Offline));
        _log.Info("joined: {0} ({1} online here)", member.Name, _byConnection.Count);
        _loginBurst?.LoginAccepted();
    }

    /// <summary>Records that <paramref name="claims"/> (null: nobody) holds the member's name; a claims entity is watched while it holds a name of this node's.</summary>
    private void HeldBy(Member member, IActorRef? claims)
    {
        if (member.Claim is { } old && _byClaim.TryGetValue(old, out var held) && held.Remove(member) && held.Count == 0)
        {
            _byClaim.Remove(old);
            Context.Unwatch(old);
        }
        member.Claim = claims;
        if (claims is null) return;
        if (!_byClaim.TryGetValue(claims, out var members))
        {
            _byClaim.Add(claims, members = []);
            Context.Watch(claims);
        }
        members.Add(member);
    }

    private void HandlePrivate(SendPrivate pm)
    {
        if (!_byConnection.TryGetValue(Sender, out var from)) return;
        _claims.Tell(new ToClaim(pm.To, new DeliverPrivate(from.Name, pm.To, pm.Text, _clock())), Sender);
    }

    /// <summary>
    /// Through the name's claim, and from here, so that the claim sees the registration before it
    /// sees this connection release the name (both are sent from here, in order).
    /// </summary>
    private void HandleRegister(RegisterName register)
    {
        if (!_byConnection.TryGetValue(Sender, out var member))
        {
            Sender.Tell(new ErrorFrame(ErrorCodes.NotLoggedIn, "log in first: {\"type\":\"hello\",\"user\":NAME}"));
            return;
        }
        if (!_registrationsPerAddress.TryTake(register.Address, _uptime.Elapsed.Ticks))
        {
            Sender.Tell(new ErrorFrame(ErrorCodes.RateLimited,
                $"too many registrations from your address (at most {_registrationRate.Burst} at once, then one every {1 / _registrationRate.PerSecond:0.#} s); try again later"));
            return;
        }
        _claims.Tell(new ToClaim(member.Name, new RegisterHeldName(register.Password, Sender)));
    }

    private void Remove(IActorRef connection, string reason, IReadOnlyCollection<string>? rooms, object? confirmation)
    {
        if (!_byConnection.Remove(connection, out var member))
        {
            if (confirmation is not null) connection.Tell(confirmation);
            return;
        }
        Context.Unwatch(connection);
        HeldBy(member, null);
        _claims.Tell(new ToClaim(member.Name, new Release(connection)));
        // Presence (and the lobby, through it) learns who left, and why, only from here (the
        // registry watches every connection); other rooms also watch their members, in case a
        // connection dies unannounced.
        foreach (var room in rooms ?? []) _rooms.Tell(new ToRoom(room, new PartRoom(member.Name, reason)), connection);
        _presence.Tell(new UserOffline(member.Name, connection, reason, confirmation));
        _log.Info("left: {0} ({1}; {2} online here)", member.Name, reason, _byConnection.Count);
    }
}
