using System.Diagnostics;
using System.Text.RegularExpressions;
using Messenger.Client;
using Messenger.Protocol;
using Messenger.TerminalClient;
using Messenger.Tests.Support;

namespace Messenger.Tests.TerminalClient;

/// <summary>The headless commands run in-process against a real server on loopback.</summary>
public class HeadlessCommandTests
{
    private static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        int code = await Cli.RunAsync(args, stdout, stderr, timeout.Token);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Download_over_tcp_saves_the_file_byte_exact_and_prints_one_summary_line()
    {
        await using var server = await TestServer.StartAsync();
        var source = server.Files.CreateRandomFile("sample.bin", 3_000_123, seed: 5);
        using var output = new TempFolder();

        var (code, stdout, stderr) = await RunAsync("download", "sample.bin", "--server", "127.0.0.1",
            "--port", server.Server.ChatEndpoint.Port.ToString(), "--via", "tcp", "--out", output.Path);

        Assert.True(code == 0, $"exit {code}; stderr: {stderr}");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines).TrimEnd('\r');
        Assert.Matches(new Regex(@"^file=sample\.bin bytes=3000123 seconds=\d+\.\d{3} MB/s=\d+\.\d{2} datagrams=0 retransmits=0 sha256=ok$"), line);
        Assert.Equal(await File.ReadAllBytesAsync(source), await File.ReadAllBytesAsync(output.File("sample.bin")));
        Assert.False(File.Exists(output.File("sample.bin.part")));
        Assert.Contains("100.0%", stderr);
        Assert.Matches(new Regex(@"before the transfer started: \d+ ms \(connect \d+, login \d+, ticket \d+, first data byte \d+\)"), stderr);
    }

    [Theory]
    [Trait(ClientProcess.Trait, ClientProcess.TraitValue)]
    [InlineData("tcp", "")]
    [InlineData("udp", "actor system \\d+, ")] // a UDP download starts its actor system first thing
    public async Task Download_as_its_own_process_ends_the_process_with_the_file_in_place(string via, string actorSystemPhase)
    {
        await using var server = await TestServer.StartAsync();
        var source = server.Files.CreateRandomFile("sample.bin", 1_000_003, seed: 8);
        using var output = new TempFolder();

        var (stdout, stderr) = await ClientProcess.RunAsync("download", "sample.bin",
            "--server", "127.0.0.1", "--port", server.Server.ChatEndpoint.Port.ToString(), "--via", via, "--out", output.Path);

        Assert.Matches(new Regex(@"^file=sample\.bin bytes=1000003 .* sha256=ok\r?\n$"), stdout);
        Assert.Matches(new Regex(@"before the transfer started: \d+ ms from launch \(runtime \d+, connect \d+, login \d+, ticket \d+, " + actorSystemPhase + @"first data byte \d+\)"),
            stderr);
        Assert.Equal(await File.ReadAllBytesAsync(source), await File.ReadAllBytesAsync(output.File("sample.bin")));
        Assert.False(File.Exists(output.File("sample.bin.part")));
        Assert.False(File.Exists(PartFile.PathFor(output.File("sample.bin"))));
    }

    [Fact]
    [Trait(ClientProcess.Trait, ClientProcess.TraitValue)]
    public async Task Download_over_udp_as_its_own_process_applies_the_loss_flags_to_its_early_started_actor_system()
    {
        // In its own process the download's actor system starts before the command line is parsed, from the
        // defaults: the lossy-socket flags must still reach the download.
        await using var server = await TestServer.StartAsync();
        var source = server.Files.CreateRandomFile("sample.bin", 1_000_003, seed: 9);
        using var output = new TempFolder();

        var (stdout, _) = await ClientProcess.RunAsync("download", "sample.bin", "--server", "127.0.0.1",
            "--port", server.Server.ChatEndpoint.Port.ToString(), "--via=udp", "--out", output.Path, "--loss", "0.1", "--seed", "3");

        var match = Regex.Match(stdout, @"^file=sample\.bin bytes=1000003 .* retransmits=(\d+) sha256=ok\r?\n$");
        Assert.True(match.Success, stdout);
        Assert.True(long.Parse(match.Groups[1].Value) > 0, "10 % loss on the client's side must have cost retransmissions");
        Assert.Equal(await File.ReadAllBytesAsync(source), await File.ReadAllBytesAsync(output.File("sample.bin")));
    }

    [Theory]
    [InlineData(true, "download", "f.bin", "--via", "udp")]
    [InlineData(true, "download", "--via=udp", "f.bin")]
    [InlineData(true, "download", "f.bin", "--via:udp", "--loss", "0.1")]
    [InlineData(false, "download", "f.bin", "--via", "tcp")]
    [InlineData(false, "download", "f.bin")]
    [InlineData(false, "download", "f.bin", "--via")]
    [InlineData(false, "say", "--user", "a", "--via", "udp")]
    [InlineData(false)]
    public void A_udp_download_is_recognised_ahead_of_the_parser_by_its_plain_spellings(bool expected, params string[] args) =>
        Assert.Equal(expected, Cli.IsUdpDownload(args));

    [Fact]
    public async Task Download_over_udp_with_5_percent_loss_both_ways_is_byte_exact()
    {
        await using var server = await TestServer.StartAsync("messenger.rudp.lossy { loss = 0.05, seed = 7 }");
        var source = server.Files.CreateRandomFile("sample.bin", 3_000_123, seed: 6);
        using var output = new TempFolder();

        var (code, stdout, stderr) = await RunAsync("download", "sample.bin", "--server", "127.0.0.1",
            "--port", server.Server.ChatEndpoint.Port.ToString(), "--via", "udp", "--out", output.Path,
            "--loss", "0.05", "--seed", "42");

        Assert.True(code == 0, $"exit {code}; stderr: {stderr}");
        var line = Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)).TrimEnd('\r');
        var match = Regex.Match(line, @"^file=sample\.bin bytes=3000123 seconds=\d+\.\d{3} MB/s=\d+\.\d{2} datagrams=(\d+) retransmits=(\d+) sha256=ok$");
        Assert.True(match.Success, line);
        Assert.True(long.Parse(match.Groups[1].Value) >= 3_000_123 / 1452, "every segment arrived in a datagram");
        Assert.True(long.Parse(match.Groups[2].Value) > 0, "5% loss must have cost retransmissions");
        Assert.Matches(new Regex(@"before the transfer started: \d+ ms \(connect \d+, login \d+, ticket \d+, actor system \d+, first data byte \d+\)"), stderr);
        Assert.Equal(await File.ReadAllBytesAsync(source), await File.ReadAllBytesAsync(output.File("sample.bin")));
    }

    [Fact]
    public async Task Download_of_a_missing_file_fails_with_the_servers_reason()
    {
        await using var server = await TestServer.StartAsync();
        using var output = new TempFolder();
        var (code, stdout, stderr) = await RunAsync("download", "nope.bin", "--port", server.Server.ChatEndpoint.Port.ToString(), "--out", output.Path);
        Assert.NotEqual(0, code);
        Assert.Equal("", stdout);
        Assert.Contains(ErrorCodes.NoSuchFile, stderr);
    }

    [Fact]
    public async Task Download_from_a_closed_port_fails_clearly()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        var (code, _, stderr) = await RunAsync("download", "x.bin", "--port", port.ToString());
        Assert.Equal(1, code);
        Assert.Contains("cannot connect", stderr);
    }

    [Fact]
    public async Task Say_logs_in_sends_and_is_seen_by_others()
    {
        await using var server = await TestServer.StartAsync();
        await using var watcher = await server.LoginAsync("watcher");

        var (code, _, stderr) = await RunAsync("say", "--port", server.Server.ChatEndpoint.Port.ToString(), "--user", "bob", "hi_there with_underscores");

        Assert.True(code == 0, $"exit {code}; stderr: {stderr}");
        Assert.Matches(new Regex(@"before the message was sent: \d+ ms \(connect \d+, login \d+\)"), stderr);
        Assert.Equal(new JoinedFrame("bob", RoomNames.Lobby), await watcher.ExpectAsync<JoinedFrame>());
        var msg = await watcher.ExpectAsync<MessageFrame>();
        Assert.Equal(("bob", "hi_there with_underscores"), (msg.From, msg.Text));
        Assert.Equal(LeaveReasons.Quit, (await watcher.ExpectAsync<LeftFrame>()).Reason);
    }

    [Fact]
    [Trait(ClientProcess.Trait, ClientProcess.TraitValue)]
    public async Task Say_as_its_own_process_is_seen_by_others()
    {
        await using var server = await TestServer.StartAsync();
        await using var watcher = await server.LoginAsync("watcher");

        var (_, stderr) = await ClientProcess.RunAsync("say", "--port", server.Server.ChatEndpoint.Port.ToString(), "--user", "carol", "from a process");

        Assert.Matches(new Regex(@"before the message was sent: \d+ ms from launch \(runtime \d+, connect \d+, login \d+\)"), stderr);
        Assert.Equal(new JoinedFrame("carol", RoomNames.Lobby), await watcher.ExpectAsync<JoinedFrame>());
        var msg = await watcher.ExpectAsync<MessageFrame>();
        Assert.Equal(("carol", "from a process"), (msg.From, msg.Text));
    }

    [Fact]
    public async Task Say_with_a_room_joins_it_and_says_it_there()
    {
        await using var server = await TestServer.StartAsync();
        await using var watcher = await server.LoginAsync("watcher");
        await watcher.SendAsync(new JoinCommand("rust"));
        await watcher.ExpectAsync<JoinedFrame>();
        await watcher.ExpectAsync<HistoryFrame>();

        var (code, _, stderr) = await RunAsync("say", "--port", server.Server.ChatEndpoint.Port.ToString(), "--user", "bob", "--room", "#rust", "in the room");

        Assert.True(code == 0, $"exit {code}; stderr: {stderr}");
        var msg = await watcher.ExpectIgnoringPresenceAsync<MessageFrame>();
        Assert.Equal(("bob", "in the room", "rust", 1L), (msg.From, msg.Text, msg.Room, msg.Id));
    }

    [Fact]
    public async Task Say_with_a_taken_name_fails_with_the_servers_message()
    {
        await using var server = await TestServer.StartAsync();
        await using var alice = await server.LoginAsync("alice");
        var (code, _, stderr) = await RunAsync("say", "--port", server.Server.ChatEndpoint.Port.ToString(), "--user", "alice", "hi");
        Assert.Equal(1, code);
        Assert.Contains("taken", stderr);
    }

    [Fact]
    public async Task Say_to_the_file_port_says_it_is_not_a_chat_server_and_prints_no_timing()
    {
        await using var server = await TestServer.StartAsync();
        var (code, _, stderr) = await RunAsync("say", "--port", server.Server.FileEndpoint.Port.ToString(), "--user", "bob", "hi");
        Assert.Equal(1, code);
        Assert.Contains("is not a Messenger chat server", stderr);
        Assert.Contains("file port", stderr);
        Assert.DoesNotContain("before the message was sent", stderr);
    }

    [Fact]
    public async Task Say_with_a_registered_name_needs_and_takes_its_password()
    {
        await using var server = await TestServer.StartAsync();
        await server.RegisterAsync("Dave", "davepass12");
        string port = server.Server.ChatEndpoint.Port.ToString();
        var (code, _, stderr) = await RunAsync("say", "--port", port, "--user", "dave", "hi");
        Assert.Equal(1, code);
        Assert.Contains("give its password with --password", stderr);
        Assert.DoesNotContain("{\"type\"", stderr);

        (code, _, stderr) = await RunAsync("say", "--port", port, "--user", "dave", "--password", "davepass12", "hi from dave");
        Assert.True(code == 0, $"exit {code}; stderr: {stderr}");
    }

    [Theory]
    [InlineData("download", "f", "--via", "carrier-pigeon")]
    [InlineData("download", "f", "--loss", "2")]
    [InlineData("download", "f", "--port", "0")]
    [InlineData("download", "f", "--port", "--via")]
    [InlineData("say", "hi")]
    [InlineData("say", "--user", "bob", "--room", "no spaces", "hi")]
    [InlineData("say", "--user", "bob", "")]
    [InlineData("say", "--user", "bob", "   ")]
    [InlineData("say", "--user", "bob", "--password", "short", "hi")]
    [InlineData("--no-such-flag")]
    [InlineData("download")]
    public async Task Bad_flags_exit_2_with_a_message(params string[] args)
    {
        var (code, _, stderr) = await RunAsync(args);
        Assert.Equal(Cli.BadUsage, code);
        Assert.Contains("error:", stderr);
        Assert.Contains("--help", stderr);
    }

    [Fact]
    public async Task Download_into_a_folder_that_does_not_exist_is_refused_not_created()
    {
        using var parent = new TempFolder();
        var missing = Path.Combine(parent.Path, "no", "such", "dir");
        var (code, stdout, stderr) = await RunAsync("download", "f.bin", "--port", "1", "--out", missing);
        Assert.Equal(Cli.BadUsage, code);
        Assert.Equal("", stdout);
        Assert.Contains($"the folder {missing} does not exist", stderr);
        Assert.False(Directory.Exists(Path.Combine(parent.Path, "no")));
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("say", "--help")]
    [InlineData("download", "--help")]
    public async Task Every_command_has_help(params string[] args)
    {
        var (code, stdout, _) = await RunAsync(args);
        Assert.Equal(0, code);
        Assert.Contains("Usage:", stdout);
    }
}
