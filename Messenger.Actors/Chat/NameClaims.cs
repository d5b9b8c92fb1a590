using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Messenger.Accounts;
using Messenger.Cluster;
using Messenger.Protocol;

namespace Messenger.Chat;

/// <summary>
/// A message for the claim on <paramref name="Name"/> (any case: one claim per name ignoring case).
/// The claims of many names share one entity, which gets this envelope whole (it needs the name).
/// </summary>
public sealed record ToClaim(string Name, object Command) : IEntityEnvelope, ICrossNodeMessage
{
    string IEntityEnvelope.EntityId => Name.ToLowerInvariant();
}

// ---- messages (wrapped in ToClaim) ----

/// <summary>From a node's registry: may <paramref name="Connection"/> log in as <paramref name="Name"/>? Answered to the registry.</summary>
public sealed record Claim(string Name, Password? Password, IActorRef Connection) : ICrossNodeMessage;
/// <summary>
/// The name is <paramref name="Connection"/>'s, as <paramref name="User"/> (a registered name as
/// registered); <paramref name="Offline"/> are the private messages kept while it was away. The
/// sender is the claims entity holding the name, which the registry watches.
/// </summary>
public sealed record ClaimGranted(string User, IActorRef Connection, IReadOnlyList<PrivateMessageFrame> Offline) : ICrossNodeMessage;
public sealed record ClaimRefused(IActorRef Connection, ErrorFrame Error) : ICrossNodeMessage;
/// <summary>
/// From the registry of a connection logged in as <paramref name="User"/> whose claims entity
/// stopped (its node left or died): hold the name for it again. Answered with <see cref="ClaimGranted"/>.
/// </summary>
public sealed record Reclaim(string User, IActorRef Connection) : ICrossNodeMessage;
/// <summary>From the registry: <paramref name="Connection"/> has left the chat; the name is free.</summary>
public sealed record Release(IActorRef Connection) : ICrossNodeMessage;
/// <summary>A private message to this name; the sender is the sending connection, which gets the echo.</summary>
public sealed record DeliverPrivate(string From, string To, string Text, long Ts) : ICrossNodeMessage;

/// <summary>
/// Who holds each name of one bucket of names, cluster-wide: a sharded entity (kind <c>claim</c>,
/// one per bucket of lower-case names, see <see cref="EntityDirectory.StartBuckets"/>), so two
/// clients racing for a name on two nodes meet here and one of them wins. A name is free (not in
/// the table), <see cref="Checking"/> (its account checks the login; what else comes for the name
/// waits) or <see cref="Held"/>. The entity death-watches each holding connection wherever it is,
/// so a connection that dies, or a node that is lost, frees its name. Private messages to a name
/// pass through here, in order, to the holder or, when the name is free, to its account.
/// <para>One entity per bucket rather than per name: a held name costs a table entry (about
/// 150 bytes), not an actor (about 2.5 KB), which matters with ten thousand idle users. The
/// entity is passivated only when it holds no name, after <c>free-name-passivate-after</c>. If it
/// stops while holding names (its shard moves), each holder's registry sees it stop and sends
/// <see cref="Reclaim"/>.</para>
/// </summary>
public sealed class NameClaims : UntypedActor
{
    /// <summary>One name that is not free: its connection, and what it is waiting for.</summary>
    private sealed class Entry(string key, IActorRef connection, IActorRef? checkingFor)
    {
        /// <summary>The lower-case name.</summary>
        public string Key { get; } = key;
        public IActorRef Connection { get; } = connection;
        /// <summary>While the account checks the login: the registry to answer; null once held.</summary>
        public IActorRef? CheckingFor { get; set; } = checkingFor;
        /// <summary>Once held: the name as its user has it (a registered name as registered).</summary>
        public string User { get; set; } = "";
        /// <summary>While checking: what came for the name meanwhile, in order.</summary>
        public List<(ToClaim Message, IActorRef Sender)>? Waiting { get; set; }
    }

    private readonly IActorRef _accounts;
    private readonly TimeSpan _passivateWhenEmpty;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, Entry> _names = new(); // by lower-case name
    private readonly Dictionary<IActorRef, string> _nameOf = new(); // watched connections
    private bool _timeoutSet;

    public NameClaims(IActorRef accounts, TimeSpan passivateWhenEmpty)
    {
        _accounts = accounts;
        _passivateWhenEmpty = passivateWhenEmpty;
    }

    public static Props Props(IActorRef accounts, TimeSpan passivateWhenEmpty) =>
        Akka.Actor.Props.Create(() => new NameClaims(accounts, passivateWhenEmpty));

    /// <summary>Starts this node's claim region.</summary>
    public static IActorRef StartRegion(ActorSystem system, IActorRef accounts, TimeSpan passivateWhenEmpty) =>
        EntityDirectory.StartBuckets(system, "claim", Props(accounts, passivateWhenEmpty));

