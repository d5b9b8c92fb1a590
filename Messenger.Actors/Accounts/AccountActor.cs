using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Messenger.Chat;
using Messenger.Cluster;
using Messenger.Persistence;
using Messenger.Protocol;

namespace Messenger.Accounts;

/// <summary>A message for the account of <paramref name="Name"/> (any case: accounts are one per name ignoring case).</summary>
public sealed record ToAccount(string Name, object Command) : IEntityEnvelope, ICrossNodeMessage
{
    string IEntityEnvelope.EntityId => Name.ToLowerInvariant();
}

// ---- messages (wrapped in ToAccount) ----

/// <summary>
/// From the registry: may <paramref name="Connection"/> log in as <paramref name="User"/>? Answered to
/// the sender with <see cref="LoginAccepted"/> or <see cref="LoginRefused"/>.
/// </summary>
public sealed record CheckLogin(string User, Password? Password, IActorRef Connection) : ICrossNodeMessage;
/// <summary>A guest name, or the right password; <paramref name="Offline"/> are the private messages kept for the user.</summary>
public sealed record LoginAccepted(string User, IActorRef Connection, OfflineMessages Offline) : ICrossNodeMessage;
public sealed record LoginRefused(string User, IActorRef Connection, ErrorFrame Error) : ICrossNodeMessage;
/// <summary>From the connection logged in as <paramref name="User"/>: register the name; answered with a <see cref="RegisteredFrame"/>.</summary>
public sealed record Register(string User, Password Password) : ICrossNodeMessage;
/// <summary>From the connection logged in with the name; answered with a <see cref="PasswordChangedFrame"/>.</summary>
public sealed record ChangePassword(Password Old, Password New) : ICrossNodeMessage;
/// <summary>
/// From the registry on behalf of the sender of a private message to a user who is offline:
/// kept if the name is registered (the sender gets the <c>queued</c> echo), else <c>no_such_user</c>.
/// </summary>
public sealed record QueueOffline(string From, string To, string Text, long Ts) : ICrossNodeMessage;
/// <summary>
/// From the connection that logged in with <see cref="OfflineMessages"/>: they are queued for its
/// client, after its welcome. The account removes those kept up to <paramref name="Through"/>
/// (<see cref="OfflineMessages.Through"/>); any kept since stay for the next login.
/// </summary>
public sealed record OfflineHandedOver(long Through) : ICrossNodeMessage;

/// <summary>
/// The private messages kept for a registered user while offline, handed over at login on their
/// way to the connection (<see cref="LoginAccepted"/>, <see cref="ClaimGranted"/>, <see cref="UserOnline"/>):
/// <paramref name="Frames"/>, oldest first, the last of them kept at journal position
/// <paramref name="Through"/> (0: none). The account keeps them until the connection says it has
/// them (<see cref="OfflineHandedOver"/>): a login that does not finish loses none.
/// </summary>
public sealed record OfflineMessages(IReadOnlyList<PrivateMessageFrame> Frames, long Through)
{
    public static readonly OfflineMessages None = new([], 0);
}

/// <summary>
/// One name's account, persistent: whether the name is registered (and its password hash), and
/// the private messages kept for it while its owner is offline. A sharded entity (kind
/// <c>account</c>, keyed by the lower-case name; see <see cref="EntityDirectory"/>), started for
/// every name that logs in or is written to, and passivated when idle; a guest name's account
/// (nothing registered) stops as soon as it has let the guest in. Kept private messages are handed
/// over at each login and removed only once the connection that logged in has them
/// (<see cref="OfflineHandedOver"/>). Password hashing and checking (PBKDF2, slow on purpose) run on the thread pool; meanwhile
/// the account stashes what else arrives (<see cref="Working"/>). Password attempts are limited
/// per name by a token bucket, so guessing is slow whatever the number of connections, and hashing
/// jobs per node (<see cref="HashJobs"/>), so a flood of them cannot take every core.
/// </summary>
public sealed class AccountActor : ReceivePersistentActor
{
    private sealed record LoginChecked(CheckLogin Request, IActorRef ReplyTo, bool Ok);
    private sealed record RegisterHashed(IActorRef ReplyTo, string User, string Hash);
    private sealed record PasswordChecked(ChangePassword Request, IActorRef ReplyTo, bool Ok);
    private sealed record PasswordHashed(IActorRef ReplyTo, string Hash);
    private sealed record WorkFailed(IActorRef ReplyTo, object Answer);
    /// <summary>
    /// Who waits for the write in progress (one at a time: a write holds every other command until
    /// it is stored), what they are told if it fails, and whether it ends the work of <see cref="Working"/>.
    /// </summary>
    private sealed record PendingWrite(IActorRef ReplyTo, ErrorFrame OnFailure, bool EndsWork);

