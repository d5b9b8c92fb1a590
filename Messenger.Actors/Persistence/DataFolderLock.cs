namespace Messenger.Persistence;

/// <summary>
/// A data folder's SQLite files serve one cluster at a time: two clusters writing one room's
/// journal would both number its messages, and one of them would fail every write. Each server
/// using the folder holds, for as long as it runs, an exclusive lock on a file of its own in
/// <c>locks/</c> (<c>ID.lock</c>; a process that dies, however it dies, lets go of it) and names its
/// cluster node beside it (<c>ID.node</c>: its own address, then its seed nodes, as HOST:PORT). A
/// server may use a folder in use when it is of the same cluster as one of the servers using it: it
/// names one of them as a seed node, one of them names it, or they name a seed node in common
/// (every node of one cluster names the same seeds). Otherwise it refuses to start. The nodes of one
/// cluster on one machine, in one process or several, share the folder as before. A starting server
/// looks and takes its lock holding the folder's <c>turn</c> file, so two starting at once take turns.
/// The running nodes it found are its <see cref="Neighbours"/>: it joins them too, so a node restarted
/// with only itself as seed joins its running cluster instead of forming a second one on the folder.
/// </summary>
public sealed class DataFolderLock : IDisposable
{
    public const string Folder = "locks";

    private readonly FileStream _lock;
    private readonly string _node;

    private DataFolderLock(FileStream held, string node, IReadOnlyList<string> neighbours)
    {
        _lock = held;
        _node = node;
        Neighbours = neighbours;
    }

    /// <summary>The addresses (HOST:PORT) of the nodes of this cluster that were using the folder when this one took it.</summary>
    public IReadOnlyList<string> Neighbours { get; }

    /// <summary>
    /// Takes <paramref name="dataFolder"/> for the node at <paramref name="self"/> with
    /// <paramref name="seeds"/> (each HOST:PORT), or throws <see cref="DataFolderInUseException"/>.
    /// Locks left by servers that are gone are removed on the way.
    /// </summary>
    public static DataFolderLock Acquire(string dataFolder, string self, IEnumerable<string> seeds)
    {
        var folder = Path.Combine(dataFolder, Folder);
        Directory.CreateDirectory(folder);
        var names = new HashSet<string>([self, .. seeds], StringComparer.OrdinalIgnoreCase);
        // One server at a time looks and takes: two starting at once would both find the folder free,
        // or one would take the other's lock, not locked yet, for a dead server's.
        using var turn = TakeTurn(folder);
        var users = LiveNodes(folder).ToList();
        var ofThisCluster = users.Where(names.Overlaps).ToList();
        if (users.Count > 0 && ofThisCluster.Count == 0)
            throw new DataFolderInUseException(
                $"the data folder {Path.GetFullPath(dataFolder)} is in use by another server (cluster node {users[0][0]}); " +
                "give this one its own --data, or make it a node of that cluster (--seed-node)");
        var id = Guid.NewGuid().ToString("N");
        var node = Path.Combine(folder, id + ".node");
        File.WriteAllLines(node, [self, .. seeds]);
        // The node file first: a lock seen by another server always has it.
        var held = new FileStream(Path.Combine(folder, id + ".lock"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None,
            1, FileOptions.DeleteOnClose);
        var neighbours = ofThisCluster.Select(user => user[0])
            .Where(address => !address.Equals(self, StringComparison.OrdinalIgnoreCase))
            .Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        return new DataFolderLock(held, node, neighbours);
    }

    /// <summary>How long a starting server waits for another one's turn (a turn takes milliseconds).</summary>
    private static readonly TimeSpan TurnPatience = TimeSpan.FromSeconds(10);

    /// <summary>The folder's turn file, held exclusively while a server looks at the locks and takes its own.</summary>
    private static FileStream TakeTurn(string folder)
    {
        var path = Path.Combine(folder, "turn");
        var deadline = DateTime.UtcNow + TurnPatience;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(10);
            }
        }
    }

    /// <summary>
    /// The names (address, then seeds) of every node holding its lock; the files of nodes that are
    /// gone are removed (a lock nobody holds, a node file without its lock). Under the turn.
    /// </summary>
    private static IEnumerable<string[]> LiveNodes(string folder)
    {
        foreach (var lockFile in Directory.EnumerateFiles(folder, "*.lock"))
        {
            var node = Path.ChangeExtension(lockFile, ".node");
            try
            {
                // Opened: nobody holds it, so its server is gone (closing deletes it).
                using (new FileStream(lockFile, FileMode.Open, FileAccess.Read, FileShare.None, 1, FileOptions.DeleteOnClose))
                    File.Delete(node);
                continue;
            }
            catch (FileNotFoundException)
            {
                continue; // its server stopped meanwhile
            }
            catch (IOException)
            {
                // Held: a running server.
            }
            string[] names;
            try
            {
                names = File.ReadAllLines(node);
            }
            catch (FileNotFoundException)
            {
                continue; // its server stopped meanwhile
            }
            if (names.Length > 0) yield return names;
        }
        foreach (var node in Directory.EnumerateFiles(folder, "*.node"))
        {
            if (!File.Exists(Path.ChangeExtension(node, ".lock"))) File.Delete(node); // killed before it took its lock
        }
    }

    public void Dispose()
    {
        File.Delete(_node);
        _lock.Dispose();
    }
}

/// <summary>The data folder is in use by a server of another cluster.</summary>
public sealed class DataFolderInUseException(string message) : Exception(message);
