using System.CommandLine;
using Messenger.Bench;
using Messenger.Bench.Scenarios;

// Load generator and benchmarks for the Messenger server. Every scenario talks to 127.0.0.1 only,
// is bounded in count and time, prints one `scenario=... key=value` line and a Markdown row.
var serverDll = new Option<string?>("--server") { Description = "Path of Messenger.Server.dll (default: found beside this repository's build output)" };
var timeout = new Option<int>("--timeout") { Description = "Hard deadline of one scenario, in seconds", DefaultValueFactory = _ => 180 };

var clients = new Option<int>("--clients") { Description = "Clients that log in and receive", DefaultValueFactory = _ => 200 };
var senders = new Option<int>("--senders") { Description = "How many of them also send", DefaultValueFactory = _ => 5 };
var messages = new Option<int>("--messages") { Description = "Messages each sender says", DefaultValueFactory = _ => FanoutDefaults.Messages };
var rate = new Option<double>("--rate") { Description = "Total messages per second over all senders (0 = as fast as possible)", DefaultValueFactory = _ => FanoutDefaults.Rate };
var sweep = new Option<bool>("--sweep")
{
    Description = "CPU per delivery against load on one server: a flood right after start, 10k, 50k and 250k deliveries/s (50 clients), "
                  + "a warm flood (--clients); prints a table and writes fanout-cpu.png (and fanout-cpu.md) into --out",
};
var sweepOut = new Option<string?>("--out") { Description = "Folder for the sweep's table and plot (default bench/results)" };
var fanout = new Command("fanout", "Chat fan-out: deliveries/s, latency, loss and order, server CPU") { clients, senders, messages, rate, timeout, serverDll, sweep, sweepOut };
fanout.SetAction(async (p, _) =>
{
    if (p.GetValue(sweep))
    {
        var rows = await new FanoutSweep(FanoutDefaults.Sweep(p.GetValue(clients), p.GetValue(senders), p.GetValue(timeout), p.GetValue(serverDll)))
            .RunAsync(r => r.Print());
        var table = FanoutSweep.Table(rows);
        Console.WriteLine(table);
        var folder = p.GetValue(sweepOut) ?? Path.Combine(ServerProcess.RepoRoot(), "bench", "results");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "fanout-cpu.md"), $"# Server CPU per delivery against load\n\n- command: `dotnet Messenger.Bench.dll {string.Join(' ', args)}`\n"
            + string.Concat(Report.MachineInfo().Select(l => $"- {l}\n")) + "\n" + table + "\n![CPU per delivery](fanout-cpu.png)\n");
        Report.PlotCpuPerDelivery(rows, Path.Combine(folder, "fanout-cpu.png"));
        Console.WriteLine($"wrote {Path.Combine(folder, "fanout-cpu.md")} and fanout-cpu.png");
        return rows.All(r => r.Get("status") == "ok") ? 0 : 1;
    }
    var r = await new FanoutScenario(new(p.GetValue(clients), p.GetValue(senders), p.GetValue(messages), p.GetValue(rate),
        TimeSpan.FromSeconds(p.GetValue(timeout)), p.GetValue(serverDll))).RunAsync();
    r.Print();
    return r.Get("status") == "ok" ? 0 : 1;
});

var count = new Option<int>("--count") { Description = "Idle clients to log in", DefaultValueFactory = _ => 10_000 };
var idle = new Option<int>("--idle") { Description = "Seconds the clients sit idle (pinging) before memory is measured again", DefaultValueFactory = _ => 75 };
var connections = new Command("connections", "Idle connections: memory per connection, login time, everyone reported gone") { count, idle, timeout, serverDll };
connections.SetAction(async (p, _) =>
{
    var r = await new ConnectionsScenario(new(p.GetValue(count), TimeSpan.FromSeconds(p.GetValue(timeout)), TimeSpan.FromSeconds(p.GetValue(idle)), ServerDll: p.GetValue(serverDll))).RunAsync();
    r.Print();
    return r.Get("status") == "ok" ? 0 : 1;
});

var burst = new Option<int>("--burst") { Description = "Logins in the burst, all from 127.0.0.1", DefaultValueFactory = _ => 6000 };
var loginLimit = new Option<bool>("--login-limit") { Description = "Keep the server's default logins-per-address limit (else raised, as in every scenario)" };
var lobbyEvery = new Option<int>("--lobby-every")
{
    Description = "Every how many probe rounds (20 ms each) a lobby message is sent too, fanned out to everyone logged in (0 = never)",
    DefaultValueFactory = _ => 10,
};
var presence = new Command("presence", "A burst of logins from one address: PM and lobby-message round trips of two other users meanwhile")
{
    burst, loginLimit, lobbyEvery, timeout, serverDll,
};
presence.SetAction(async (p, _) =>
{
    var r = await new PresenceScenario(new(p.GetValue(burst), p.GetValue(loginLimit), TimeSpan.FromSeconds(p.GetValue(timeout)),
        p.GetValue(serverDll), LobbyEvery: p.GetValue(lobbyEvery))).RunAsync();
    r.Print();
    return r.Get("status") == "ok" ? 0 : 1;
});

