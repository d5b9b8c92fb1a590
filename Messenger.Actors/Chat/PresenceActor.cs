using System.Collections.Immutable;
using Akka.Actor;
using Messenger.Protocol;
using Messenger.Rooms;

namespace Messenger.Chat;

// ---- messages (from the UsernameRegistry, except ListUsers) ----

/// <summary>
/// The registry accepted a login: welcome <paramref name="User"/>, hand over <paramref name="Greeting"/>
/// (the private messages kept while a registered user was away), then put the connection in the lobby.
/// </summary>
public sealed record UserOnline(string User, IActorRef Connection, IReadOnlyList<ServerFrame> Greeting);
/// <summary>
/// <paramref name="User"/> left the chat for <paramref name="Reason"/>; the connection gets
/// <paramref name="Confirmation"/> (if any) after every lobby message accepted before it left.
/// </summary>
public sealed record UserOffline(string User, IActorRef Connection, string Reason, object? Confirmation = null);
/// <summary>Ask for the online list; the reply is a <see cref="UsersFrame"/>.</summary>
public sealed record ListUsers { public static readonly ListUsers Instance = new(); }
/// <summary>The batch window has passed: send what was gathered, or close the window if nothing was.</summary>
internal sealed record FlushPresence { public static readonly FlushPresence Instance = new(); }

/// <summary>
/// Who is online, apart from the actors that carry chat: the sorted online list, the welcome, the
/// lobby's <c>joined</c>/<c>left</c> news, the answer to <c>who</c>, and the lobby membership of
/// every logged-in connection. A burst of logins costs this actor, never a room or the registry.
/// <para>News is gathered over a window (<see cref="PresenceSettings.Window"/>: 20 ms, longer when
/// so many are online that a flush to all of them each 20 ms would be too much): the first change
/// after a quiet window goes out at once; changes while the window is open go out together when it
/// ends, as one <see cref="FrameBatch"/> per client (encoded once), so a burst of n logins with m
/// users online costs about m messages per window instead of n × m. A login is welcomed at that flush
/// too, with the list as it stands after it, and from then on gets the news that follows; the
/// <c>who</c> answer is one shared frame, made at most once per flush, and a <c>who</c> that arrives
/// while news waits is answered at the flush.</para>
/// </summary>
public sealed class PresenceActor : ReceiveActor, IWithTimers
{
    private readonly IActorRef _rooms;
    private readonly PresenceSettings _settings;
    private readonly Dictionary<IActorRef, string> _welcomed = new();
    private readonly List<UserOnline> _arriving = new(); // welcomed at the next flush
    private readonly List<ServerFrame> _news = new(); // for the welcomed, at the next flush
    private readonly List<IActorRef> _askedWho = new(); // answered at the next flush
    // Persistent (immutable) sorted set: a login adds in O(log n), and a welcome or the `who`
    // answer shares it without copying.
    private ImmutableSortedSet<string> _names = ImmutableSortedSet.Create<string>(Usernames.Comparer);
    private UsersFrame? _usersFrame;
    private bool _windowOpen;

    public PresenceActor(IActorRef rooms, PresenceSettings settings)
    {
        _rooms = rooms;
        _settings = settings;
        Receive<UserOnline>(online =>
        {
            _names = _names.Add(online.User);
            _arriving.Add(online);
            _news.Add(new JoinedFrame(online.User, RoomNames.Lobby));
            Changed();
        });
        Receive<UserOffline>(GoOffline);
        Receive<ListUsers>(_ =>
        {
            if (Pending) _askedWho.Add(Sender);
            else Sender.Tell(_usersFrame ??= new UsersFrame(_names));
        });
        Receive<FlushPresence>(_ =>
        {
            if (!Pending)
            {
                _windowOpen = false;
                return;
            }
            Flush();
            Timers.StartSingleTimer(nameof(FlushPresence), FlushPresence.Instance, _settings.Window(_welcomed.Count));
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef rooms, PresenceSettings settings) =>
        Akka.Actor.Props.Create(() => new PresenceActor(rooms, settings));

    private bool Pending => _news.Count > 0 || _arriving.Count > 0;

    private void GoOffline(UserOffline offline)
    {
        _names = _names.Remove(offline.User);
        int arriving = _arriving.FindIndex(a => a.Connection.Equals(offline.Connection));
        if (arriving >= 0)
        {
            // Never welcomed, so never in the lobby either.
            _arriving.RemoveAt(arriving);
            if (offline.Confirmation is not null) offline.Connection.Tell(offline.Confirmation);
        }
        else
        {
            _welcomed.Remove(offline.Connection);
            _rooms.Tell(new ToRoom(RoomNames.Lobby, new PartRoom(offline.User, offline.Reason, offline.Confirmation)), offline.Connection);
        }
        _news.Add(new LeftFrame(offline.User, offline.Reason, RoomNames.Lobby));
        Changed();
    }

    private void Changed()
    {
        _usersFrame = null;
        if (_windowOpen) return;
        Flush();
        _windowOpen = true;
        Timers.StartSingleTimer(nameof(FlushPresence), FlushPresence.Instance, _settings.Window(_welcomed.Count));
    }

    private void Flush()
    {
        if (_news.Count > 0)
        {
            var news = _news.Count == 1 ? _news[0] : new FrameBatch(_news.ToArray());
            foreach (var connection in _welcomed.Keys) connection.Tell(news);
            _news.Clear();
        }
        foreach (var arrival in _arriving)
        {
            // The welcome first, the kept private messages next, and only then lobby traffic.
            arrival.Connection.Tell(new NameClaimed(new WelcomeFrame(arrival.User, _names)));
            foreach (var frame in arrival.Greeting) arrival.Connection.Tell(frame);
            _rooms.Tell(new ToRoom(RoomNames.Lobby, new JoinRoom(arrival.User, AtLogin: true)), arrival.Connection);
            _welcomed.Add(arrival.Connection, arrival.User);
        }
        _arriving.Clear();
        if (_askedWho.Count == 0) return;
        var users = _usersFrame ??= new UsersFrame(_names);
        foreach (var asker in _askedWho) asker.Tell(users);
        _askedWho.Clear();
    }
}
