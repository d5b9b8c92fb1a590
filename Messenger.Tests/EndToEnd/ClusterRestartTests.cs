using System.Net;
using System.Net.Sockets;
using Akka.Cluster;
using Messenger.Bench;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.EndToEnd;

/// <summary>A node killed and started again with the same command, beside nodes that carried on.</summary>
public class ClusterRestartTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(45);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_killed_seed_started_again_as_its_own_seed_joins_the_nodes_that_carried_on()
    {
        using var data = new TempFolder();
        using var files = new TempFolder();
        // README's first node: its own cluster port, named as its own seed.
        int port = FreeTcpPort();
        string[] args = ["--data", data.Path, "--cluster-port", port.ToString(), "--seed-node", $"127.0.0.1:{port}"];
        var hocon = TestCluster.FastFailover + "\nakka.loglevel = WARNING";
        var seed = await ServerProcess.StartAsync(files.Path, hocon, args, StartTimeout);
        try
        {
            // Two more nodes (README's three), so the two that carry on are the majority.
            var joinSeed = $"messenger.cluster.seed-nodes = [\"127.0.0.1:{port}\"]";
            await using var other = await TestServer.StartAsync(joinSeed, data, TestCluster.SystemName);
            await using var third = await TestServer.StartAsync(joinSeed, data, TestCluster.SystemName);
            var cluster = Akka.Cluster.Cluster.Get(other.Server.System);
            await Eventually.Async(() => AssertUp(cluster, 3), Bound);

            await seed.KillAsync();
            await seed.DisposeAsync();
            await Eventually.Async(() => AssertUp(cluster, 2), Bound); // the dead node removed; the others carry on
            seed = await ServerProcess.StartAsync(files.Path, hocon, args, StartTimeout);

            // One cluster again, not a second one on the same folder: a name online on one node is taken on the other.
            await Eventually.Async(() => AssertUp(cluster, 3), Bound);
            await using var twin = await other.LoginAsync("twin");
            await using var again = await ChatTestClient.ConnectAsync(seed.Chat);
            await again.SendAsync(new HelloCommand("twin"));
            Assert.Equal(ErrorCodes.UsernameTaken, Assert.IsType<ErrorFrame>(await again.ReadFrameAsync()).Code);
        }
        finally
        {
            await seed.DisposeAsync();
        }
    }

    private static Task AssertUp(Akka.Cluster.Cluster cluster, int count)
    {
        Assert.Equal(count, cluster.State.Members.Count(m => m.Status == MemberStatus.Up));
        Assert.Empty(cluster.State.Unreachable);
        return Task.CompletedTask;
    }

    private static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