var size = new Option<long>("--size") { Description = "Bytes in the test file", DefaultValueFactory = _ => DownloadScenario.DefaultFileBytes };
var concurrent = new Option<int>("--concurrent") { Description = "Clients in the concurrent runs", DefaultValueFactory = _ => 8 };
var losses = new Option<string>("--loss") { Description = "UDP loss rates in percent, comma-separated", DefaultValueFactory = _ => "0,1,5,10,20" };
var concurrentLosses = new Option<string>("--concurrent-loss") { Description = "Loss rates at which UDP also runs with --concurrent clients", DefaultValueFactory = _ => "0" };
var via = new Option<string>("--via") { Description = "tcp, udp or both", DefaultValueFactory = _ => "both" };
var downloadTimeout = new Option<int>("--timeout") { Description = "Hard deadline of the whole download scenario, in seconds", DefaultValueFactory = _ => 420 };
var runTimeout = new Option<int>("--run-timeout") { Description = "Deadline of one download run, in seconds", DefaultValueFactory = _ => 90 };
var download = new Command("download", "File downloads over TCP and reliable UDP, against a plain loopback copy")
{
    size, concurrent, losses, concurrentLosses, via, runTimeout, downloadTimeout, serverDll,
};
download.SetAction(async (p, _) =>
{
    var rows = await new DownloadScenario(DownloadOptions(p)).RunAsync(r => r.Print());
    return rows.All(r => r.Get("status") is "ok" || r.Get("status")!.StartsWith("not available", StringComparison.Ordinal)) ? 0 : 1;
});

