using Akka.Actor;
using Akka.Configuration;
using Akka.Event;

namespace Messenger.Cluster;

/// <summary>
/// This process as a node of the cluster (<c>messenger.cluster</c> in HOCON): the remoting
/// address it listens on, and the join to its seed nodes.
/// </summary>
public static class ClusterNode
{
    /// <summary>The remoting settings, from <c>messenger.bind</c> and <c>messenger.cluster</c>.</summary>
    public static Config Prepare(Config config)
    {
        var bind = config.GetString("messenger.bind");
        var hostname = config.GetString("messenger.cluster.hostname");
        if (string.IsNullOrEmpty(hostname))
        {
            if (bind is "0.0.0.0" or "::")
                throw new ConfigurationException("listening on all addresses: set messenger.cluster.hostname to the address other nodes reach this one at");
            hostname = bind;
        }
        return ConfigurationFactory.ParseString($$"""
            akka.remote.dot-netty.tcp {
              hostname = {{Quote(bind)}}
              public-hostname = {{Quote(hostname)}}
              port = {{config.GetInt("messenger.cluster.port")}}
            }
            """);
    }

    /// <summary>
    /// Joins the seed nodes (none: this node alone forms a cluster) and the running nodes of its
    /// cluster that share its data folder (<paramref name="neighbours"/>, HOST:PORT), and waits until
    /// this node is up, or fails after <c>join-timeout</c>. With neighbours, a node that is its own
    /// first seed (or has none) asks them first and forms a cluster only if none of them is in one
    /// (Akka's first seed node): restarted after a crash, it joins the nodes that carried on.
    /// </summary>
    public static async Task JoinAsync(ActorSystem system, IReadOnlyList<string> neighbours)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var config = system.Settings.Config;
        var seeds = config.GetStringList("messenger.cluster.seed-nodes").Select(s => SeedAddress(system.Name, s)).ToList();
        if (seeds.Count == 0 && neighbours.Count > 0) seeds.Add(cluster.SelfAddress);
        seeds.AddRange(neighbours.Select(n => SeedAddress(system.Name, n)).Where(n => !seeds.Contains(n)));
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.RegisterOnMemberUp(() => up.TrySetResult());
        if (seeds.Count == 0) cluster.Join(cluster.SelfAddress);
        else cluster.JoinSeedNodes(seeds);
        var timeout = config.GetTimeSpan("messenger.cluster.join-timeout");
        if (await Task.WhenAny(up.Task, Task.Delay(timeout)) != up.Task)
            throw new TimeoutException($"could not join the cluster of {string.Join(", ", seeds)} within {timeout.TotalSeconds:0} s");
        system.Log.Info("cluster node {0} is up ({1})", cluster.SelfAddress,
            seeds.Count == 0 ? "a cluster of its own" : "seeds " + string.Join(", ", seeds));
    }

    /// <summary>"HOST:PORT" as the address of a node of the actor system <paramref name="systemName"/>.</summary>
    public static Address SeedAddress(string systemName, string hostPort)
    {
        int colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(hostPort[(colon + 1)..], out int port) || port is < 1 or > 65535)
            throw new ConfigurationException($"a seed node is HOST:PORT, not \"{hostPort}\"");
        return new Address("akka.tcp", systemName, hostPort[..colon].Trim('[', ']'), port);
    }

    private static string Quote(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