    protected override void PreStart() => PassivateWhenEmpty();

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case ToClaim envelope:
                Dispatch(envelope, Sender);
                break;
            case LoginAccepted accepted:
                if (CheckingOf(accepted.Connection) is { } acceptedEntry)
                    Hold(acceptedEntry, accepted.User, acceptedEntry.CheckingFor!, accepted.Offline);
                break;
            case LoginRefused refused:
                if (CheckingOf(refused.Connection) is { } refusedEntry)
                {
                    refusedEntry.CheckingFor!.Tell(new ClaimRefused(refused.Connection, refused.Error));
                    MakeFree(refusedEntry);
                }
                break;
            case Terminated t:
                if (_nameOf.TryGetValue(t.ActorRef, out var name) && _names.TryGetValue(name, out var dead))
                    MakeFree(dead);
                break;
            case ReceiveTimeout:
                if (_names.Count == 0) Context.Parent.Tell(new Passivate(StopEntity.Instance));
                break;
            case StopEntity:
                Context.Stop(Self);
                break;
        }
        PassivateWhenEmpty();
    }

    // ------------------------------------------------------------------ states of one name

    private void Dispatch(ToClaim envelope, IActorRef sender)
    {
        var key = envelope.Name.ToLowerInvariant();
        if (!_names.TryGetValue(key, out var entry)) Free(key, envelope, sender);
        else if (entry.CheckingFor is not null) Checking(entry, envelope, sender);
        else Held(entry, envelope, sender);
    }

    private void Free(string key, ToClaim envelope, IActorRef sender)
    {
        switch (envelope.Command)
        {
            case Claim claim:
                Add(new Entry(key, claim.Connection, sender));
                _accounts.Tell(new ToAccount(claim.Name, new CheckLogin(claim.Name, claim.Password, claim.Connection)));
                break;
            case Reclaim reclaim:
                var entry = new Entry(key, reclaim.Connection, sender);
                Add(entry);
                Hold(entry, reclaim.User, sender, []);
                break;
            case DeliverPrivate pm:
                _accounts.Tell(new ToAccount(pm.To, new QueueOffline(pm.From, pm.To, pm.Text, pm.Ts)), sender);
                break;
            // Release: nothing to free.
        }
    }

    /// <summary>The name's account is checking a login; a rival claim is refused, the rest waits.</summary>
    private static void Checking(Entry entry, ToClaim envelope, IActorRef sender)
    {
        if (envelope.Command is Claim claim)
            sender.Tell(new ClaimRefused(claim.Connection, Taken(claim.Name)));
        else
            (entry.Waiting ??= []).Add((envelope, sender));
    }

    private void Held(Entry entry, ToClaim envelope, IActorRef sender)
    {
        switch (envelope.Command)
        {
            case Claim claim:
                sender.Tell(new ClaimRefused(claim.Connection, Taken(entry.User)));
                break;
            case Reclaim reclaim when reclaim.Connection.Equals(entry.Connection):
                sender.Tell(new ClaimGranted(entry.User, entry.Connection, []));
                break;
            case Reclaim reclaim:
                _log.Warning("{0} is held by {1}; {2} lost it when its claim moved and someone took it meanwhile",
                    entry.User, entry.Connection, reclaim.Connection);
                sender.Tell(new ClaimRefused(reclaim.Connection, Taken(entry.User)));
                break;
            case DeliverPrivate pm:
                var frame = new PrivateMessageFrame(pm.From, entry.User, pm.Text, pm.Ts);
                entry.Connection.Tell(frame);
                if (!entry.Connection.Equals(sender)) sender.Tell(frame);
                break;
            case Release release when release.Connection.Equals(entry.Connection):
                MakeFree(entry);
                break;
        }
    }

    // ------------------------------------------------------------------ transitions

    private void Add(Entry entry)
    {
        _names.Add(entry.Key, entry);
        _nameOf[entry.Connection] = entry.Key;
        Context.Watch(entry.Connection);
    }

    private void Hold(Entry entry, string user, IActorRef registry, IReadOnlyList<PrivateMessageFrame> offline)
    {
        entry.User = user;
        entry.CheckingFor = null;
        registry.Tell(new ClaimGranted(user, entry.Connection, offline));
        Replay(entry);
    }

    private void MakeFree(Entry entry)
    {
        _names.Remove(entry.Key);
        _nameOf.Remove(entry.Connection);
        Context.Unwatch(entry.Connection);
        Replay(entry);
    }

    /// <summary>
    /// What waited while the login was checked, handled now, in order and before anything that
    /// arrived later (as an unstash would). None of it is a claim, so none of it starts a check again.
    /// </summary>
    private void Replay(Entry entry)
    {
        if (entry.Waiting is not { } waiting) return;
        entry.Waiting = null;
        foreach (var (message, sender) in waiting) Dispatch(message, sender);
    }

    private Entry? CheckingOf(IActorRef connection) =>
        _nameOf.TryGetValue(connection, out var name) && _names.TryGetValue(name, out var entry) && entry.CheckingFor is not null
            ? entry
            : null;

    private void PassivateWhenEmpty()
    {
        bool empty = _names.Count == 0;
        if (empty == _timeoutSet) return;
        Context.SetReceiveTimeout(empty ? _passivateWhenEmpty : null);
        _timeoutSet = empty;
    }

    private static ErrorFrame Taken(string name) =>
        new(ErrorCodes.UsernameTaken, $"the name \"{name}\" is taken; choose another");
}