DownloadScenario.Options DownloadOptions(ParseResult p)
{
    static double[] Percents(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(x => double.Parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    var v = p.GetValue(via) ?? "both";
    return new(p.GetValue(size), p.GetValue(concurrent), Percents(p.GetValue(losses)!), Percents(p.GetValue(concurrentLosses)!),
        v is "tcp" or "both", v is "udp" or "both", TimeSpan.FromSeconds(p.GetValue(runTimeout)), TimeSpan.FromSeconds(p.GetValue(downloadTimeout)),
        p.GetValue(serverDll));
}

// LiteNetLib beside our reliable UDP (bench/udp-peers.sh): a server process, and a fresh client process per download.
var peerFile = new Option<string>("--file") { Description = "File to serve", Required = true };
var peerTimeout = new Option<int>("--timeout") { Description = "Seconds until it stops by itself", DefaultValueFactory = _ => 600 };
var liteServe = new Command("litenetlib-serve", "LiteNetLib ReliableOrdered: serve one file on 127.0.0.1 (prints `listening PORT`)") { peerFile, peerTimeout };
liteServe.SetAction(p => Messenger.Bench.Peers.LiteNetLibPeer.Serve(p.GetValue(peerFile)!, TimeSpan.FromSeconds(p.GetValue(peerTimeout)), Console.Out));
var peerPort = new Option<int>("--port") { Description = "The server's port", Required = true };
var peerSize = new Option<long>("--size") { Description = "Bytes to expect", Required = true };
var getTimeout = new Option<int>("--timeout") { Description = "Seconds the download may take", DefaultValueFactory = _ => 60 };
var liteGet = new Command("litenetlib-get", "LiteNetLib ReliableOrdered: download the served file (prints bytes= seconds= MB/s= sha256=)") { peerPort, peerSize, getTimeout };
liteGet.SetAction(p => Messenger.Bench.Peers.LiteNetLibPeer.Get(p.GetValue(peerPort), p.GetValue(peerSize), TimeSpan.FromSeconds(p.GetValue(getTimeout)), Console.Out));

var filter = new Option<string?>("--filter") { Description = "Only benchmark classes whose name contains this" };
var micro = new Command("micro", "BenchmarkDotNet micro-benchmarks of the codecs, windows and congestion controllers (build with -c Release)") { filter };
micro.SetAction(p =>
{
    var rows = Messenger.Bench.Micro.MicroRunner.Run(Path.Combine(Path.GetTempPath(), "messenger-bench-bdn"), p.GetValue(filter));
    foreach (var r in rows) Console.WriteLine(r.SummaryLine());
    if (rows.Count > 0) Console.WriteLine(rows[0].MarkdownHeader());
    foreach (var r in rows) Console.WriteLine(r.MarkdownRow());
    return rows.Count > 0 && rows.All(r => r.Get("status") == "ok") ? 0 : 1;
});

var withMicro = new Option<bool>("--micro") { Description = "Also run the micro-benchmarks (about 30 s more)" };
var quick = new Option<bool>("--quick") { Description = "Small counts everywhere (a smoke test, about a minute)" };
var outFolder = new Option<string?>("--out") { Description = "Folder for latest.md, latest.csv and the plots (default bench/results)" };
var all = new Command("all", "fanout, connections and download (and micro with --micro); writes bench/results/") { withMicro, quick, outFolder, serverDll };
all.SetAction(async (p, _) =>
{
    var clock = System.Diagnostics.Stopwatch.StartNew();
    bool q = p.GetValue(quick);
    string? dll = p.GetValue(serverDll);
    var rows = new List<BenchResult>();
    void Keep(BenchResult r) { r.Print(); rows.Add(r); }
    Keep(await new FanoutScenario(new(q ? 50 : 200, 5, q ? 200 : FanoutDefaults.Messages, FanoutDefaults.Rate, TimeSpan.FromSeconds(120), dll)).RunAsync());
    foreach (var r in await new FanoutSweep(q ? FanoutDefaults.QuickSweep(dll) : FanoutDefaults.Sweep(200, 5, 120, dll)).RunAsync(_ => { })) Keep(r);
    Keep(await new ConnectionsScenario(new(q ? 1000 : 10_000, TimeSpan.FromSeconds(q ? 60 : 300), TimeSpan.FromSeconds(q ? 0 : 75), ServerDll: dll)).RunAsync());
    await new DownloadScenario(new(q ? 16_000_000 : DownloadScenario.DefaultFileBytes, 8, q ? [0, 5] : [0, 1, 5, 10, 20], [0], true, true,
        TimeSpan.FromSeconds(q ? 30 : 60), TimeSpan.FromSeconds(q ? 120 : 300), dll)).RunAsync(Keep);
    if (p.GetValue(withMicro))
        foreach (var r in Messenger.Bench.Micro.MicroRunner.Run(Path.Combine(Path.GetTempPath(), "messenger-bench-bdn"))) Keep(r);
    var folder = p.GetValue(outFolder) ?? Path.Combine(ServerProcess.RepoRoot(), "bench", "results");
    var command = "dotnet Messenger.Bench.dll " + string.Join(' ', args);
    Report.Write(folder, rows, command, clock.Elapsed);
    Console.WriteLine($"wrote {Path.Combine(folder, "latest.md")} in {clock.Elapsed.TotalSeconds:0} s");
    return rows.All(r => r.Get("status") is "ok" || r.Get("status")!.StartsWith("not available", StringComparison.Ordinal)) ? 0 : 1;
});

var serverHocon = new Option<string?>("--server-hocon")
{
    Description = "Extra HOCON for the server, e.g. \"akka.io.tcp.receive-buffer-size = 16 KiB\" (lines separated by ';' or newlines)",
    Recursive = true,
};
var tls = new Option<bool>("--tls") { Description = "Chat and TCP files over TLS (self-signed, pinned)", Recursive = true };
var root = new RootCommand("Messenger benchmarks (loopback only)") { fanout, connections, presence, download, micro, all, liteServe, liteGet, serverHocon, tls };
root.Add(SilentScenario.Command(serverDll));
root.Add(HistoryScenario.Command(serverDll));
root.Add(ClusterScenario.Command(serverDll));
var parsed = root.Parse(args);
BenchConfig.ExtraServerHocon = parsed.GetValue(serverHocon)?.Replace(';', '\n');
BenchConfig.Tls = parsed.GetValue(tls);
return await parsed.InvokeAsync();

/// <summary>Fan-out defaults: sized so the default run takes about 20 s on a 2-core machine.</summary>
internal static class FanoutDefaults
{
    public const int Messages = 2000;
    public const double Rate = 500;

    /// <summary>
    /// The CPU sweep of issue 14: paced runs of 5 s with 50 clients (250k deliveries/s is 5,000
    /// messages/s), floods of 4,000 messages per sender (4 M deliveries with 200 clients × 5 senders).
    /// </summary>
    public static FanoutSweep.Options Sweep(int floodClients, int senders, int timeoutSeconds, string? serverDll) =>
        new(50, floodClients, senders, [10_000, 50_000, 250_000], 5, 4000, TimeSpan.FromSeconds(timeoutSeconds), serverDll);

    public static FanoutSweep.Options QuickSweep(string? serverDll) =>
        new(20, 50, 5, [10_000, 50_000], 1, 200, TimeSpan.FromSeconds(60), serverDll);
}
