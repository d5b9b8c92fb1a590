using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Messenger.Accounts;
using Messenger.Cluster;
using Messenger.Net;
using Messenger.Protocol;
using Messenger.Rooms;

namespace Messenger.Chat;

// ---- messages (from the UsernameRegistry, except ListUsers) ----

/// <summary>
/// The registry accepted a login: welcome <paramref name="User"/>, hand over <paramref name="Offline"/>
/// (the private messages kept while a registered user was away), then put the connection in the lobby.
/// </summary>
public sealed record UserOnline(string User, IActorRef Connection, OfflineMessages Offline);
/// <summary>
/// <paramref name="User"/> left the chat for <paramref name="Reason"/>; the connection gets
/// <paramref name="Confirmation"/> (if any) after every lobby message accepted before it left.
/// </summary>
public sealed record UserOffline(string User, IActorRef Connection, string Reason, object? Confirmation = null);
/// <summary>Ask for the online list; the reply is a <see cref="UsersFrame"/>.</summary>
public sealed record ListUsers { public static readonly ListUsers Instance = new(); }
/// <summary>From another node's presence: everyone online there (sent when it sees this node come up).</summary>
public sealed record PresenceSnapshot(IReadOnlyList<string> Users) : ICrossNodeMessage;
/// <summary>From another node's presence: its users' lobby <c>joined</c>/<c>left</c> since its last news, in order.</summary>
public sealed record PresenceNews(IReadOnlyList<ServerFrame> Frames) : ICrossNodeMessage;
/// <summary>The batch window of welcomes and <c>who</c> answers has passed: send them, or close the window if none waits.</summary>
internal sealed record FlushWelcomes { public static readonly FlushWelcomes Instance = new(); }
/// <summary>The window of joined/left news has passed: send what was gathered, or close the window if nothing was.</summary>
internal sealed record FlushNews { public static readonly FlushNews Instance = new(); }
/// <summary>The presence actor's cue to tell the news being told to the next slice of its connections.</summary>
internal sealed record TellNextSlice { public static readonly TellNextSlice Instance = new(); }
/// <summary>The lobby's entity stopped and its next incarnation has not answered yet: ask for it again.</summary>
internal sealed record FindLobby { public static readonly FindLobby Instance = new(); }

