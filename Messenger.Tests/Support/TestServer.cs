using Akka.Actor;
using Akka.Configuration;
using Messenger.Files;
using Messenger.Hosting;
using Messenger.Protocol;

namespace Messenger.Tests.Support;

/// <summary>
/// Starts a real <see cref="MessengerServer"/> on 127.0.0.1 with every port 0 and a temporary
/// files folder, and removes both afterwards.
/// </summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly TempFolder? _ownData;

    private TestServer(MessengerServer server, TempFolder files, TempFolder? ownData)
    {
        Server = server;
        Files = new ServedFolder(files, server.Catalog);
        _ownData = ownData;
    }

    public MessengerServer Server { get; }
    public ServedFolder Files { get; }

    /// <summary>
    /// A server on loopback with its own files folder and a real SQLite database in
    /// <paramref name="data"/> (a fresh temporary folder if not given; a given one outlives the server,
    /// so a test can restart on it).
    /// </summary>
    /// <param name="systemName">The actor system's name: the nodes of one cluster must share it.</param>
    public static async Task<TestServer> StartAsync(string extraHocon = "", TempFolder? data = null, string systemName = "test-server")
    {
        var files = new TempFolder();
        var ownData = data is null;
        data ??= new TempFolder();
        var overrides = ConfigurationFactory.ParseString($$"""
            messenger.bind = "127.0.0.1"
            messenger.chat.port = 0
            messenger.files.port = 0
            messenger.rudp.port = 0
            messenger.cluster.port = 0
            messenger.files.folder = "{{files.Path.Replace("\\", "\\\\")}}"
            messenger.data = "{{data.Path.Replace("\\", "\\\\")}}"
            messenger.accounts.pbkdf2-iterations = 1000
            akka.loglevel = WARNING
            akka.stdout-loglevel = WARNING
            {{TestCluster.FastFailover}}
            {{extraHocon}}
            """);
        try
        {
            var server = await MessengerServer.StartAsync(ServerConfig.Load(overrides: overrides), systemName);
            return new TestServer(server, files, ownData ? data : null);
        }
        catch
        {
            files.Dispose();
            if (ownData) data.Dispose();
            throw;
        }
    }

    public Task<ChatTestClient> LoginAsync(string user) => ChatTestClient.LoginAsync(Server.ChatEndpoint, user);

    /// <summary>Logs <paramref name="user"/> in, registers the name with <paramref name="password"/> and logs out: the name is free again when this returns.</summary>
    public async Task RegisterAsync(string user, string password)
    {
        await using var client = await LoginAsync(user);
        await client.SendAsync(new RegisterCommand(new Password(password)));
        await client.ExpectIgnoringOtherAsync<RegisteredFrame>();
        await client.SendAsync(ByeCommand.Instance);
        await client.ReadUntilClosedAsync();
    }

    public Task<ChatTestClient> ConnectAsync() => ChatTestClient.ConnectAsync(Server.ChatEndpoint);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Files.Dispose();
        _ownData?.Dispose();
    }
}

/// <summary>
/// The test server's files folder. The catalog notices files in the background (a folder watcher,
/// then hashing), so a file made here is returned only once the server offers that very version
/// of it: a test can ask for it at once.
/// </summary>
public sealed class ServedFolder(TempFolder folder, IActorRef catalog) : IDisposable
{
    public string Path => folder.Path;

    public string File(string name) => folder.File(name);

    /// <summary>Writes <paramref name="size"/> bytes of seeded pseudo-random data, waits until they are offered; returns the path.</summary>
    public string CreateRandomFile(string name, long size, int seed = 1)
    {
        var path = folder.CreateRandomFile(name, size, seed);
        WaitUntilOffered(name);
        return path;
    }

    /// <summary>Waits until the catalog offers <paramref name="name"/> as it is on disk now (size and modification time).</summary>
    public void WaitUntilOffered(string name)
    {
        var info = new FileInfo(File(name));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var answer = catalog.Ask(new LookupFile(name), TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            if (answer is CatalogEntry entry && entry.Size == info.Length && entry.LastWriteUtc == info.LastWriteTimeUtc) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the server did not offer {name} within 30 s (last answer: {answer})");
            Thread.Sleep(10); // polling interval, bounded by the deadline above
        }
    }

    public void Dispose() => folder.Dispose();
}

/// <summary>A temporary folder that is deleted with everything in it.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "messenger-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes <paramref name="size"/> bytes of seeded pseudo-random data; returns the path.</summary>
    public string CreateRandomFile(string name, long size, int seed = 1)
    {
        var path = File(name);
        var random = new Random(seed);
        var buffer = new byte[1 << 20];
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        for (long left = size; left > 0;)
        {
            int n = (int)Math.Min(buffer.Length, left);
            random.NextBytes(buffer.AsSpan(0, n));
            stream.Write(buffer, 0, n);
            left -= n;
        }
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
