using Akka.Actor;

namespace Messenger.Persistence;

/// <summary>Sent by an entity to its directory when it is idle: the directory stops it with <paramref name="StopMessage"/>.</summary>
public sealed record Passivate(object StopMessage);

/// <summary>The stop message a directory sends a passivating entity: stop now.</summary>
public sealed record StopEntity { public static readonly StopEntity Instance = new(); }

/// <summary>
/// The one parent of every entity of a kind (rooms, accounts), keyed by name: it creates an
/// entity on its first message and forwards (keeping the sender) every message for that name.
/// An idle entity asks to stop with <see cref="Passivate"/>; messages for it that arrive while it
/// stops are held and handed to its next incarnation. This is the contract of
/// Akka.Cluster.Sharding's shard region (envelope in, <c>Passivate</c> out), so a region can
/// replace a directory without touching the entities.
/// </summary>
public abstract class EntityDirectory : ReceiveActor
{
    private readonly Dictionary<string, IActorRef> _entities = new();
    private readonly Dictionary<IActorRef, string> _names = new();
    private readonly Dictionary<string, List<(object Message, IActorRef Sender)>> _heldWhileStopping = new();

    protected EntityDirectory()
    {
        Receive<Passivate>(OnPassivate);
        Receive<Terminated>(t => OnTerminated(t.ActorRef));
    }

    /// <summary>Entities running (or stopping).</summary>
    protected int EntityCount => _entities.Count;

    protected abstract Props EntityProps(string name);

    /// <summary>Called when an entity has stopped and no message is waiting for it.</summary>
    protected virtual void EntityStopped(string name)
    {
    }

    protected bool IsRunning(string name) => _entities.ContainsKey(name);

    protected string? NameOf(IActorRef entity) => _names.GetValueOrDefault(entity);

    /// <summary>Forwards <paramref name="message"/> to the entity <paramref name="name"/>, starting it if needed.</summary>
    protected void Deliver(string name, object message)
    {
        if (_heldWhileStopping.TryGetValue(name, out var held))
        {
            held.Add((message, Sender));
            return;
        }
        if (!_entities.TryGetValue(name, out var entity)) entity = Start(name);
        entity.Forward(message);
    }

    private IActorRef Start(string name)
    {
        var entity = Context.ActorOf(EntityProps(name), Uri.EscapeDataString(name));
        Context.Watch(entity);
        _entities[name] = entity;
        _names[entity] = name;
        return entity;
    }

    private void OnPassivate(Passivate passivate)
    {
        if (NameOf(Sender) is not { } name || _heldWhileStopping.ContainsKey(name)) return;
        _heldWhileStopping[name] = [];
        Sender.Tell(passivate.StopMessage);
    }

    private void OnTerminated(IActorRef entity)
    {
        if (!_names.Remove(entity, out var name)) return;
        _entities.Remove(name);
        if (_heldWhileStopping.Remove(name, out var held) && held.Count > 0)
        {
            var next = Start(name);
            foreach (var (message, sender) in held) next.Tell(message, sender);
            return;
        }
        EntityStopped(name);
    }
}