/// <summary>
/// Who is online, apart from the actors that carry chat: the sorted online list, the welcome, the
/// lobby's <c>joined</c>/<c>left</c> news, the answer to <c>who</c>, and the lobby membership of
/// every logged-in connection. A burst of logins costs this actor, never a room or the registry.
/// <para>News is gathered over a window (<see cref="PresenceSettings.Window"/>: 20 ms, longer when
/// so many are online that a flush to all of them each 20 ms would pass
/// <see cref="PresenceSettings.MaxDeliveriesPerSecond"/>): the first change after a quiet window goes
/// out at once; changes while the window is open go out together when it ends, as one
/// <see cref="FrameBatch"/> per client (encoded once), so a burst of n logins with m users online
/// costs about m messages per window instead of n × m.</para>
/// <para>Welcomes and <c>who</c> answers have a window of their own, always 20 ms
/// (<see cref="PresenceSettings.BatchWindow"/>), so a login never waits for the news window: a login
/// is welcomed with the list as it stands (itself included), and <c>who</c> answered with it, one
/// list encoded at most once per 20 ms. A connection welcomed while news is being gathered is told
/// at the next flush only the news its welcome's list did not hold, so the list and the news after
/// it always add up.</para>
/// <para>In a cluster every node runs one, for its own connections: it tells every other node's
/// presence its news at each flush (<see cref="PresenceNews"/>) and, when it sees a node come up,
/// everyone online here (<see cref="PresenceSnapshot"/>); what other nodes tell it is news for its
/// own connections and part of its list. At-most-once is enough: a node that is lost takes its
/// users with it, and when the cluster removes it, they are announced as <c>left</c>
/// (<c>disconnected</c>) here. It also watches the lobby's entity: when that stops (its shard
/// moved to another node), it asks for the lobby again (<see cref="FindLobby"/>, until it
/// answers) and puts its connections back in the next incarnation, telling it directly.</para>
/// <para>Its connections are all on this node: it puts their frames (the welcome, the private
/// messages kept for them, the news, the <c>who</c> answer) straight into their
/// <see cref="OutboundQueue"/>s (<see cref="Outboxes"/>), in its own turn, and its
/// <see cref="OutboundQueue.FlushLane"/> writes them, a task per core for all it was handed meanwhile,
/// rather than telling each connection's actor (a task per connection on the thread pool, whose
/// queue is first come, first served: thousands of them waited in front of every chat message).
/// The welcome is queued before <see cref="NameClaimed"/> is told and before the connection is put
/// in the lobby, so it comes before any news or lobby message; the answer to <c>who</c> is followed
/// by <see cref="AnswerWritten"/>. The news of a window is queued <see cref="PresenceSettings.FanOutSlice"/>
/// connections at a time, one slice per turn, on a dispatcher that runs one message per turn, so
/// that no turn of its own nor of its lane holds a thread for a whole window's thousands of writes.
/// The next window's news waits until the last is queued, so each connection gets the news in
/// order and a slow fan-out widens the window instead of piling up.</para>
/// </summary>
public sealed class PresenceActor : ReceiveActor, IWithTimers
{
    private readonly IActorRef _rooms;
    private readonly PresenceSettings _settings;
    private readonly Outboxes _outboxes = Outboxes.Get(Context.System);
    private readonly OutboundQueue.FlushLane _lane = new();
    private readonly Dictionary<IActorRef, Welcomed> _welcomed = new();
    private readonly List<UserOnline> _arriving = new(); // welcomed at the next flush of welcomes
    private readonly List<IActorRef> _askedWho = new(); // answered at the next flush of welcomes
    private readonly List<ServerFrame> _news = new(); // for the welcomed, at the next flush of news
    // Welcomed while _news was gathered: how much of it their welcome's list already held.
    private readonly Dictionary<IActorRef, int> _welcomedDuringNews = new();
    // Persistent (immutable) sorted set: a login adds in O(log n), and a welcome or the `who`
    // answer shares it without copying.
    private ImmutableSortedSet<string> _names = ImmutableSortedSet.Create<string>(Usernames.Comparer);
    private UsersFrame? _usersFrame;
    private bool _welcomesWindowOpen;
    private bool _newsWindowOpen;
    private readonly List<(IActorRef Connection, ServerFrame News)> _telling = new(); // news being told, a slice at a time
    private int _toldUpTo;
    private bool _flushNewsWhenTold;
    private readonly List<ServerFrame> _newsForPeers = new(); // this node's own news, for the other nodes
    private readonly Dictionary<Address, HashSet<string>> _elsewhere = new(); // users of each other node
    private readonly Dictionary<Address, ActorSelection> _peers = new();
    private IActorRef? _lobby;
    private bool _lobbyLost; // its entity stopped: the next one to answer gets this node's connections back

    /// <summary>A connection in the lobby: its user, and how its frames reach it.</summary>
    private readonly record struct Welcomed(string User, Recipient To);

    public PresenceActor(IActorRef rooms, PresenceSettings settings)
    {
        _rooms = rooms;
        _settings = settings;
        Receive<UserOnline>(online =>
        {
            _names = _names.Add(online.User);
            _usersFrame = null;
            var joined = new JoinedFrame(online.User, RoomNames.Lobby);
            _news.Add(joined);
            _newsForPeers.Add(joined);
            _arriving.Add(online); // after its own news: its welcome lists it
            WelcomesChanged();
            NewsChanged();
        });
        Receive<ClusterEvent.MemberUp>(up => PeerUp(up.Member.Address));
        Receive<ClusterEvent.MemberRemoved>(removed => PeerGone(removed.Member.Address));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<PresenceSnapshot>(OnSnapshot);
        Receive<PresenceNews>(OnNews);
        Receive<RoomReady>(_ =>
        {
            if (_lobby is not null) return; // a second answer to FindLobby
            _lobby = Sender;
            Context.Watch(_lobby);
            if (!_lobbyLost) return;
            // Its last incarnation stopped (its shard moved): everyone back in, each connection told Rejoined.
            _lobbyLost = false;
            Timers.Cancel(nameof(FindLobby));
            foreach (var (connection, welcomed) in _welcomed) _lobby.Tell(new RejoinRoom(welcomed.User), connection);
        });
        Receive<Terminated>(t => t.ActorRef.Equals(_lobby), _ =>
        {
            _lobby = null;
            if (EntityDirectory.NodeIsLeaving(Context.System)) return; // its clients are closed already
            _lobbyLost = true;
            WatchLobby();
            Timers.StartPeriodicTimer(nameof(FindLobby), FindLobby.Instance, _settings.LobbyRetry);
        });
        Receive<FindLobby>(_ => WatchLobby());
        Receive<UserOffline>(GoOffline);
        Receive<ListUsers>(_ =>
        {
            if (_usersFrame is { } current && _arriving.Count == 0)
            {
                Answer(Sender, current); // nothing changed since it was made
                return;
            }
            _askedWho.Add(Sender);
            WelcomesChanged();
        });
        Receive<FlushWelcomes>(_ =>
        {
            if (_arriving.Count == 0 && _askedWho.Count == 0)
            {
                _welcomesWindowOpen = false;
                return;
            }
            SendWelcomes();
            Timers.StartSingleTimer(nameof(FlushWelcomes), FlushWelcomes.Instance, _settings.BatchWindow);
        });
        Receive<FlushNews>(_ =>
        {
            if (_news.Count == 0)
            {
                _newsWindowOpen = false;
                return;
            }
            SendNewsOnceTold();
        });
        Receive<TellNextSlice>(_ => TellSlice());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef rooms, PresenceSettings settings) =>
        Akka.Actor.Props.Create(() => new PresenceActor(rooms, settings)).WithDispatcher(PresenceSettings.Dispatcher);