    private readonly string _id;
    private readonly AccountSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TokenBucket _attempts;
    private readonly HashJobs _hashJobs = HashJobs.Get(Context.System);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<(OfflineMessageQueued Message, long SequenceNr)> _offline = new(); // oldest first
    private string? _registeredName;
    private string? _hash;
    private PendingWrite? _pendingWrite;

    public AccountActor(string id, AccountSettings settings)
    {
        _id = id;
        _settings = settings;
        _attempts = new TokenBucket(settings.FailedLoginsPerSecond, settings.FailedLoginsBurst, 0);

        Recover<AccountRegistered>(Apply);
        Recover<PasswordChanged>(Apply);
        Recover<OfflineMessageQueued>(Apply);
        Recover<OfflineMessagesDelivered>(Apply);
        Recover<OfflineMessagesHandedOver>(Apply);
        Ready();
    }

    public static Props Props(string id, AccountSettings settings) => Akka.Actor.Props.Create(() => new AccountActor(id, settings));

    /// <summary>Starts this node's account region (the accounts' <see cref="EntityDirectory"/>).</summary>
    public static IActorRef StartRegion(ActorSystem system, AccountSettings settings) =>
        EntityDirectory.Start(system, "account", id => Props(id, settings));

    /// <summary>An account's persistence id is this and its lower-case name.</summary>
    public const string PersistenceIdPrefix = "account-";

    public override string PersistenceId => PersistenceIdPrefix + _id;

    protected override void PreStart()
    {
        base.PreStart();
        Context.SetReceiveTimeout(_settings.PassivateAfter);
    }

    private void Apply(AccountRegistered e) => (_registeredName, _hash) = (e.Name, e.PasswordHash);
    private void Apply(PasswordChanged e) => _hash = e.PasswordHash;
    /// <summary>While recovering, and in a persist's handler, <see cref="Eventsourced.LastSequenceNr"/> is the event's own.</summary>
    private void Apply(OfflineMessageQueued e) => _offline.Add((e, LastSequenceNr));
    private void Apply(OfflineMessagesDelivered _) => _offline.Clear();
    private void Apply(OfflineMessagesHandedOver e) => _offline.RemoveAll(m => m.SequenceNr <= e.Through);

    // ------------------------------------------------------------------ behaviours

    private void Ready()
    {
        Command<CheckLogin>(OnCheckLogin);
        Command<Register>(OnRegister);
        Command<ChangePassword>(OnChangePassword);
        Command<QueueOffline>(OnQueueOffline);
        Command<OfflineHandedOver>(OnOfflineHandedOver);
        Command<ReceiveTimeout>(_ => Context.Parent.Tell(new Passivate(StopEntity.Instance)));
        Command<StopEntity>(_ => Context.Stop(Self));
    }

    /// <summary>A password is being hashed or checked off this thread; everything else waits.</summary>
    private void Working()
    {
        Command<LoginChecked>(OnLoginChecked);
        Command<RegisterHashed>(h => Write(new AccountRegistered(h.User, h.Hash),
            new PendingWrite(h.ReplyTo, NotStored($"the registration of \"{h.User}\" was not stored: the server's database write failed; try again"), EndsWork: true), e =>
            {
                Apply(e);
                _log.Info("{0} registered", e.Name);
                h.ReplyTo.Tell(new RegisteredFrame(e.Name));
                BackToReady();
            }));
        Command<PasswordChecked>(OnPasswordChecked);
        Command<PasswordHashed>(h => Write(new PasswordChanged(h.Hash),
            new PendingWrite(h.ReplyTo, NotStored("the new password was not stored: the server's database write failed; try again (the old password may still be the one in force)"), EndsWork: true), e =>
            {
                Apply(e);
                h.ReplyTo.Tell(PasswordChangedFrame.Instance);
                BackToReady();
            }));
        Command<WorkFailed>(f =>
        {
            f.ReplyTo.Tell(f.Answer);
            BackToReady();
        });
        // Not stashed: a login being checked meanwhile hands over only what is still kept.
        Command<OfflineHandedOver>(OnOfflineHandedOver);
        Command<ReceiveTimeout>(_ => { });
        CommandAny(_ => Stash.Stash());
    }

    private void BackToReady()
    {
        Become(Ready);
        Stash.UnstashAll();
    }

