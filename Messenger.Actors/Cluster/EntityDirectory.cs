using Akka.Actor;
using System.Globalization;
using Akka.Cluster.Sharding;
using Akka.Util;

namespace Messenger.Cluster;

/// <summary>A message for one sharded entity: <see cref="EntityId"/> picks it, <see cref="Command"/> is what it gets.</summary>
public interface IEntityEnvelope
{
    string EntityId { get; }
    object Command { get; }
}

/// <summary>
/// The stop message of an entity: sent by its shard when the entity asked to passivate
/// (<see cref="Passivate"/>) and when its shard is handed to another node. Persistent entities
/// finish the writes in flight before they stop (a <c>PoisonPill</c> would not wait).
/// </summary>
public sealed record StopEntity { public static readonly StopEntity Instance = new(); }

/// <summary>
/// Entity ids to shards with a stable hash (<see cref="HashCodeMessageExtractor"/>: Murmur3 of the
/// id, the same in every process, never <c>string.GetHashCode</c>).
/// </summary>
public sealed class EnvelopeExtractor(int shards) : HashCodeMessageExtractor(shards)
{
    public override string EntityId(object message) => message is IEntityEnvelope e ? e.EntityId : null!;

    public override object EntityMessage(object message) => message is IEntityEnvelope e ? e.Command : message;
}

/// <summary>A message for one bucket entity by its number (not for a key in it).</summary>
public interface IBucketMessage
{
    int Bucket { get; }
}

/// <summary>
/// Keys to bucket entities: for a kind whose state per key is small (a name's claim), one entity
/// holds the keys of a bucket (their hash modulo the number of shards, the same in every process)
/// and gets each envelope whole, since it needs the key.
/// </summary>
public sealed class BucketExtractor(int shards) : HashCodeMessageExtractor(shards)
{
    public override string EntityId(object message) => message switch
    {
        IEntityEnvelope e => BucketOf(e.EntityId, MaxNumberOfShards).ToString(CultureInfo.InvariantCulture),
        IBucketMessage b => b.Bucket.ToString(CultureInfo.InvariantCulture),
        _ => null!,
    };

    /// <summary>The bucket of <paramref name="key"/> among <paramref name="buckets"/>.</summary>
    public static int BucketOf(string key, int buckets) => (int)((uint)MurmurHash.StringHash(key) % (uint)buckets);

    public override object EntityMessage(object message) => message;
}

/// <summary>
/// One directory per kind of entity (rooms, accounts, name claims), keyed by name (name claims by
/// bucket of names): a cluster sharding region. Every node runs the region of every kind; a message for a name goes to the
/// one node that hosts its shard, which starts the entity on the first message. An idle entity
/// asks its shard to stop it (<see cref="Passivate"/> with <see cref="StopEntity"/>); messages that
/// arrive meanwhile are held and handed to its next incarnation. Shards move when nodes join or
/// leave, so an entity keeps in memory only what it can rebuild (its journal) or what the
/// actors that depend on it tell it again when they see it stop (unless <see cref="NodeIsLeaving"/>).
/// </summary>
public static class EntityDirectory
{
    /// <summary>
    /// This node's coordinated shutdown has begun: an entity that stops now is being handed off by
    /// this node's own regions. Asking for it again would call its shard back to the region that is
    /// handing it off, and the region's graceful shutdown would wait out its phase timeout.
    /// </summary>
    public static bool NodeIsLeaving(ActorSystem system) => CoordinatedShutdown.Get(system).ShutdownReason is not null;

    /// <summary>One entity per key (its <see cref="IEntityEnvelope.EntityId"/>), which gets the envelope's command.</summary>
    public static IActorRef Start(ActorSystem system, string kind, Func<string, Props> entityProps) =>
        Start(system, kind, entityProps, new EnvelopeExtractor(Shards(system)));

    /// <summary>One entity per bucket of keys (<see cref="BucketExtractor"/>, its id the bucket's number), which gets the envelopes whole.</summary>
    public static IActorRef StartBuckets(ActorSystem system, string kind, Func<string, Props> bucketProps) =>
        Start(system, kind, bucketProps, new BucketExtractor(Shards(system)));

    private static IActorRef Start(ActorSystem system, string kind, Func<string, Props> entityProps, IMessageExtractor extractor)
    {
        var sharding = ClusterSharding.Get(system);
        var settings = ClusterShardingSettings.Create(system);
        return sharding.Start(kind, entityProps, settings, extractor, sharding.DefaultShardAllocationStrategy(settings), StopEntity.Instance);
    }

    private static int Shards(ActorSystem system) => system.Settings.Config.GetInt("messenger.cluster.shards");
}
