using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Messenger.Bench;

/// <summary>
/// The Messenger server in its own process (<c>dotnet Messenger.Server.dll</c>, ports 0), so its
/// CPU time and memory can be read from /proc apart from the load generator's.
/// </summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Queue<string> _lastLines = new();
    private readonly string _configPath;
    private readonly string? _ownDataFolder;

    private ServerProcess(Process process, string configPath, string? ownDataFolder)
    {
        _process = process;
        _configPath = configPath;
        _ownDataFolder = ownDataFolder;
    }

    public int Pid { get; private set; }
    public IPEndPoint Chat { get; private set; } = null!;
    public IPEndPoint Files { get; private set; } = null!;
    /// <summary>The reliable-UDP port, when the server announces one.</summary>
    public int? UdpPort { get; private set; }
    /// <summary>This node's cluster address as "HOST:PORT", for another node's <c>--seed-node</c>.</summary>
    public string? ClusterSeed { get; private set; }
    /// <summary>How clients must connect: TLS pinned to the server's certificate when the bench runs with --tls, else null.</summary>
    public Messenger.Client.ClientTls? ClientTls { get; private set; }

    [GeneratedRegex(@"chat tcp (?<chat>[\d.]+:\d+), files tcp (?<files>[\d.]+:\d+)(?:.*?files udp (?<udp>[\d.]+:\d+))?")]
    private static partial Regex ListeningLine();

    [GeneratedRegex(@"cluster akka\.tcp://[^@\s]+@(?<seed>[^\s;]+)")]
    private static partial Regex ClusterAddress();

    [GeneratedRegex(@"TLS, certificate SHA-256 ([0-9a-f]{64})")]
    private static partial Regex TlsFingerprint();

    /// <summary>
    /// Starts the server with <paramref name="hocon"/> layered over its defaults and waits for its
    /// "Messenger listening" line.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(string filesFolder, string hocon, IEnumerable<string>? extraArgs = null,
        TimeSpan? timeout = null, string? serverDll = null)
    {
        var dll = serverDll ?? LocateServerDll();
        var configPath = Path.Combine(Path.GetTempPath(), $"messenger-bench-{Environment.ProcessId}-{Guid.NewGuid():N}.hocon");
        if (BenchConfig.Tls)
            hocon += $"\nmessenger.tls {{ self-signed = on, self-signed-file = \"{Path.Combine(Path.GetTempPath(), "messenger-bench-tls.pfx")}\" }}";
        await File.WriteAllTextAsync(configPath, hocon);
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        var extra = (extraArgs ?? []).ToList();
        info.ArgumentList.Add(dll);
        // Every port 0 (any free one) unless extraArgs names it (a node restarted at its address).
        foreach (var port in new[] { "--chat-port", "--file-port", "--udp-port", "--cluster-port" }.Where(p => !extra.Contains(p)))
        {
            info.ArgumentList.Add(port);
            info.ArgumentList.Add("0");
        }
        foreach (var arg in new[] { "--files", filesFolder, "--config", configPath }) info.ArgumentList.Add(arg);
        foreach (var arg in extra) info.ArgumentList.Add(arg);
        // Without --data the server gets a fresh database of its own, removed with it.
        string? ownData = null;
        if (!extra.Contains("--data"))
        {
            ownData = Path.Combine(Path.GetTempPath(), $"messenger-bench-data-{Environment.ProcessId}-{Guid.NewGuid():N}");
            info.ArgumentList.Add("--data");
            info.ArgumentList.Add(ownData);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var server = new ServerProcess(process, configPath, ownData);
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(string? line)
        {
            if (line is null) return;
            lock (server._lastLines)
            {
                server._lastLines.Enqueue(line);
                while (server._lastLines.Count > 40) server._lastLines.Dequeue();
            }
            if (line.Contains("Messenger listening", StringComparison.Ordinal)) listening.TrySetResult(line);
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException(
            $"the server exited (code {process.ExitCode}) before listening:\n{server.LastLines()}"));
        process.Start();
        server.Pid = process.Id;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var line = await listening.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(30));
            var match = ListeningLine().Match(line);
            if (!match.Success) throw new InvalidOperationException($"cannot read the ports from: {line}");
            server.Chat = IPEndPoint.Parse(match.Groups["chat"].Value);
            server.Files = IPEndPoint.Parse(match.Groups["files"].Value);
            if (match.Groups["udp"].Success) server.UdpPort = IPEndPoint.Parse(match.Groups["udp"].Value).Port;
            if (ClusterAddress().Match(line) is { Success: true } cluster) server.ClusterSeed = cluster.Groups["seed"].Value;
            if (TlsFingerprint().Match(line) is { Success: true } tls) server.ClientTls = new Messenger.Client.ClientTls(tls.Groups[1].Value);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>The server's last lines of output (for error messages).</summary>
    public string LastLines()
    {
        lock (_lastLines) return string.Join('\n', _lastLines);
    }

    /// <summary>
    /// Finds <c>Messenger.Server/bin/{Release,Debug}/net10.0/Messenger.Server.dll</c> above this program,
    /// preferring the configuration this program was built in.
    /// </summary>
    public static string LocateServerDll()
    {
        var root = RepoRoot();
        var mine = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
        foreach (var configuration in new[] { mine, mine == "Release" ? "Debug" : "Release" })
        {
            var path = Path.Combine(root, "Messenger.Server", "bin", configuration, "net10.0", "Messenger.Server.dll");
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException("Messenger.Server.dll not found: run `dotnet build -c Release Messenger.Server` first, or pass --server PATH");
    }

    /// <summary>The folder holding Messenger.sln, searched upwards from this program and the working directory.</summary>
    public static string RepoRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Messenger.sln"))) return dir.FullName;
        }
        return Directory.GetCurrentDirectory();
    }

    // ------------------------------------------------------------------ /proc

    /// <summary>User plus system CPU seconds the server has used so far.</summary>
    public double CpuSeconds() => ReadCpuSeconds($"/proc/{Pid}/stat");

    /// <summary>Resident set size in bytes (VmRSS).</summary>
    public long RssBytes() => ReadStatusKb("VmRSS") * 1024;

    /// <summary>Peak resident set size in bytes (VmHWM).</summary>
    public long PeakRssBytes() => ReadStatusKb("VmHWM") * 1024;

    /// <summary>CPU seconds per thread, by thread name, busiest first.</summary>
    public IReadOnlyList<(string Thread, double CpuSeconds)> ThreadCpu()
    {
        var list = new List<(string, double)>();
        try
        {
            foreach (var dir in Directory.GetDirectories($"/proc/{Pid}/task"))
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    int open = stat.IndexOf('('), close = stat.LastIndexOf(')');
                    list.Add((stat[(open + 1)..close], ParseCpu(stat)));
                }
                catch (IOException) { } // the thread ended meanwhile
            }
        }
        catch (IOException) { }
        return list.OrderByDescending(t => t.Item2).ToList();
    }

    /// <summary>CPU seconds of the runtime's tiered-compilation thread (the JIT recompiling hot code) so far.</summary>
    public double JitCpuSeconds() => ThreadCpu().Where(t => t.Thread.StartsWith(".NET Tiered", StringComparison.Ordinal)).Sum(t => t.CpuSeconds);

    /// <summary>Per-thread CPU grouped by name (".NET TP Worker" ×N and so on), busiest first.</summary>
    public string ThreadCpuSummary(int top = 8) => string.Join(", ", ThreadCpu()
        .GroupBy(t => t.Thread)
        .Select(g => (Name: g.Key, Count: g.Count(), Cpu: g.Sum(t => t.CpuSeconds)))
        .OrderByDescending(g => g.Cpu)
        .Take(top)
        .Select(g => $"{g.Name.Trim()}x{g.Count}:{g.Cpu:0.00}s"));

    private static double ReadCpuSeconds(string statPath)
    {
        try { return ParseCpu(File.ReadAllText(statPath)); }
        catch (IOException) { return double.NaN; }
    }

    /// <summary>utime + stime (fields 14 and 15 of /proc/*/stat; the name in parentheses may hold spaces).</summary>
    internal static double ParseCpu(string stat)
    {
        var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long ticks = long.Parse(rest[11], CultureInfo.InvariantCulture) + long.Parse(rest[12], CultureInfo.InvariantCulture);
        return (double)ticks / Native.ClockTicksPerSecond;
    }

    private long ReadStatusKb(string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
            {
                if (!line.StartsWith(field + ":", StringComparison.Ordinal)) continue;
                var digits = new string(line.Where(char.IsDigit).ToArray());
                return long.Parse(digits, CultureInfo.InvariantCulture);
            }
        }
        catch (IOException) { }
        return -1;
    }

    /// <summary>SIGTERM (graceful: clients are closed), then a kill after 3 s.</summary>
    /// <summary>SIGKILL: the process ends at once, with no chance to flush or close anything.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        var clock = Stopwatch.StartNew();
        try
        {
            if (!_process.HasExited)
            {
                if (!Native.Terminate(_process.Id)) _process.Kill(entireProcessTree: true);
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(3)); // a server that does not stop in time is killed
                try { await _process.WaitForExitAsync(wait.Token); }
                catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); }
            }
        }
        catch (InvalidOperationException) { } // never started
        Console.Error.WriteLine($"[bench] server {Pid} stopped in {clock.Elapsed.TotalSeconds:0.0} s");
        _process.Dispose();
        try { File.Delete(_configPath); } catch (IOException) { }
        if (_ownDataFolder is not null)
        {
            try { Directory.Delete(_ownDataFolder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
