using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.Event;
using Akka.Persistence;
using Messenger.Accounts;
using Messenger.Cluster;
using Messenger.Persistence;
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
public sealed record ClaimGranted(string User, IActorRef Connection, OfflineMessages Offline) : ICrossNodeMessage;
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
/// From the registry: <paramref name="Connection"/>, which holds the name, registers it. The claim
/// notes the name as registered, then hands the registration to the name's account, which answers
/// the connection.
/// </summary>
public sealed record RegisterHeldName(Password Password, IActorRef Connection) : ICrossNodeMessage;

/// <summary>
/// Starts bucket <paramref name="Bucket"/>'s entity if it is not running, and asks for
/// <see cref="ClaimsAwake"/> once it has its list of registered names: each node wakes every bucket
/// before it opens its chat port, so no login waits for a bucket to read its journal.
/// </summary>
public sealed record WakeClaims(int Bucket) : IBucketMessage, ICrossNodeMessage;
/// <summary>The answer to <see cref="WakeClaims"/>: bucket <paramref name="Bucket"/> is ready for logins.</summary>
public sealed record ClaimsAwake(int Bucket) : ICrossNodeMessage;

/// <summary>Tunables of the name claims, read from <c>messenger.chat</c> and <c>messenger.cluster</c> in HOCON.</summary>
/// <param name="Buckets">Buckets of names (one claims entity each): <c>messenger.cluster.shards</c>.</param>
/// <param name="RegisteredNamesReadJournal">Read journal a bucket without its list of registered names builds it from; "" = none.</param>
/// <param name="WakeRetry">At start, a bucket that has not answered <see cref="WakeClaims"/> within this is woken again.</param>
/// <param name="WakeTimeout">At start, the chat port opens after this even if some buckets are not ready.</param>
public sealed record NameClaimSettings(TimeSpan PassivateWhenEmpty, int Buckets, string RegisteredNamesReadJournal,
    TimeSpan WakeRetry, TimeSpan WakeTimeout)
{
    public static NameClaimSettings FromConfig(Config config) => new(
        config.GetTimeSpan("messenger.chat.free-name-passivate-after"),
        config.GetInt("messenger.cluster.shards"),
        config.GetString("messenger.chat.registered-names-read-journal"),
        config.GetTimeSpan("messenger.chat.claims-wake-retry"),
        config.GetTimeSpan("messenger.chat.claims-wake-timeout"));
}

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
/// <para>The entity is persistent: it keeps which names of its bucket are registered (every
/// registration passes through here, <see cref="RegisterHeldName"/>, and is stored before the
/// account is asked), so a name that is not registered, the usual guest, is let in (and a private
/// message to it answered <c>no_such_user</c>) without starting its account, which would read the
/// journal for every guest login. The list may hold a name whose registration then failed: such a
/// name is simply asked of its account, as every registered one is. A bucket whose journal has no
/// list yet (written before the list existed, or under another number of buckets) builds it once,
/// before anything else, from the accounts' persistence ids (<see cref="RegisteredNamesIndexed"/>).</para>
/// </summary>
public sealed class NameClaims : UntypedPersistentActor
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

    /// <summary>The registered names of this bucket found in the accounts' persistence ids (or why not).</summary>
    private sealed record AccountsScanned(IReadOnlyList<string>? Names, Exception? Failure = null);

    private readonly IActorRef _accounts;
    private readonly int _bucket;
    private readonly NameClaimSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, Entry> _names = new(); // by lower-case name
    private readonly Dictionary<IActorRef, string> _nameOf = new(); // watched connections
    private readonly HashSet<string> _registered = new(); // lower-case names that are (or may be) registered
    private bool _indexed; // _registered is complete: the bucket's list was recovered or built
    private bool _timeoutSet;

    public NameClaims(IActorRef accounts, int bucket, NameClaimSettings settings)
    {
        _accounts = accounts;
        _bucket = bucket;
        _settings = settings;
    }

    public static Props Props(IActorRef accounts, int bucket, NameClaimSettings settings) =>
        Akka.Actor.Props.Create(() => new NameClaims(accounts, bucket, settings));

    /// <summary>Starts this node's claim region.</summary>
    public static IActorRef StartRegion(ActorSystem system, IActorRef accounts, NameClaimSettings settings) =>
        EntityDirectory.StartBuckets(system, "claim",
            bucket => Props(accounts, int.Parse(bucket, System.Globalization.CultureInfo.InvariantCulture), settings));

    /// <summary>
    /// Wakes every bucket and completes when each has its list of registered names (read now, not
    /// at a login), or after <see cref="NameClaimSettings.WakeTimeout"/>; returns the buckets not
    /// ready by then. A bucket that does not answer within <see cref="NameClaimSettings.WakeRetry"/>
    /// is woken again: one whose recovery failed (the journal refused a connection) has stopped, and
    /// a wake that reached a bucket as its shard was handed to another node went with it.
    /// </summary>
    public static async Task<IReadOnlyCollection<int>> WakeAllAsync(IActorRef region, NameClaimSettings settings)
    {
        var asleep = Enumerable.Range(0, settings.Buckets).ToHashSet();
        var deadline = Stopwatch.StartNew();
        while (asleep.Count > 0 && deadline.Elapsed < settings.WakeTimeout)
        {
            var wait = settings.WakeTimeout - deadline.Elapsed;
            if (wait > settings.WakeRetry) wait = settings.WakeRetry;
            var awake = await Task.WhenAll(asleep.Select(async bucket =>
            {
                try
                {
                    return (await region.Ask<ClaimsAwake>(new WakeClaims(bucket), wait)).Bucket;
                }
                catch (AskTimeoutException)
                {
                    return -1;
                }
            }));
            asleep.ExceptWith(awake);
        }
        return asleep;
    }

    /// <summary>Names the number of buckets too: under another number the names are spread differently, and the list is built again.</summary>
    public override string PersistenceId => $"name-claims-{_settings.Buckets}-{_bucket}";

    /// <summary>The bucket takes no snapshots: its recovery does not ask the snapshot store (one query less per bucket start).</summary>
    public override Recovery Recovery => new(SnapshotSelectionCriteria.None);

    protected override void PreStart()
    {
        base.PreStart();
        PassivateWhenEmpty();
    }

    protected override void OnRecover(object message)
    {
        switch (message)
        {
            case RegisteredNamesIndexed indexed:
                _registered.UnionWith(indexed.Names);
                _indexed = true;
                break;
            case NameRegistered registered:
                _registered.Add(registered.Name);
                break;
            case RecoveryCompleted when !_indexed:
                BuildIndex();
                break;
        }
    }

    /// <summary>
    /// Reads which names of this bucket have an account in the journal (<see cref="RegisteredNamesScan"/>,
    /// shared with the node's other buckets) and stores them as the bucket's list; everything else waits.
    /// </summary>
    private void BuildIndex()
    {
        if (_settings.RegisteredNamesReadJournal.Length == 0)
        {
            StoreIndex([]);
            return;
        }
        int bucket = _bucket, buckets = _settings.Buckets;
        RegisteredNamesScan.Get(Context.System).NamesAsync(_settings.RegisteredNamesReadJournal)
            .PipeTo(Self, success: names => new AccountsScanned(names.Where(name => BucketExtractor.BucketOf(name, buckets) == bucket).ToList()),
                failure: e => new AccountsScanned(null, e));
    }

    private void StoreIndex(IReadOnlyList<string> names) => Persist(new RegisteredNamesIndexed(names), e =>
    {
        _registered.UnionWith(e.Names);
        _indexed = true;
        if (e.Names.Count > 0) _log.Info("claims bucket {0}: list of registered names built from the accounts ({1} names)", _bucket, e.Names.Count);
        Stash.UnstashAll();
    });

    protected override void OnCommand(object message)
    {
        if (!_indexed)
        {
            switch (message)
            {
                case AccountsScanned { Names: { } names }:
                    StoreIndex(names);
                    break;
                case AccountsScanned failed:
                    // Nothing can be decided without the list: stop; the next message starts the bucket again.
                    _log.Error(failed.Failure, "claims bucket {0}: cannot read the accounts to list the registered names", _bucket);
                    Context.Stop(Self);
                    break;
                default:
                    // A StopEntity (passivation, or the shard handed to another node) waits too: the
                    // bucket stops once its list is stored and what came before the stop is answered.
                    Stash.Stash();
                    break;
            }
            return;
        }
        switch (message)
        {
            case ToClaim envelope:
                Dispatch(envelope, Sender);
                break;
            case WakeClaims wake:
                Sender.Tell(new ClaimsAwake(wake.Bucket));
                break;
            case LoginAccepted accepted:
                // A connection that closed during the check is not held; its kept messages stay with
                // the account, which removes them only once a connection has them.
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
            case Claim claim when !_registered.Contains(key):
                // A guest name: nothing to check (a password given for it is ignored, as the account would).
                var guest = new Entry(key, claim.Connection, sender);
                Add(guest);
                Hold(guest, claim.Name, sender, OfflineMessages.None);
                break;
            case Claim claim:
                Add(new Entry(key, claim.Connection, sender));
                _accounts.Tell(new ToAccount(claim.Name, new CheckLogin(claim.Name, claim.Password, claim.Connection)));
                break;
            case Reclaim reclaim:
                var entry = new Entry(key, reclaim.Connection, sender);
                Add(entry);
                Hold(entry, reclaim.User, sender, OfflineMessages.None);
                break;
            case DeliverPrivate pm when !_registered.Contains(key):
                sender.Tell(AccountActor.NoSuchUser(pm.To));
                break;
            case DeliverPrivate pm:
                _accounts.Tell(new ToAccount(pm.To, new QueueOffline(pm.From, pm.To, pm.Text, pm.Ts)), sender);
                break;
            case RegisterHeldName register:
                register.Connection.Tell(NotHeld());
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
                sender.Tell(new ClaimGranted(entry.User, entry.Connection, OfflineMessages.None));
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
            case RegisterHeldName register when !register.Connection.Equals(entry.Connection):
                register.Connection.Tell(NotHeld());
                break;
            case RegisterHeldName register when _registered.Contains(entry.Key):
                // Registered already, or so it may be: the account knows.
                _accounts.Tell(new ToAccount(entry.User, new Register(entry.User, register.Password)), register.Connection);
                break;
            case RegisterHeldName register:
                // Noted first: from now on a guest claiming the name is asked of the account, which
                // (registering meanwhile) refuses it once the registration is stored.
                Persist(new NameRegistered(entry.Key), e =>
                {
                    _registered.Add(e.Name);
                    _accounts.Tell(new ToAccount(entry.User, new Register(entry.User, register.Password)), register.Connection);
                });
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

    private void Hold(Entry entry, string user, IActorRef registry, OfflineMessages offline)
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
        Context.SetReceiveTimeout(empty ? _settings.PassivateWhenEmpty : null);
        _timeoutSet = empty;
    }

    private static ErrorFrame NotHeld() =>
        new(ErrorCodes.NotLoggedIn, "this connection does not hold its name any more; log in again");

    private static ErrorFrame Taken(string name) =>
        new(ErrorCodes.UsernameTaken, $"the name \"{name}\" is taken; choose another");
}
