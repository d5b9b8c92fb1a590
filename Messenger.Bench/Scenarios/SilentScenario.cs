using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Messenger.Bench.Scenarios;

/// <summary>
/// Silent connections (issue 9's target): C connections that never send a byte, each from its own
/// loopback source address (127.0.1.1, 127.0.1.2, …: all of 127.0.0.0/8 is loopback on Linux), 250 to
/// a /24 network, must each be closed by the server's pre-login deadline (<c>login-timeout</c>,
/// 10 s); meanwhile a new client from 127.0.0.1 (a network of its own) logs in every 100 ms, and its
/// time from connect to <c>welcome</c> is measured. The server keeps its default login timeout and
/// per-address limit; its pre-login limit is raised to let all C wait for the deadline, unless
/// <c>--pre-login</c> gives one (the server's default is 512: past it a newcomer takes the slot of
/// the oldest silent one from the network holding the most, or is refused with <c>connection_limit</c>
/// when its own network holds as many).
/// </summary>
public sealed class SilentScenario(SilentScenario.Options options)
{
    public sealed record Options(int Count, int? PreLogin, TimeSpan Deadline, string? ServerDll);

    /// <summary>Silent connections from one /24 network, each from its own address.</summary>
    private const int PerNetwork = 250;
    /// <summary>The server's own pre-login deadline (its default, kept here).</summary>
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);
    private const int ConnectParallel = 64;

    public static Command Command(Option<string?> serverDll)
    {
        var count = new Option<int>("--count") { Description = "Silent connections", DefaultValueFactory = _ => 10_000 };
        var preLogin = new Option<int?>("--pre-login") { Description = "The server's pre-login connection limit (default: raised above --count)" };
        var timeout = new Option<int>("--timeout") { Description = "Hard deadline of the scenario, in seconds", DefaultValueFactory = _ => 120 };
        var command = new Command("silent", "Silent connections closed by the pre-login deadline; new clients' login time meanwhile")
        {
            count, preLogin, timeout, serverDll,
        };
        command.SetAction(async (p, _) =>
        {
            var r = await new SilentScenario(new(p.GetValue(count), p.GetValue(preLogin), TimeSpan.FromSeconds(p.GetValue(timeout)),
                p.GetValue(serverDll))).RunAsync();
            r.Print();
            return r.Get("status") == "ok" ? 0 : 1;
        });
        return command;
    }

    /// <summary>How one silent connection ended.</summary>
    private enum Ending { Open, LoginTimeout, ConnectionLimit, OtherClose, ConnectFailed }

    public async Task<BenchResult> RunAsync()
    {
        var o = options;
        var result = new BenchResult("silent").Add("count", o.Count);
        long wanted = o.Count + 1024L;
        long? limit = Hosting.OpenFileLimit.Raise(wanted);
        int count = o.Count;
        if (limit is { } l && l < wanted)
        {
            count = (int)Math.Max(0, l - 1024);
            result.Add("note", $"ulimit -n {l} is below {wanted}: measuring {count} connections").Add("count", count);
        }
        int networks = (count + PerNetwork - 1) / PerNetwork;
        int preLogin = o.PreLogin ?? count + 1000;
        result.Add("source_networks", networks).Add("pre_login_limit", preLogin);

        var hocon = BenchConfig.ServerHocon + $$"""

            {{BenchConfig.ServerLoginTimeoutHocon}}
            messenger.chat.connections { per-address = 256, pre-login = {{preLogin}} }
            """;
        using var deadline = new CancellationTokenSource(o.Deadline);
        var cancel = deadline.Token;
        var emptyFolder = Directory.CreateTempSubdirectory("messenger-bench-silent-").FullName;
        await using var server = await ServerProcess.StartAsync(emptyFolder, hocon, serverDll: o.ServerDll);
        var silent = new Silent[count];
        var probes = new List<double>();
        var probeConnects = new List<double>();
        int probeFailures = 0;
        using var stopProbing = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        try
        {
            // Logins on a quiet server first, then throughout the flood until every silent one is closed.
            var quiet = new List<double>();
            for (int i = 0; i < 20; i++)
            {
                if (await ProbeLoginAsync(server, $"quiet{i}", cancel) is { } ms) quiet.Add(ms.Total);
                await Task.Delay(ProbeInterval, cancel);
            }
            var probing = Task.Run(async () =>
            {
                for (int i = 0; !stopProbing.IsCancellationRequested; i++)
                {
                    var ms = await ProbeLoginAsync(server, $"probe{i}", stopProbing.Token);
                    lock (probes)
                    {
                        if (ms is { } v) { probes.Add(v.Total); probeConnects.Add(v.Connect); }
                        else if (!stopProbing.IsCancellationRequested) probeFailures++;
                    }
                    await Task.Delay(ProbeInterval, stopProbing.Token).ContinueWith(_ => { }, TaskScheduler.Default);
                }
            }, CancellationToken.None);

            long rssBefore = server.RssBytes();
            double cpuBefore = server.CpuSeconds();
            long openStart = Stopwatch.GetTimestamp();
            await BenchConfig.ForEachAsync(Enumerable.Range(0, count), ConnectParallel, cancel, async (i, ct) =>
            {
                var s = new Silent(new IPAddress([127, 0, (byte)(1 + i / PerNetwork), (byte)(1 + i % PerNetwork)]));
                silent[i] = s;
                await s.ConnectAsync(server.Chat, ct);
            });
            double openSeconds = BenchConfig.SecondsSince(openStart);
            long rssOpen = server.RssBytes();

            // Every silent connection must be closed within the deadline plus the close's own time.
            var waitUntil = Stopwatch.GetTimestamp() + Stopwatch.Frequency * (long)(BenchConfig.ServerLoginTimeout.TotalSeconds + 20);
            while (silent.Any(s => s.Result == Ending.Open) && Stopwatch.GetTimestamp() < waitUntil) await Task.Delay(100, cancel);
            double allClosedSeconds = BenchConfig.SecondsSince(openStart);
            await stopProbing.CancelAsync();
            await probing;

            var byEnding = silent.GroupBy(s => s.Result).ToDictionary(g => g.Key, g => g.Count());
            int Of(Ending e) => byEnding.GetValueOrDefault(e);
            var closedAfter = Stats.Sorted(silent.Where(s => s.Result == Ending.LoginTimeout).Select(s => s.ClosedAfter.TotalSeconds));
            var quietSorted = Stats.Sorted(quiet);
            double[] probeSorted;
            double[] connectSorted;
            lock (probes) (probeSorted, connectSorted) = (Stats.Sorted(probes), Stats.Sorted(probeConnects));
            result.Add("open_s", openSeconds)
                .Add("closed_by_deadline", Of(Ending.LoginTimeout))
                .Add("refused_connection_limit", Of(Ending.ConnectionLimit))
                .Add("closed_otherwise", Of(Ending.OtherClose))
                .Add("connect_failed", Of(Ending.ConnectFailed))
                .Add("still_open", Of(Ending.Open))
                .Add("close_after_min_s", closedAfter.Length == 0 ? double.NaN : closedAfter[0])
                .Add("close_after_p50_s", Stats.Percentile(closedAfter, 50))
                .Add("close_after_max_s", closedAfter.Length == 0 ? double.NaN : closedAfter[^1])
                .Add("all_closed_s", allClosedSeconds)
                .Add("quiet_login_p50_ms", Stats.Percentile(quietSorted, 50))
                .Add("quiet_login_max_ms", quietSorted.Length == 0 ? double.NaN : quietSorted[^1])
                .Add("logins", probeSorted.Length)
                .Add("login_failures", probeFailures)
                .Add("login_p50_ms", Stats.Percentile(probeSorted, 50))
                .Add("login_p99_ms", Stats.Percentile(probeSorted, 99))
                .Add("login_connect_p99_ms", Stats.Percentile(connectSorted, 99))
                .Add("login_max_ms", probeSorted.Length == 0 ? double.NaN : probeSorted[^1])
                .Add("rss_per_silent_conn", count == 0 ? double.NaN : (rssOpen - rssBefore) / (double)count)
                .Add("peak_rss_mb", server.PeakRssBytes() / 1e6)
                .Add("server_cpu_s", server.CpuSeconds() - cpuBefore)
                .Add("status", Of(Ending.Open) == 0 && probeFailures == 0 ? "ok" : "not all closed, or a login failed");
            return result;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return result.Add("still_open", silent.Count(s => s is { Result: Ending.Open }))
                .Add("status", $"deadline after {o.Deadline.TotalSeconds:0}s");
        }
        finally
        {
            await stopProbing.CancelAsync();
            foreach (var s in silent) s?.Dispose();
            try { Directory.Delete(emptyFolder, true); } catch (IOException) { }
        }
    }

    /// <summary>Connect, hello, welcome: milliseconds, or null if it failed or took longer than <see cref="ProbeTimeout"/>.</summary>
    /// <summary>A new client's login: milliseconds until connected, and until welcomed; null when it failed.</summary>
    private static async Task<(double Connect, double Total)?> ProbeLoginAsync(ServerProcess server, string name, CancellationToken cancel)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(ProbeTimeout);
        long start = Stopwatch.GetTimestamp();
        try
        {
            using var socket = await LineSocket.ConnectAsync(server.Chat, 4096, timeout.Token, server.ClientTls);
            double connected = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            await socket.SendAsync(LineSocket.Hello(name), timeout.Token);
            bool welcomed = false;
            await socket.ReadLinesAsync((line, _) =>
            {
                welcomed = line.StartsWith(Lines.Welcome);
                return !welcomed && !line.StartsWith(Lines.Error);
            }, timeout.Token);
            return welcomed ? (connected, Stopwatch.GetElapsedTime(start).TotalMilliseconds) : null;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>One connection from its own loopback source address that never sends; it records how the server ended it.</summary>
    private sealed class Silent(IPAddress source) : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private long _connectedAt;
        private volatile Ending _result = Ending.Open;

        public Ending Result => _result;
        public TimeSpan ClosedAfter { get; private set; }

        public async Task ConnectAsync(IPEndPoint server, CancellationToken cancel)
        {
            try
            {
                _socket.Bind(new IPEndPoint(source, 0));
                await _socket.ConnectAsync(server, cancel);
            }
            catch (SocketException)
            {
                _result = Ending.ConnectFailed;
                return;
            }
            _connectedAt = Stopwatch.GetTimestamp();
            _ = ReadUntilClosedAsync();
        }

        /// <summary>The first line says why (login_timeout, connection_limit); the end of the stream says when.</summary>
        private async Task ReadUntilClosedAsync()
        {
            var buffer = new byte[256];
            int first = 0;
            try
            {
                while (true)
                {
                    int n = await _socket.ReceiveAsync(buffer.AsMemory(first), SocketFlags.None);
                    if (n == 0) break;
                    if (first + n < buffer.Length) first += n;
                }
            }
            catch (SocketException) { }
            catch (ObjectDisposedException) { return; }
            ClosedAfter = Stopwatch.GetElapsedTime(_connectedAt);
            var said = Encoding.UTF8.GetString(buffer, 0, first);
            _result = said.Contains("\"login_timeout\"") ? Ending.LoginTimeout
                : said.Contains("\"connection_limit\"") ? Ending.ConnectionLimit
                : Ending.OtherClose;
        }

        public void Dispose() => _socket.Dispose();
    }
}
