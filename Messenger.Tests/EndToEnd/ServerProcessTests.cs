using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.EndToEnd;

/// <summary>The server as users run it: its own process, stopped with SIGTERM, or started under a low descriptor limit.</summary>
public partial class ServerProcessTests
{
    [Fact]
    public async Task SIGTERM_closes_every_client_with_server_shutdown_and_no_reset()
    {
        using var files = new TempFolder();
        files.CreateRandomFile("big.bin", 32L << 20);
        await using var server = await RunningServer.StartAsync(files.Path);
        var clients = new List<ChatTestClient>();
        for (int i = 0; i < 100; i++) clients.Add(await ChatTestClient.LoginAsync(server.Chat, $"c{i:000}"));
        // The last client has seen everyone join; the others' join notices wait unread in their sockets.
        await clients[^1].SendAsync(PingCommand.Instance);
        await clients[^1].ExpectAsync<PongFrame>();

        Assert.Equal(0, Process.Start("kill", ["-TERM", server.Pid.ToString()])!.WaitForExit(5000) ? 0 : 1);

        int resets = 0, shutdowns = 0;
        await Task.WhenAll(clients.Select(async client =>
        {
            // Raw reads: a reset must show as a reset, not as an end of stream.
            var text = new System.Text.StringBuilder();
            var buffer = new byte[64 * 1024];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                int n;
                while ((n = await client.Socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
                    text.Append(System.Text.Encoding.UTF8.GetString(buffer, 0, n));
                if (text.ToString().Contains("\"server_shutdown\"")) Interlocked.Increment(ref shutdowns);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset) { Interlocked.Increment(ref resets); }
        }));
        Assert.Equal(0, resets);
        Assert.Equal(100, shutdowns);
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(15)), "the server did not exit");
        Assert.Equal(0, server.ExitCode);
        foreach (var client in clients) await client.DisposeAsync();
    }

    [Fact]
    public async Task Under_a_low_descriptor_limit_the_server_refuses_connections_instead_of_crashing()
    {
        Assert.True(File.Exists("/usr/bin/prlimit"), "prlimit (util-linux) is needed");
        using var files = new TempFolder();
        // 400 descriptors, 384 reserved: the server lowers its limits to fit the rest.
        await using var server = await RunningServer.StartAsync(files.Path, prlimitNoFile: 400);
        var sockets = new List<TcpClient>();
        for (int i = 0; i < 300; i++)
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync(server.Chat);
            sockets.Add(tcp);
        }
        // Each socket either hears a connection_limit line (or is cut) or stays silent: an admitted
        // connection hears nothing until hello. All are read at once, so a slow answer counts too.
        var answers = await Task.WhenAll(sockets.Select(IsRefusedAsync));
        int refused = answers.Count(r => r);
        // About 16 fit; under load the runtime and the database may hold the rest, so all may be refused.
        Assert.False(server.HasExited, "the server died:\n" + server.Output);
        Assert.InRange(refused, 150, 300);
        foreach (var tcp in sockets) tcp.Dispose();
        // Once they are gone, clients are served again.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                await using var alice = await ChatTestClient.ConnectAsync(server.Chat);
                await alice.SendAsync(new HelloCommand("alice"));
                if (await alice.ReadFrameAsync() is WelcomeFrame) break;
            }
            catch (SocketException e)
            {
                Assert.Fail($"{e.SocketErrorCode} after the flood; the server said:\n{server.Output}");
            }
            Assert.True(DateTime.UtcNow < deadline, "no client was served after the flood; the server said:\n" + server.Output);
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task A_started_server_gives_back_what_starting_left_behind()
    {
        using var files = new TempFolder();
        await using var server = await RunningServer.StartAsync(files.Path);
        var trimmed = new Regex(@"after start-up: a full collection took \d+ ms; resident memory [\d.]+ MB -> [\d.]+ MB");
        // The log line may come just after the listening one.
        try { await server.LineAsync(trimmed, TimeSpan.FromSeconds(10)); }
        catch (TimeoutException) { Assert.Fail("no trim was logged; the server said:\n" + server.Output); }
    }

    private static async Task<bool> IsRefusedAsync(TcpClient tcp)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3)); // well inside the 10 s login deadline
        var buffer = new byte[256];
        try
        {
            int n = await tcp.GetStream().ReadAsync(buffer, timeout.Token);
            return n == 0 || System.Text.Encoding.UTF8.GetString(buffer, 0, n).Contains("\"connection_limit\"");
        }
        catch (OperationCanceledException) { return false; } // admitted: the server says nothing until hello
        catch (IOException) { return true; }                   // closed at once while the server was out of descriptors
    }

    /// <summary><c>dotnet Messenger.Server.dll</c> on ports 0, optionally under <c>prlimit</c>.</summary>
    private sealed partial class RunningServer : IAsyncDisposable
    {
        private const int KeptOutputLines = 200;
        private readonly Process _process;
        private readonly TempFolder _data;
        private readonly Queue<string> _output;
        private readonly List<(Regex Pattern, TaskCompletionSource<string> Seen)> _waiters;

        private RunningServer(Process process, TempFolder data, Queue<string> output, List<(Regex, TaskCompletionSource<string>)> waiters, IPEndPoint chat)
        {
            _process = process;
            _data = data;
            _output = output;
            _waiters = waiters;
            Chat = chat;
        }

        public IPEndPoint Chat { get; }
        public int Pid => _process.Id;
        public bool HasExited => _process.HasExited;
        public int ExitCode => _process.ExitCode;

        /// <summary>The last lines the server wrote (standard output and error), for failure messages.</summary>
        public string Output
        {
            get { lock (_output) return string.Join('\n', _output); }
        }

        /// <summary>The first line matching <paramref name="pattern"/>, among those kept or once the server writes it.</summary>
        public Task<string> LineAsync(Regex pattern, TimeSpan timeout)
        {
            var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_output)
            {
                if (_output.FirstOrDefault(pattern.IsMatch) is { } kept) seen.SetResult(kept);
                else _waiters.Add((pattern, seen));
            }
            return seen.Task.WaitAsync(timeout);
        }

        public static async Task<RunningServer> StartAsync(string filesFolder, int? prlimitNoFile = null, string[]? extraArgs = null)
        {
            var dll = Path.Combine(AppContext.BaseDirectory, "Messenger.Server.dll");
            var info = new ProcessStartInfo(prlimitNoFile is null ? "dotnet" : "prlimit")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            if (prlimitNoFile is { } n) foreach (var arg in new[] { $"--nofile={n}:{n}", "dotnet" }) info.ArgumentList.Add(arg);
            var data = new TempFolder();
            foreach (var arg in new[] { dll, "--chat-port", "0", "--file-port", "0", "--udp-port", "0", "--cluster-port", "0", "--files", filesFolder, "--data", data.Path }.Concat(extraArgs ?? []))
                info.ArgumentList.Add(arg);
            var process = Process.Start(info)!;
            var output = new Queue<string>();
            var waiters = new List<(Regex Pattern, TaskCompletionSource<string> Seen)>();
            var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            void Keep(string? line)
            {
                if (line is null) return;
                lock (output)
                {
                    output.Enqueue(line);
                    if (output.Count > KeptOutputLines) output.Dequeue();
                    foreach (var waiter in waiters.Where(w => w.Pattern.IsMatch(line)).ToArray())
                    {
                        waiter.Seen.TrySetResult(line);
                        waiters.Remove(waiter);
                    }
                }
                if (line.Contains("Messenger listening")) listening.TrySetResult(line);
            }
            process.OutputDataReceived += (_, e) => Keep(e.Data);
            process.ErrorDataReceived += (_, e) => Keep(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var line = await listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
            return new RunningServer(process, data, output, waiters, IPEndPoint.Parse(ChatPort().Match(line).Groups[1].Value));
        }

        public async Task<bool> WaitForExitAsync(TimeSpan timeout)
        {
            using var cancel = new CancellationTokenSource(timeout);
            try { await _process.WaitForExitAsync(cancel.Token); return true; }
            catch (OperationCanceledException) { return false; }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
            _data.Dispose();
        }

        [GeneratedRegex(@"chat tcp ([\d.]+:\d+)")]
        private static partial Regex ChatPort();
    }
}
