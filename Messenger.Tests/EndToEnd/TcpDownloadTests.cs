using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Messenger.Client;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.EndToEnd;

/// <summary>Downloads over the TCP file channel, through the real server on loopback.</summary>
public class TcpDownloadTests : IAsyncLifetime
{
    /// <summary>The seed project's largest file, 64.6 MB.</summary>
    public const long LargeFileBytes = 67_737_600;

    private TestServer _server = null!;
    private ChatTestClient _client = null!;
    private readonly TempFolder _downloads = new();

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _client = await _server.LoginAsync("downloader");
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _server.DisposeAsync();
        _downloads.Dispose();
    }

    private static string Sha(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private async Task<TicketFrame> TicketAsync(string file, ChatTestClient? client = null)
    {
        client ??= _client;
        await client.SendAsync(new GetCommand(file, TransferVia.Tcp));
        return await client.ExpectAsync<TicketFrame>();
    }

    private async Task<DownloadResult> DownloadAsync(string file, string? into = null) =>
        await TcpDownload.RunAsync("127.0.0.1", await TicketAsync(file), into ?? _downloads.Path).WaitAsync(TimeSpan.FromMinutes(2));

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1024 * 1024 + 1)]
    public async Task Downloads_are_byte_exact(long size)
    {
        var source = _server.Files.CreateRandomFile($"f{size}.bin", size, seed: (int)size);
        var result = await DownloadAsync($"f{size}.bin");
        Assert.True(result.Verified, result.Error);
        Assert.Equal(size, new FileInfo(result.Path).Length);
        Assert.Equal(Sha(source), Sha(result.Path));
        Assert.False(File.Exists(result.Path + ".part"));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Eight_clients_download_the_large_file_at_once_byte_exact()
    {
        var source = _server.Files.CreateRandomFile("large.bin", LargeFileBytes, seed: 64);
        var expected = Sha(source);
        var clients = new List<ChatTestClient>();
        try
        {
            for (int i = 0; i < 8; i++) clients.Add(await _server.LoginAsync($"c{i}"));
            var tickets = new List<TicketFrame>();
            foreach (var c in clients)
            {
                await c.SendAsync(new GetCommand("large.bin", TransferVia.Tcp));
                tickets.Add(await c.ExpectIgnoringPresenceAsync<TicketFrame>());
            }
            var results = await Task.WhenAll(tickets.Select((t, i) =>
                TcpDownload.RunAsync("127.0.0.1", t, Path.Combine(_downloads.Path, $"c{i}"))))
                .WaitAsync(TimeSpan.FromMinutes(3));
            foreach (var r in results)
            {
                Assert.True(r.Verified, r.Error);
                Assert.Equal(LargeFileBytes, new FileInfo(r.Path).Length);
                Assert.Equal(expected, r.Sha256);
            }
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_partial_download_resumes_from_where_it_stopped()
    {
        var source = _server.Files.CreateRandomFile("resume.bin", 3_000_000, seed: 3);
        var bytes = File.ReadAllBytes(source);
        File.WriteAllBytes(_downloads.File("resume.bin.part"), bytes[..1_234_567]);

        var result = await DownloadAsync("resume.bin");
        Assert.True(result.Verified, result.Error);
        Assert.Equal(3_000_000 - 1_234_567, result.Bytes); // only the rest travelled
        Assert.Equal(Sha(source), Sha(result.Path));
    }

    [Fact]
    public async Task A_part_file_left_by_a_killed_udp_download_is_not_resumed()
    {
        var source = _server.Files.CreateRandomFile("killed.bin", 100_000, seed: 7);
        // What a UDP download killed mid-transfer leaves: its part file, at the full size from the start.
        new PartFile(PartFile.PathFor(_downloads.File("killed.bin")), 100_000).Dispose();

        var result = await DownloadAsync("killed.bin");
        Assert.True(result.Verified, result.Error); // before: "resumed" at offset 100,000, hashing zeros
        Assert.Equal(100_000, result.Bytes);
        Assert.Equal(Sha(source), Sha(result.Path));
    }

    [Fact]
    public async Task A_corrupt_partial_file_is_detected_and_never_renamed_into_place()
    {
        var source = _server.Files.CreateRandomFile("corrupt.bin", 100_000, seed: 5);
        var bad = File.ReadAllBytes(source)[..50_000];
        bad[10] ^= 0xFF;
        File.WriteAllBytes(_downloads.File("corrupt.bin.part"), bad);

        var result = await DownloadAsync("corrupt.bin");
        Assert.False(result.Verified);
        Assert.False(File.Exists(_downloads.File("corrupt.bin")));
        Assert.False(File.Exists(_downloads.File("corrupt.bin.part")));
        Assert.True((await DownloadAsync("corrupt.bin")).Verified); // a clean retry works
    }

    [Theory]
    [InlineData("..")]
    [InlineData("../secret.txt")]
    [InlineData("/etc/passwd")]
    [InlineData("a/b.txt")]
    [InlineData("a\\b.txt")]
    [InlineData("missing.txt")]
    public async Task Names_that_are_not_offered_plain_files_are_refused(string name)
    {
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(_server.Files.Path)!, "secret.txt"), "nope");
        await _client.SendAsync(new GetCommand(name, TransferVia.Tcp));
        await _client.ExpectErrorAsync(ErrorCodes.NoSuchFile);
        await _client.SendAsync(PingCommand.Instance);
        await _client.ExpectAsync<PongFrame>();
    }

    [Fact]
    public async Task Listing_shows_the_files_with_size_and_hash()
    {
        var path = _server.Files.CreateRandomFile("listed.bin", 1000);
        await _client.SendAsync(FilesCommand.Instance);
        var files = await _client.ExpectAsync<FilesFrame>();
        Assert.Equal(new FileEntry("listed.bin", 1000, Sha(path)), files.Files.Single());
    }

    /// <summary>Sends a ticket line by hand and returns everything the file channel answered.</summary>
    private async Task<string> RawTicketAsync(string line)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(_server.Server.FileEndpoint);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"));
        var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Forged_reused_and_malformed_tickets_are_refused_while_the_server_keeps_serving()
    {
        _server.Files.CreateRandomFile("t.bin", 10);
        Assert.Contains("\"bad_ticket\"", await RawTicketAsync("{\"ticket\":\"00112233445566778899aabbccddeeff\",\"offset\":0}"));
        Assert.Contains("\"bad_request\"", await RawTicketAsync("not json"));

        var ticket = await TicketAsync("t.bin");
        Assert.Contains("\"bad_offset\"", await RawTicketAsync($"{{\"ticket\":\"{ticket.Ticket}\",\"offset\":11}}"));
        var first = await RawTicketAsync($"{{\"ticket\":\"{ticket.Ticket}\",\"offset\":0}}");
        Assert.StartsWith("{\"type\":\"file\"", first);
        Assert.Contains("\"bad_ticket\"", await RawTicketAsync($"{{\"ticket\":\"{ticket.Ticket}\",\"offset\":0}}"));

        Assert.True((await DownloadAsync("t.bin")).Verified);
    }

    [Fact]
    public async Task A_download_cut_midway_releases_the_servers_file_handle()
    {
        var source = _server.Files.CreateRandomFile("cut.bin", 50_000_000, seed: 9);
        var ticket = await TicketAsync("cut.bin");
        using (var tcp = new TcpClient { ReceiveBufferSize = 64 * 1024 })
        {
            await tcp.ConnectAsync(_server.Server.FileEndpoint);
            var stream = tcp.GetStream();
            await stream.WriteAsync(ChatCodec.EncodeTicketRequest(new TicketRequest(ticket.Ticket, 0)));
            var buffer = new byte[100_000];
            int got = 0;
            while (got < buffer.Length) got += await stream.ReadAsync(buffer.AsMemory(got));
            Assert.True(OpenHandlesTo(source) > 0, "the server should hold the file open mid-download");
            tcp.Client.LingerState = new LingerOption(true, 0);
        } // reset mid-way

        await Eventually(() => OpenHandlesTo(source) == 0, "the server still holds the file open after the client left");
        File.Delete(source);
        _server.Files.CreateRandomFile("cut.bin", 10, seed: 10);
        Assert.True((await DownloadAsync("cut.bin")).Verified);
    }

    /// <summary>Handles this process holds on <paramref name="path"/> (the server runs in-process), from /proc.</summary>
    private static int OpenHandlesTo(string path)
    {
        Assert.True(OperatingSystem.IsLinux(), "this check reads /proc/self/fd");
        int count = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget == path) count++;
            }
            catch (IOException) { } // the descriptor closed while we looked
        }
        return count;
    }

    private static async Task Eventually(Func<bool> condition, string failure)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail(failure);
            await Task.Delay(20);
        }
    }
}
