using Messenger.Persistence;
using Messenger.Tests.Support;

namespace Messenger.Tests.Persistence;

public class DataFolderLockTests
{
    [Fact]
    public void A_server_of_another_cluster_is_refused_and_names_the_folder()
    {
        using var data = new TempFolder();
        using var first = DataFolderLock.Acquire(data.Path, "127.0.0.1:7403", []);

        var refused = Assert.Throws<DataFolderInUseException>(() => DataFolderLock.Acquire(data.Path, "127.0.0.1:7423", []));
        Assert.StartsWith($"the data folder {data.Path} is in use by another server (cluster node 127.0.0.1:7403)", refused.Message);
        Assert.Throws<DataFolderInUseException>(() => DataFolderLock.Acquire(data.Path, "127.0.0.1:7423", ["127.0.0.1:7433"]));
    }

    [Fact]
    public void Nodes_of_one_cluster_share_the_folder()
    {
        using var data = new TempFolder();
        using var seed = DataFolderLock.Acquire(data.Path, "127.0.0.1:7403", ["127.0.0.1:7403"]);
        using var second = DataFolderLock.Acquire(data.Path, "127.0.0.1:7413", ["127.0.0.1:7403"]); // names a user as its seed
        using var third = DataFolderLock.Acquire(data.Path, "127.0.0.1:7423", ["LOCALHOST:7499", "127.0.0.1:7413"]);
        seed.Dispose();
        // The first gone, a node with a seed in common with the third (any spelling of the name's case) is of their cluster.
        using var fourth = DataFolderLock.Acquire(data.Path, "127.0.0.1:7433", ["localhost:7499"]);
    }

    [Fact]
    public void A_node_learns_the_running_nodes_of_its_cluster_on_the_folder_as_neighbours()
    {
        using var data = new TempFolder();
        using var seed = DataFolderLock.Acquire(data.Path, "127.0.0.1:7403", ["127.0.0.1:7403"]);
        Assert.Empty(seed.Neighbours);
        using var second = DataFolderLock.Acquire(data.Path, "127.0.0.1:7413", ["127.0.0.1:7403"]);
        Assert.Equal(["127.0.0.1:7403"], second.Neighbours);
        seed.Dispose();
        // The seed killed and started again, naming only itself: the node that carried on is its neighbour.
        using var restarted = DataFolderLock.Acquire(data.Path, "127.0.0.1:7403", ["127.0.0.1:7403"]);
        Assert.Equal(["127.0.0.1:7413"], restarted.Neighbours);
    }

    [Fact]
    public void A_stopped_or_dead_server_leaves_the_folder_free()
    {
        using var data = new TempFolder();
        DataFolderLock.Acquire(data.Path, "127.0.0.1:7403", []).Dispose();
        // A server killed without a chance to clean up leaves its files, but no lock on them.
        var locks = Path.Combine(data.Path, DataFolderLock.Folder);
        File.WriteAllText(Path.Combine(locks, "dead.lock"), "");
        File.WriteAllText(Path.Combine(locks, "dead.node"), "127.0.0.1:7403\n");
        File.WriteAllText(Path.Combine(locks, "killed-before-its-lock.node"), "127.0.0.1:7413\n");

        using var next = DataFolderLock.Acquire(data.Path, "127.0.0.1:7423", []);
        Assert.Equal(2, ServersFiles(locks).Length); // its own two; the dead servers' are gone
        Assert.False(File.Exists(Path.Combine(locks, "dead.node")));
        next.Dispose();
        Assert.Empty(ServersFiles(locks));
    }

    [Fact]
    public async Task Of_two_servers_of_different_clusters_starting_at_once_one_gets_the_folder()
    {
        using var data = new TempFolder();
        for (int round = 0; round < 200; round++)
        {
            using var start = new Barrier(2);
            DataFolderLock? Start(string self)
            {
                start.SignalAndWait();
                try { return DataFolderLock.Acquire(data.Path, self, []); }
                catch (DataFolderInUseException) { return null; }
            }
            var a = Task.Run(() => Start("127.0.0.1:7403"));
            var b = Task.Run(() => Start("127.0.0.1:7423"));
            await Task.WhenAll(a, b).WaitAsync(TimeSpan.FromSeconds(30));
            var (first, second) = (await a, await b);
            Assert.True(first is null != second is null, $"round {round}: {(first is null ? "neither" : "both")} got the folder");
            first?.Dispose();
            second?.Dispose();
        }
    }

    /// <summary>The lock and node files of servers (not the folder's turn file).</summary>
    private static string[] ServersFiles(string locks) =>
        Directory.GetFiles(locks).Where(f => Path.GetExtension(f) is ".lock" or ".node").ToArray();
}