    protected override void PreStart()
    {
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.InitialStateAsEvents,
            typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved));
        WatchLobby();
    }

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    /// <summary>Starts the lobby if needed; its <see cref="RoomReady"/> tells who to watch.</summary>
    private void WatchLobby() => _rooms.Tell(new ToRoom(RoomNames.Lobby, AwaitRoomReady.Instance));

    // ------------------------------------------------------------------ other nodes

    private bool IsSelf(Address address) => address.Equals(Akka.Cluster.Cluster.Get(Context.System).SelfAddress);

    private void PeerUp(Address address)
    {
        if (IsSelf(address) || _peers.ContainsKey(address)) return;
        var peer = Context.ActorSelection(new RootActorPath(address) / Self.Path.Elements);
        _peers[address] = peer;
        peer.Tell(new PresenceSnapshot([.. _welcomed.Values.Select(w => w.User), .. _arriving.Select(a => a.User)]));
    }

    /// <summary>A node was removed from the cluster (left, or lost and downed): whoever was online there is gone.</summary>
    private void PeerGone(Address address)
    {
        _peers.Remove(address);
        if (!_elsewhere.Remove(address, out var users) || users.Count == 0) return;
        foreach (var user in users)
        {
            _names = _names.Remove(user);
            _news.Add(new LeftFrame(user, LeaveReasons.Disconnected, RoomNames.Lobby));
        }
        _usersFrame = null;
        NewsChanged();
    }

    private HashSet<string> UsersAt(Address address)
    {
        if (!_elsewhere.TryGetValue(address, out var users)) _elsewhere[address] = users = new HashSet<string>(Usernames.Comparer);
        return users;
    }

    private void OnSnapshot(PresenceSnapshot snapshot)
    {
        var users = UsersAt(Sender.Path.Address);
        foreach (var gone in users.Except(snapshot.Users, Usernames.Comparer).ToArray())
        {
            users.Remove(gone);
            _names = _names.Remove(gone);
        }
        foreach (var user in snapshot.Users)
        {
            users.Add(user);
            _names = _names.Add(user);
        }
        _usersFrame = null;
    }

    private void OnNews(PresenceNews news)
    {
        var users = UsersAt(Sender.Path.Address);
        foreach (var frame in news.Frames)
        {
            switch (frame)
            {
                case JoinedFrame joined:
                    users.Add(joined.User);
                    _names = _names.Add(joined.User);
                    break;
                case LeftFrame left:
                    users.Remove(left.User);
                    _names = _names.Remove(left.User);
                    break;
            }
            _news.Add(frame);
        }
        _usersFrame = null;
        NewsChanged();
    }

    private void GoOffline(UserOffline offline)
    {
        _names = _names.Remove(offline.User);
        _usersFrame = null;
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
            _welcomedDuringNews.Remove(offline.Connection);
            _rooms.Tell(new ToRoom(RoomNames.Lobby, new PartRoom(offline.User, offline.Reason, offline.Confirmation)), offline.Connection);
        }
        var left = new LeftFrame(offline.User, offline.Reason, RoomNames.Lobby);
        _news.Add(left);
        _newsForPeers.Add(left);
        NewsChanged();
    }

    // ------------------------------------------------------------------ welcomes and `who`

    /// <summary>A login or a <c>who</c> waits: answered at once after a quiet window, else at the window's end, sharing one list.</summary>
    private void WelcomesChanged()
    {
        if (_welcomesWindowOpen) return;
        _welcomesWindowOpen = true;
        SendWelcomes();
        Timers.StartSingleTimer(nameof(FlushWelcomes), FlushWelcomes.Instance, _settings.BatchWindow);
    }

    /// <summary>
    /// Welcomes the logins that arrived, each with the list as it stands (its own login included), and
    /// answers <c>who</c> with the same list. A welcome does not wait for the news window: what its
    /// list already holds of the news being gathered is noted, and that connection gets only the rest.
    /// </summary>
    private void SendWelcomes()
    {
        foreach (var arrival in _arriving)
        {
            // The welcome first, the kept private messages next, and only then lobby traffic. The
            // connection learns it is logged in only after its lobby join is on its way: a say it
            // sends from then on reaches the room behind the join, not before it as not_member.
            var to = _outboxes.RecipientOf(arrival.Connection);
            var welcome = new WelcomeFrame(arrival.User, _names);
            to.Outbox?.Write(ChatCodec.EncodeWelcome(welcome), _lane);
            foreach (var frame in arrival.Offline.Frames) to.Send(frame, _lane, Self);
            _rooms.Tell(new ToRoom(RoomNames.Lobby, new JoinRoom(arrival.User, AtLogin: true)), arrival.Connection);
            arrival.Connection.Tell(new NameClaimed(welcome, arrival.Offline.Through, _lobby));
            _welcomed.Add(arrival.Connection, new Welcomed(arrival.User, to));
            if (_news.Count > 0) _welcomedDuringNews[arrival.Connection] = _news.Count;
        }
        _arriving.Clear();
        if (_askedWho.Count == 0) return;
        var users = _usersFrame ??= new UsersFrame(_names);
        foreach (var asker in _askedWho) Answer(asker, users);
        _askedWho.Clear();
    }

    /// <summary>The answer to <c>who</c>: written into the asker's queue, then <see cref="AnswerWritten"/>, so it acts on its next line.</summary>
    private void Answer(IActorRef asker, UsersFrame users)
    {
        var to = _welcomed.TryGetValue(asker, out var welcomed) ? welcomed.To : _outboxes.RecipientOf(asker);
        to.Send(users, _lane, Self);
        if (to.IsLocal) asker.Tell(AnswerWritten.Instance);
    }

    // ------------------------------------------------------------------ joined/left news

    private void NewsChanged()
    {
        if (_newsWindowOpen) return;
        _newsWindowOpen = true;
        SendNewsOnceTold();
    }

    /// <summary>Sends the news gathered and starts the next window, now or, while news is still being told, once it is.</summary>
    private void SendNewsOnceTold()
    {
        if (_telling.Count > 0)
        {
            _flushNewsWhenTold = true;
            return;
        }
        SendNews();
        Timers.StartSingleTimer(nameof(FlushNews), FlushNews.Instance, _settings.Window(_welcomed.Count));
    }

    /// <summary>
    /// Tells the other nodes this node's news, and starts telling every welcomed connection the news
    /// gathered (one frame, encoded once; those welcomed meanwhile only what their welcome did not hold).
    /// </summary>
    private void SendNews()
    {
        if (_newsForPeers.Count > 0)
        {
            var forPeers = new PresenceNews(_newsForPeers.ToArray());
            foreach (var peer in _peers.Values) peer.Tell(forPeers);
            _newsForPeers.Clear();
        }
        if (_news.Count == 0) return;
        var all = Batch(_news);
        Dictionary<int, ServerFrame>? rests = null; // by how much of the news a welcome held
        foreach (var connection in _welcomed.Keys)
        {
            if (!_welcomedDuringNews.TryGetValue(connection, out int held)) _telling.Add((connection, all));
            else if (held < _news.Count)
            {
                rests ??= new();
                if (!rests.TryGetValue(held, out var rest)) rests[held] = rest = Batch(_news.GetRange(held, _news.Count - held));
                _telling.Add((connection, rest));
            }
        }
        _news.Clear();
        _welcomedDuringNews.Clear();
        _toldUpTo = 0;
        TellSlice();
    }

    private static ServerFrame Batch(List<ServerFrame> news) => news.Count == 1 ? news[0] : new FrameBatch(news.ToArray());

    /// <summary>Tells the next slice of the connections their news (those still online); the rest at the next turn.</summary>
    private void TellSlice()
    {
        int end = Math.Min(_telling.Count, _toldUpTo + _settings.FanOutSlice);
        for (; _toldUpTo < end; _toldUpTo++)
        {
            var (connection, news) = _telling[_toldUpTo];
            if (_welcomed.TryGetValue(connection, out var welcomed)) welcomed.To.Send(news, _lane, Self);
        }
        if (_toldUpTo < _telling.Count)
        {
            Self.Tell(TellNextSlice.Instance);
            return;
        }
        _telling.Clear();
        if (!_flushNewsWhenTold) return;
        _flushNewsWhenTold = false;
        SendNewsOnceTold();
    }
}
