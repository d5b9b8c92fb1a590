using Akka.Actor;

namespace Messenger.Tests.Support;

/// <summary>Actor tests run the chat as the server does, on a cluster: this one joins itself.</summary>
public static class ClusterOfOne
{
    /// <summary>Joins the system's node to itself; sharded entities answer once it is up (regions hold messages until then).</summary>
    public static void Join(ActorSystem system)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        cluster.Join(cluster.SelfAddress);
    }
}