    // ------------------------------------------------------------------ login

    private void OnCheckLogin(CheckLogin check)
    {
        if (_hash is null)
        {
            // A guest name: its account holds nothing, so it stops now rather than after
            // passivate-after, and a logged-in guest costs no account actor.
            Sender.Tell(new LoginAccepted(check.User, check.Connection, OfflineMessages.None));
            Context.Parent.Tell(new Passivate(StopEntity.Instance));
            return;
        }
        if (check.Password is null)
        {
            Sender.Tell(new LoginRefused(check.User, check.Connection, new ErrorFrame(ErrorCodes.NameRegistered,
                $"\"{_registeredName}\" is a registered name: log in with its password, {{\"type\":\"hello\",\"user\":\"{_registeredName}\",\"password\":…}}")));
            return;
        }
        if (!TryHashJob(Sender, new LoginRefused(check.User, check.Connection, Busy()), new LoginRefused(check.User, check.Connection, TooManyAttempts())))
            return;
        var replyTo = Sender;
        var hash = _hash;
        var password = check.Password.Text;
        Become(Working);
        _hashJobs.Run(() => PasswordHasher.Verify(password, hash)).PipeTo(Self,
            success: ok => new LoginChecked(check, replyTo, ok),
            failure: _ => new WorkFailed(replyTo, new LoginRefused(check.User, check.Connection, Unavailable())));
    }

    private void OnLoginChecked(LoginChecked checkedLogin)
    {
        var check = checkedLogin.Request;
        if (!checkedLogin.Ok)
        {
            _log.Info("wrong password for {0}", _registeredName);
            checkedLogin.ReplyTo.Tell(new LoginRefused(check.User, check.Connection,
                new ErrorFrame(ErrorCodes.WrongPassword, $"wrong password for \"{_registeredName}\"")));
            BackToReady();
            return;
        }
        // Kept until the connection has them (OnOfflineHandedOver): if this login does not finish
        // (the connection closes before its welcome), the next one gets them.
        var offline = _offline.Count == 0
            ? OfflineMessages.None
            : new OfflineMessages(_offline.Select(m => new PrivateMessageFrame(m.Message.From, _registeredName!, m.Message.Text, m.Message.Ts, Offline: true)).ToArray(),
                _offline[^1].SequenceNr);
        checkedLogin.ReplyTo.Tell(new LoginAccepted(_registeredName!, check.Connection, offline));
        BackToReady();
    }

    // ------------------------------------------------------------------ register and passwd

    private void OnRegister(Register register)
    {
        if (_hash is not null)
        {
            Sender.Tell(new ErrorFrame(ErrorCodes.AlreadyRegistered, $"\"{_registeredName}\" is registered already; change its password with passwd"));
            return;
        }
        if (!TryHashJob(Sender, Busy())) return;
        var replyTo = Sender;
        var password = register.Password.Text;
        int iterations = _settings.Pbkdf2Iterations;
        Become(Working);
        _hashJobs.Run(() => PasswordHasher.Hash(password, iterations)).PipeTo(Self,
            success: hash => new RegisterHashed(replyTo, register.User, hash),
            failure: _ => new WorkFailed(replyTo, Unavailable()));
    }

    private void OnChangePassword(ChangePassword change)
    {
        if (_hash is null)
        {
            Sender.Tell(new ErrorFrame(ErrorCodes.NotRegistered, "this name is not registered: register it first"));
            return;
        }
        if (!TryHashJob(Sender, Busy(), TooManyAttempts())) return;
        var replyTo = Sender;
        var hash = _hash;
        var old = change.Old.Text;
        Become(Working);
        _hashJobs.Run(() => PasswordHasher.Verify(old, hash)).PipeTo(Self,
            success: ok => new PasswordChecked(change, replyTo, ok),
            failure: _ => new WorkFailed(replyTo, Unavailable()));
    }

    private void OnPasswordChecked(PasswordChecked check)
    {
        if (!check.Ok)
        {
            check.ReplyTo.Tell(new ErrorFrame(ErrorCodes.WrongPassword, "the old password is wrong"));
            BackToReady();
            return;
        }
        var replyTo = check.ReplyTo;
        if (!_hashJobs.TryTake())
        {
            replyTo.Tell(Busy());
            BackToReady();
            return;
        }
        var password = check.Request.New.Text;
        int iterations = _settings.Pbkdf2Iterations;
        _hashJobs.Run(() => PasswordHasher.Hash(password, iterations)).PipeTo(Self,
            success: hash => new PasswordHashed(replyTo, hash),
            failure: _ => new WorkFailed(replyTo, Unavailable()));
    }

