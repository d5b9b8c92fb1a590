using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Akka.Configuration;
using Messenger.Client;
using Messenger.Hosting;
using Messenger.Protocol;

namespace Messenger.Bench.Scenarios;

/// <summary>
/// File downloads: one seeded-random file, fetched over TCP and reliable UDP by 1 client and by
/// several at once, UDP also through the lossy socket. Loss p means p in each direction: the
/// client's lossy socket drops p of the data reaching it and p of the acks it sends. (Putting a
/// lossy socket on the server too would make the data path lose about 2p.) Each run is followed by a plain loopback TCP copy of the same file with as many clients
/// (<see cref="LoopbackBaseline"/>) and every figure is also given as a ratio to it.
/// </summary>
public sealed class DownloadScenario(DownloadScenario.Options options)
{
    public sealed record Options(
        long FileBytes,
        int Concurrent,
        IReadOnlyList<double> LossPercents,
        IReadOnlyList<double> ConcurrentLossPercents,
        bool Tcp,
        bool Udp,
        TimeSpan RunDeadline,
        TimeSpan Deadline,
        string? ServerDll = null);

    public const long DefaultFileBytes = 67_737_600;
    public const int Seed = 42;
    private const string FileName = "bench-file.bin";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(Action<BenchResult>? onResult = null)
    {
        var o = options;
        var results = new List<BenchResult>();
        void Report(BenchResult r)
        {
            results.Add(r);
            onResult?.Invoke(r);
        }
        using var deadline = new CancellationTokenSource(o.Deadline);
        var work = Directory.CreateTempSubdirectory("messenger-bench-dl-").FullName;
        try
        {
            var served = Path.Combine(work, "served");
            Directory.CreateDirectory(served);
            var file = Path.Combine(served, FileName);
            await WriteSeededFileAsync(file, o.FileBytes, Seed);
            string? udpUnavailable = o.Udp ? null : "skipped";

            var losses = o.Tcp ? o.LossPercents.Prepend(0).Distinct().ToList() : o.LossPercents.ToList();
            foreach (var loss in losses)
            {
                var runs = new List<(TransferVia Via, int Clients)>();
                if (loss == 0 && o.Tcp) runs.AddRange([(TransferVia.Tcp, 1), (TransferVia.Tcp, o.Concurrent)]);
                if (o.Udp && o.LossPercents.Contains(loss)) runs.Add((TransferVia.Udp, 1));
                if (o.Udp && o.ConcurrentLossPercents.Contains(loss)) runs.Add((TransferVia.Udp, o.Concurrent));
                if (runs.Count == 0) continue;
                if (runs.All(r => r.Via == TransferVia.Udp) && udpUnavailable is not null)
                {
                    foreach (var r in runs) Report(Unavailable(r.Via, r.Clients, loss, udpUnavailable));
                    continue;
                }

                await using var server = await ServerProcess.StartAsync(served, BenchConfig.ServerHocon, [], serverDll: o.ServerDll);
                using var control = await ControlClient.LoginAsync(server.Chat, "bench", deadline.Token, server.ClientTls);
                await control.WaitUntilListedAsync(FileName, deadline.Token);
                ActorSystem? clientSystem = null;
                var warmed = new HashSet<TransferVia>();
                try
                {
                    foreach (var (via, clients) in runs)
                    {
                        if (via == TransferVia.Udp && udpUnavailable is not null)
                        {
                            Report(Unavailable(via, clients, loss, udpUnavailable));
                            continue;
                        }
                        if (via == TransferVia.Udp)
                            clientSystem ??= ActorSystem.Create("bench", ClientConfig.Load(null, ConfigurationFactory.ParseString(
                                $"messenger.rudp.lossy {{ loss = {(loss / 100).ToString("R", CultureInfo.InvariantCulture)}, seed = {Seed} }}")));
                        // One download first, not reported: otherwise the first run meets cold code on
                        // both ends (a fresh server, a fresh client actor system) and the runs after it
                        // warm ones, which flattered the ratio of 8 downloads to 1.
                        // A warm-up that failed is reported in place of the run: it says why.
                        var warmUp = warmed.Add(via) ? await RunOneAsync(server, control, clientSystem, via, 1, loss, file, work, deadline.Token) : null;
                        var result = warmUp?.Get("status") is { } warmStatus && warmStatus != "ok"
                            ? warmUp
                            : await RunOneAsync(server, control, clientSystem, via, clients, loss, file, work, deadline.Token);
                        if (result.Get("status") is { } status && status.StartsWith("not available", StringComparison.Ordinal))
                            udpUnavailable = status["not available".Length..].TrimStart(':', ' ');
                        Report(result);
                    }
                }
                finally
                {
                    if (clientSystem is not null) await clientSystem.Terminate().WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
                }
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            Report(new BenchResult("download").Add("status", $"deadline after {o.Deadline.TotalSeconds:0}s"));
        }
        finally
        {
            try { Directory.Delete(work, true); } catch (IOException) { }
        }
        return results;
    }

    private static BenchResult NewRow(TransferVia via, int clients, double loss) => new BenchResult("download")
        .Add("via", ChatCodec.ViaName(via)).Add("clients", clients).Add("loss_pct", loss);

    private static BenchResult Unavailable(TransferVia via, int clients, double loss, string why) =>
        NewRow(via, clients, loss).Add("status", $"not available: {why}");

    private async Task<BenchResult> RunOneAsync(ServerProcess server, ControlClient control, ActorSystem? system, TransferVia via,
        int clients, double loss, string file, string work, CancellationToken scenarioCancel)
    {
        var row = NewRow(via, clients, loss);
        using var runDeadline = CancellationTokenSource.CreateLinkedTokenSource(scenarioCancel);
        runDeadline.CancelAfter(options.RunDeadline);
        var cancel = runDeadline.Token;
        var output = Path.Combine(work, "out");
        try
        {
            var tickets = new List<TicketFrame>();
            for (int i = 0; i < clients; i++)
            {
                switch (await control.RequestTicketAsync(FileName, via, cancel))
                {
                    case TicketFrame t: tickets.Add(t); break;
                    case ErrorFrame e: return row.Add("status", $"not available: server said {e.Code}: {e.Message}");
                }
            }

            double cpuBefore = server.CpuSeconds();
            long start = Stopwatch.GetTimestamp();
            var downloads = tickets.Select((ticket, i) => Task.Run(async () =>
            {
                long clientStart = Stopwatch.GetTimestamp();
                var folder = Path.Combine(output, $"c{i}");
                var result = await Download.RunAsync(system, BenchConfig.Host.ToString(), BenchConfig.Host, ticket, folder, null, cancel, server.ClientTls);
                return (Result: result, Seconds: Stopwatch.GetElapsedTime(clientStart).TotalSeconds);
            }, cancel)).ToArray();
            var done = await Task.WhenAll(downloads);
            double wall = BenchConfig.SecondsSince(start);
            double cpu = server.CpuSeconds() - cpuBefore;
            TryDelete(output);

            long verifiedBytes = done.Where(d => d.Result.Verified).Sum(d => d.Result.Bytes);
            var perClient = done.Select(d => d.Result.Verified ? d.Result.Bytes / d.Seconds / 1e6 : 0).ToArray();
            long datagrams = done.Sum(d => d.Result.Datagrams), retransmits = done.Sum(d => d.Result.Retransmits);
            double goodput = verifiedBytes / wall / 1e6;

            var baseline = await LoopbackBaseline.RunAsync(file, clients, Path.Combine(work, "baseline"), cancel);
            double jain = clients > 1 ? Stats.JainIndex(perClient) : double.NaN;
            double baselineJain = clients > 1 ? Stats.JainIndex(baseline.PerClientMegabytesPerSecond) : double.NaN;
            row.Add("status", done.All(d => d.Result.Verified) ? "ok" : $"unverified: {done.Count(d => !d.Result.Verified)} of {clients}")
                .Add("verified_mb", verifiedBytes / 1e6)
                .Add("wall_s", wall)
                .Add("goodput_mbps", goodput)
                .Add("retx_per_datagram", via == TransferVia.Udp && datagrams > 0 ? (double)retransmits / datagrams : via == TransferVia.Tcp ? double.NaN : 0)
                .Add("datagrams", via == TransferVia.Udp ? datagrams.ToString(CultureInfo.InvariantCulture) : "-")
                .Add("jain", jain)
                .Add("server_cpu_s", cpu)
                .Add("baseline_mbps", baseline.MegabytesPerSecond)
                .Add("baseline_wall_s", baseline.WallSeconds)
                .Add("baseline_jain", baselineJain)
                .Add("goodput_ratio", goodput / baseline.MegabytesPerSecond)
                .Add("wall_ratio", wall / baseline.WallSeconds)
                .Add("jain_ratio", jain / baselineJain);
            return row;
        }
        catch (NotSupportedException e)
        {
            return row.Add("status", $"not available: {e.Message}");
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return row.Add("status", $"deadline after {options.RunDeadline.TotalSeconds:0}s");
        }
        catch (Exception e) when (e is DownloadFailedException or IOException or System.Net.Sockets.SocketException)
        {
            return row.Add("status", $"failed: {e.Message}");
        }
        finally
        {
            TryDelete(output);
        }
    }

    private static void TryDelete(string folder)
    {
        try { if (Directory.Exists(folder)) Directory.Delete(folder, true); } catch (IOException) { }
    }

    /// <summary>Writes <paramref name="bytes"/> pseudo-random bytes from a seeded generator (same seed, same file).</summary>
    public static async Task WriteSeededFileAsync(string path, long bytes, int seed)
    {
        var random = new Random(seed);
        var buffer = new byte[1 << 20];
        await using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1, useAsync: true);
        for (long left = bytes; left > 0;)
        {
            int n = (int)Math.Min(buffer.Length, left);
            random.NextBytes(buffer.AsSpan(0, n));
            await stream.WriteAsync(buffer.AsMemory(0, n));
            left -= n;
        }
    }
}
