using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Messenger.Accounts;
using Messenger.Cluster;
using Messenger.Protocol;

namespace Messenger.Chat;

/// <summary>A message for the claim on <paramref name="Name"/> (any case: one claim per name ignoring case).</summary>
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
/// sender is the claim, which the registry watches.
/// </summary>
public sealed record ClaimGranted(string User, IActorRef Connection, IReadOnlyList<PrivateMessageFrame> Offline) : ICrossNodeMessage;
public sealed record ClaimRefused(IActorRef Connection, ErrorFrame Error) : ICrossNodeMessage;
/// <summary>
/// From the registry of a connection logged in as <paramref name="User"/> whose claim stopped (its
/// node left or died): hold the name for it again. Answered with <see cref="ClaimGranted"/>.
/// </summary>
public sealed record Reclaim(string User, IActorRef Connection) : ICrossNodeMessage;
/// <summary>From the registry: <paramref name="Connection"/> has left the chat; the name is free.</summary>
public sealed record Release(IActorRef Connection) : ICrossNodeMessage;
/// <summary>A private message to this name; the sender is the sending connection, which gets the echo.</summary>
public sealed record DeliverPrivate(string From, string To, string Text, long Ts) : ICrossNodeMessage;

/// <summary>
/// Who holds one name, cluster-wide: a sharded entity (kind <c>claim</c>, keyed by the lower-case
/// name), so two clients racing for a name on two nodes meet here and one of them wins. States:
/// <see cref="Free"/> → <see cref="Checking"/> (the name's account checks the login) →
/// <see cref="Held"/>. It death-watches the holding connection wherever it is, so a connection
/// that dies, or a node that is lost, frees the name. Private messages to the name pass through
/// here, in order, to the holder or, when the name is free, to its account. A held claim is never
/// passivated; a free one stops after <c>free-name-passivate-after</c>. If it stops while held
/// (its shard moves), the holder's registry sees it stop and sends <see cref="Reclaim"/>.
/// </summary>
public sealed class NameClaim : ReceiveActor, IWithUnboundedStash
{
    private readonly IActorRef _accounts;
    private readonly TimeSpan _passivateWhenFree;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public NameClaim(IActorRef accounts, TimeSpan passivateWhenFree)
    {
        _accounts = accounts;
        _passivateWhenFree = passivateWhenFree;
        Free();
    }

    public IStash Stash { get; set; } = null!;

    public static Props Props(IActorRef accounts, TimeSpan passivateWhenFree) =>
        Akka.Actor.Props.Create(() => new NameClaim(accounts, passivateWhenFree));

    /// <summary>Starts this node's claim region (the claims' <see cref="EntityDirectory"/>).</summary>
    public static IActorRef StartRegion(ActorSystem system, IActorRef accounts, TimeSpan passivateWhenFree) =>
        EntityDirectory.Start(system, "claim", _ => Props(accounts, passivateWhenFree));

    // ------------------------------------------------------------------ states

    private void Free()
    {
        Context.SetReceiveTimeout(_passivateWhenFree);
        Receive<Claim>(claim =>
        {
            Context.Watch(claim.Connection);
            _accounts.Tell(new ToAccount(claim.Name, new CheckLogin(claim.Name, claim.Password, claim.Connection)));
            Become(() => Checking(claim.Connection, Sender));
        });
        Receive<Reclaim>(reclaim => Hold(reclaim.User, reclaim.Connection, Sender, []));
        Receive<DeliverPrivate>(pm => _accounts.Tell(new ToAccount(pm.To, new QueueOffline(pm.From, pm.To, pm.Text, pm.Ts)), Sender));
        Receive<Release>(_ => { });
        Receive<LoginAccepted>(_ => { }); // its connection died while the account was checking
        Receive<LoginRefused>(_ => { });
        Receive<Terminated>(_ => { });
        Receive<ReceiveTimeout>(_ => Context.Parent.Tell(new Passivate(StopEntity.Instance)));
        Receive<StopEntity>(_ => Context.Stop(Self));
    }

    /// <summary>The name's account is checking the login of <paramref name="connection"/>; the rest waits.</summary>
    private void Checking(IActorRef connection, IActorRef registry)
    {
        Context.SetReceiveTimeout(null);
        Receive<Claim>(claim => Sender.Tell(new ClaimRefused(claim.Connection, Taken(claim.Name))));
        Receive<LoginAccepted>(accepted => accepted.Connection.Equals(connection), accepted =>
            Hold(accepted.User, connection, registry, accepted.Offline));
        Receive<LoginRefused>(refused => refused.Connection.Equals(connection), refused =>
        {
            Context.Unwatch(connection);
            registry.Tell(new ClaimRefused(connection, refused.Error));
            BecomeFree();
        });
        Receive<Terminated>(t => t.ActorRef.Equals(connection), _ => BecomeFree());
        Receive<StopEntity>(_ => Context.Stop(Self));
        ReceiveAny(_ => Stash.Stash());
    }

    private void Held(string user, IActorRef holder)
    {
        Context.SetReceiveTimeout(null);
        Receive<Claim>(claim => Sender.Tell(new ClaimRefused(claim.Connection, Taken(user))));
        Receive<Reclaim>(reclaim =>
        {
            if (reclaim.Connection.Equals(holder))
            {
                Sender.Tell(new ClaimGranted(user, holder, []));
                return;
            }
            _log.Warning("{0} is held by {1}; {2} lost it when its claim moved and someone took it meanwhile", user, holder, reclaim.Connection);
            Sender.Tell(new ClaimRefused(reclaim.Connection, Taken(user)));
        });
        Receive<DeliverPrivate>(pm =>
        {
            var frame = new PrivateMessageFrame(pm.From, user, pm.Text, pm.Ts);
            holder.Tell(frame);
            if (!holder.Equals(Sender)) Sender.Tell(frame);
        });
        Receive<Release>(release => release.Connection.Equals(holder), _ =>
        {
            Context.Unwatch(holder);
            BecomeFree();
        });
        Receive<Release>(_ => { });
        Receive<Terminated>(t => t.ActorRef.Equals(holder), _ => BecomeFree());
        Receive<Terminated>(_ => { });
        Receive<LoginAccepted>(_ => { });
        Receive<LoginRefused>(_ => { });
        Receive<ReceiveTimeout>(_ => { });
        Receive<StopEntity>(_ => Context.Stop(Self));
    }

    private void Hold(string user, IActorRef connection, IActorRef registry, IReadOnlyList<PrivateMessageFrame> offline)
    {
        Context.Watch(connection);
        registry.Tell(new ClaimGranted(user, connection, offline));
        Become(() => Held(user, connection));
        Stash.UnstashAll();
    }

    private void BecomeFree()
    {
        Become(Free);
        Stash.UnstashAll();
    }

    private static ErrorFrame Taken(string name) =>
        new(ErrorCodes.UsernameTaken, $"the name \"{name}\" is taken; choose another");
}