    // ------------------------------------------------------------------ offline messages

    private void OnQueueOffline(QueueOffline pm)
    {
        if (_hash is null)
        {
            Sender.Tell(NoSuchUser(pm.To));
            return;
        }
        if (_offline.Count >= _settings.OfflineLimit)
        {
            Sender.Tell(new ErrorFrame(ErrorCodes.MailboxFull,
                $"\"{_registeredName}\" is offline and has {_offline.Count} messages waiting, the limit; try later"));
            return;
        }
        var sender = Sender;
        Write(new OfflineMessageQueued(pm.From, pm.Text, pm.Ts),
            new PendingWrite(sender, NotStored($"your message to \"{_registeredName}\" (offline) was not kept: the server's database write failed; it reached no one"), EndsWork: false), e =>
            {
                Apply(e);
                sender.Tell(new PrivateMessageFrame(e.From, _registeredName!, e.Text, e.Ts, Queued: true));
            });
    }

    /// <summary>The connection that logged in has the kept messages up to <see cref="OfflineHandedOver.Through"/>: they are removed.</summary>
    private void OnOfflineHandedOver(OfflineHandedOver handedOver)
    {
        if (_offline.Count == 0 || _offline[0].SequenceNr > handedOver.Through) return; // none of them is kept any more
        // Nobody waits: if this write fails, the messages stay kept and the next login gets them again.
        Write(new OfflineMessagesHandedOver(handedOver.Through), null, Apply);
    }

    // ------------------------------------------------------------------ journal writes

    /// <summary>Persists <paramref name="e"/>; while it is written, <paramref name="waiting"/> (if any) is who is answered should it fail.</summary>
    private void Write<TEvent>(TEvent e, PendingWrite? waiting, Action<TEvent> stored)
    {
        _pendingWrite = waiting;
        Persist(e, written =>
        {
            _pendingWrite = null;
            stored(written);
        });
    }

    /// <summary>
    /// The journal failed the write (Akka then stops the account; it starts again, from the journal,
    /// at its next message): whoever waits for it is told it was not stored. Commands that arrived
    /// meanwhile go to dead letters with the account; their senders have deadlines of their own
    /// (a login's, a connection's wait for an account's answer).
    /// </summary>
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "account {0}: writing {1} (event {2}) failed; the account restarts at its next message", _id, @event.GetType().Name, sequenceNr);
        _pendingWrite?.ReplyTo.Tell(_pendingWrite.OnFailure);
        _pendingWrite = null;
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    /// <summary>The journal refused the event (it could not be serialized); the account goes on without it.</summary>
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "account {0}: the journal refused {1} (event {2})", _id, @event.GetType().Name, sequenceNr);
        if (_pendingWrite is not { } waiting) return;
        _pendingWrite = null;
        waiting.ReplyTo.Tell(waiting.OnFailure);
        if (waiting.EndsWork) BackToReady();
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>
    /// Takes a place among the node's hashing jobs (else answers <paramref name="busy"/>) and, for a
    /// password check, then an attempt from this name's bucket (else answers <paramref name="tooManyAttempts"/>):
    /// a check refused for a busy server costs the name no attempt.
    /// </summary>
    private bool TryHashJob(IActorRef replyTo, object busy, object? tooManyAttempts = null)
    {
        if (!_hashJobs.TryTake())
        {
            replyTo.Tell(busy);
            return false;
        }
        if (tooManyAttempts is null || _attempts.TryTake(_clock.Elapsed.Ticks)) return true;
        _hashJobs.Release();
        replyTo.Tell(tooManyAttempts);
        return false;
    }

    private static ErrorFrame Busy() => new(ErrorCodes.RateLimited,
        "the server is busy checking passwords; try again in a moment");

    private ErrorFrame TooManyAttempts() => new(ErrorCodes.RateLimited,
        $"too many password attempts for \"{_registeredName}\"; at most {_settings.FailedLoginsBurst} at once, then one every {1 / _settings.FailedLoginsPerSecond:0.#} s");

    /// <summary>The answer to a private message for <paramref name="name"/>, offline and not registered.</summary>
    public static ErrorFrame NoSuchUser(string name) => new(ErrorCodes.NoSuchUser, $"no user named \"{name}\" is online");

    private static ErrorFrame NotStored(string message) => new(ErrorCodes.NotStored, message);

    private static ErrorFrame Unavailable() => new(ErrorCodes.BadRequest, "the account is not available right now; try again");
}
