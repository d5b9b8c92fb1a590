using System.Collections.Concurrent;
using Akka.Actor;
using Messenger.Protocol;

namespace Messenger.Net;

/// <summary>
/// The outbound queues of this node's connections, by their actor (an Akka extension: one per
/// actor system, so each node of a cluster in one process has its own). A connection adds its
/// queue when it starts and removes it when it stops. An actor that fans out (a room, the presence
/// actor) looks a member up once and then writes the member's frames straight into its queue, in
/// its own turn, instead of telling the member's actor: one thread-pool task fewer per member per
/// fan-out. A member that is not here is on another node: it is told, as before.
/// </summary>
public sealed class Outboxes : IExtension
{
    private readonly ConcurrentDictionary<IActorRef, OutboundQueue> _byConnection = new();

    public static Outboxes Get(ActorSystem system) => system.WithExtension<Outboxes, OutboxesProvider>();

    public void Add(IActorRef connection, OutboundQueue queue) => _byConnection[connection] = queue;

    public void Remove(IActorRef connection) => _byConnection.TryRemove(connection, out _);

    /// <summary>The queue of <paramref name="actor"/> if it is a connection of this node, else null.</summary>
    public OutboundQueue? Find(IActorRef actor) => _byConnection.GetValueOrDefault(actor);

    /// <summary>How to reach <paramref name="actor"/>: through its queue if it is a connection of this node.</summary>
    public Recipient RecipientOf(IActorRef actor) => new(actor, Find(actor));
}

public sealed class OutboxesProvider : ExtensionIdProvider<Outboxes>
{
    public override Outboxes CreateExtension(ExtendedActorSystem system) => new();
}

/// <summary>
/// Where a fan-out sends one member's frames: into <paramref name="Outbox"/>, its queue on this
/// node, or, for a member elsewhere (no queue here), as messages to <paramref name="Actor"/>. Every
/// frame one sender sends one member goes the same way, so the member gets them in the order sent.
/// </summary>
public readonly record struct Recipient(IActorRef Actor, OutboundQueue? Outbox)
{
    /// <summary>True when frames are written here rather than told: a message that must follow them (an answer's cue) is told after they are written.</summary>
    public bool IsLocal => Outbox is not null;

    /// <summary>Queues <paramref name="frame"/> for <paramref name="lane"/> (the sender's) to write, or tells it.</summary>
    public void Send(ServerFrame frame, OutboundQueue.FlushLane lane, IActorRef sender)
    {
        if (Outbox is { } outbox) outbox.Write(frame.Line, lane);
        else Actor.Tell(frame, sender);
    }
}
