using Akka.Cluster;

namespace Messenger.Tests.Support;

/// <summary>
/// Several <see cref="TestServer"/> nodes in this process, one cluster on loopback (every port 0),
/// sharing one SQLite folder (or the PostgreSQL database in <c>extraHocon</c>). The first forms the
/// cluster (or joins a given seed); the others join it.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    /// <summary>The actor system name of every node (and of a node started as a process: the server's).</summary>
    public const string SystemName = "messenger";

    /// <summary>
    /// Quick to notice a lost node (about 1 s of silence, then 2 s of stable-after) and to spread
    /// changes, so tests of a lost node do not wait the production 10-12 s, and a node leaves in a
    /// fraction of a second. Every <see cref="TestServer"/> runs with it.
    /// </summary>
    public const string FastFailover = """
        akka.cluster.failure-detector.acceptable-heartbeat-pause = 1s
        akka.cluster.failure-detector.heartbeat-interval = 250ms
        akka.cluster.split-brain-resolver.stable-after = 2s
        akka.cluster.gossip-interval = 250ms
        akka.cluster.leader-actions-interval = 250ms
        """;

    private readonly string _hocon;

    private TestCluster(TempFolder data, string hocon, List<TestServer> nodes)
    {
        Data = data;
        _hocon = hocon;
        Nodes = nodes;
    }

    public TempFolder Data { get; }
    public List<TestServer> Nodes { get; }

    /// <param name="seed">"HOST:PORT" of a running node (e.g. a server process) for the first node to
    /// join; null: the first node forms the cluster.</param>
    public static async Task<TestCluster> StartAsync(int count, TempFolder data, string extraHocon = "", string? seed = null)
    {
        var first = await TestServer.StartAsync(seed is null ? extraHocon : extraHocon + $"\nmessenger.cluster.seed-nodes = [\"{seed}\"]", data, SystemName);
        var cluster = new TestCluster(data, extraHocon, [first]);
        for (int i = 1; i < count; i++) cluster.Nodes.Add(await cluster.StartNodeAsync());
        await cluster.AwaitMembersUpAsync(extra: seed is null ? 0 : 1);
        return cluster;
    }

    /// <summary>"HOST:PORT" of a running node, for <c>--seed-node</c>.</summary>
    public string SeedOf(TestServer node) => $"{node.Server.ClusterAddress.Host}:{node.Server.ClusterAddress.Port}";

    /// <summary>Starts one more node, joining through <paramref name="seed"/> (default: the first node).</summary>
    public Task<TestServer> StartNodeAsync(TestServer? seed = null) =>
        TestServer.StartAsync(_hocon + $"\nmessenger.cluster.seed-nodes = [\"{SeedOf(seed ?? Nodes[0])}\"]", Data, SystemName);

    /// <summary>Stops node <paramref name="index"/> gracefully (it leaves and hands its shards over) and starts a new one in its place.</summary>
    public async Task RestartAsync(int index)
    {
        await Nodes[index].DisposeAsync();
        Nodes[index] = await StartNodeAsync(Nodes[(index + 1) % Nodes.Count]);
        await AwaitMembersUpAsync();
    }

    /// <summary>Waits until every node sees exactly the running nodes as up (and <paramref name="extra"/> more, e.g. a node in another process).</summary>
    public async Task AwaitMembersUpAsync(int extra = 0, TimeSpan? timeout = null)
    {
        await Eventually.Async(() =>
        {
            foreach (var node in Nodes)
            {
                var members = Akka.Cluster.Cluster.Get(node.Server.System).State.Members;
                Assert.Equal(Nodes.Count + extra, members.Count(m => m.Status == MemberStatus.Up));
            }
            return Task.CompletedTask;
        }, timeout ?? TimeSpan.FromSeconds(60));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Enumerable.Reverse(Nodes)) await node.DisposeAsync();
    }
}

/// <summary>Retries an assertion until it holds or time runs out (then its last failure is thrown).</summary>
public static class Eventually
{
    public static async Task Async(Func<Task> assertion, TimeSpan timeout, TimeSpan? interval = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                await assertion();
                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(interval ?? TimeSpan.FromMilliseconds(100)); // polling interval, bounded by the deadline
            }
        }
    }
}
