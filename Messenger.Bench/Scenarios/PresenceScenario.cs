using System.Diagnostics;
using System.Text;

namespace Messenger.Bench.Scenarios;

/// <summary>
/// Presence at scale: while a burst of logins arrives from one address (127.0.0.1), two other
/// users keep measuring round trips: a private message from A to B answered by B (A's clock, send
/// to answer), a message from A in a room of their own until its echo (the server's proof it was
/// stored), and every tenth time a lobby message until its echo (stored and fanned out to
/// everyone logged in). The same probes run first with the server quiet, for comparison. Burst clients
/// that get in stay logged in and read (and drop) everything until the end; refused ones close.
/// Bounded: <see cref="Options.Burst"/> logins, <see cref="Options.MaxSamples"/> probes of each
/// kind, <see cref="Options.Deadline"/> in all.
/// </summary>
public sealed class PresenceScenario(PresenceScenario.Options options)
{
    /// <param name="LoginLimit">Keep the server's default logins-per-address limit (else raised, as every scenario does).</param>
    public sealed record Options(int Burst, bool LoginLimit, TimeSpan Deadline, string? ServerDll = null, int Parallel = 64,
        int QuietSamples = 50, int MaxSamples = 2000, TimeSpan? ProbeInterval = null);

    public async Task<BenchResult> RunAsync()
    {
        var o = options;
        var result = new BenchResult("presence").Add("burst", o.Burst).Add("login_limit", o.LoginLimit ? "default" : "raised");
        long? limit = Hosting.OpenFileLimit.Raise(2L * o.Burst + 512);
        if (limit is { } l && l < 2L * o.Burst + 512) result.Add("note", $"ulimit -n {l} may be too low for {o.Burst} clients");

        using var deadline = new CancellationTokenSource(o.Deadline);
        var cancel = deadline.Token;
        var emptyFolder = Directory.CreateTempSubdirectory("messenger-bench-presence-").FullName;
        var hocon = BenchConfig.ServerHoconWith(loginLimitRaised: !o.LoginLimit);
        await using var server = await ServerProcess.StartAsync(emptyFolder, hocon, serverDll: o.ServerDll);
        var readers = new List<Task>();
        var burst = new List<LineSocket>();
        Prober? prober = null;
        string phase = "probe login";
        int welcomed = 0, tooMany = 0, otherErrors = 0, attempted = 0, connectFailures = 0;
        try
        {
            var a = await LineSocket.ConnectAsync(server.Chat, 1 << 20, cancel, server.ClientTls);
            var b = await LineSocket.ConnectAsync(server.Chat, 1 << 20, cancel, server.ClientTls);
            prober = new Prober(a, b);
            readers.Add(a.ReadLinesAsync(prober.OnA, cancel));
            readers.Add(b.ReadLinesAsync(prober.OnB, cancel));
            await a.SendAsync(LineSocket.Hello(Prober.A), cancel);
            await prober.WelcomeA.Task.WaitAsync(cancel);
            await b.SendAsync(LineSocket.Hello(Prober.B), cancel);
            await prober.WelcomeB.Task.WaitAsync(cancel);
            await a.SendAsync(Prober.JoinRoom, cancel);
            await b.SendAsync(Prober.JoinRoom, cancel);
            await Task.WhenAll(prober.JoinedA.Task, prober.JoinedB.Task).WaitAsync(cancel);

            phase = "quiet probes";
            var interval = o.ProbeInterval ?? TimeSpan.FromMilliseconds(20);
            var quiet = await prober.RunAsync(() => false, interval, o.QuietSamples, cancel);

            phase = "burst";
            double cpuBefore = server.CpuSeconds();
            long burstStart = Stopwatch.GetTimestamp();
            var burstDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var logins = BenchConfig.ForEachAsync(Enumerable.Range(0, o.Burst), o.Parallel, cancel, async (i, ct) =>
            {
                Interlocked.Increment(ref attempted);
                LineSocket socket;
                try { socket = await LineSocket.ConnectAsync(server.Chat, 64 * 1024, ct, server.ClientTls); }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                {
                    Interlocked.Increment(ref connectFailures);
                    return;
                }
                var answered = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                var reader = socket.ReadLinesAsync((line, _) =>
                {
                    if (answered.Task.IsCompleted) return true;
                    if (line.StartsWith(Lines.Welcome)) answered.TrySetResult(true);
                    else if (line.StartsWith(Lines.Error))
                    {
                        if (line.IndexOf("\"too_many_logins\""u8) >= 0) Interlocked.Increment(ref tooMany);
                        else Interlocked.Increment(ref otherErrors);
                        answered.TrySetResult(false);
                        return false;
                    }
                    return true;
                }, cancel);
                lock (readers) readers.Add(reader);
                try { await socket.SendAsync(LineSocket.Hello($"b{i}"), ct); }
                catch (IOException) { }
                // A connection the server closed before answering counts as refused.
                _ = reader.ContinueWith(_ => answered.TrySetResult(false), TaskScheduler.Default);
                if (await answered.Task.WaitAsync(ct))
                {
                    Interlocked.Increment(ref welcomed);
                    lock (burst) burst.Add(socket);
                }
                else socket.Dispose();
            }).ContinueWith(t => burstDone.TrySetResult(), TaskScheduler.Default);
            phase = "probes during the burst";
            var busy = await prober.RunAsync(() => burstDone.Task.IsCompleted, interval, o.MaxSamples, cancel);
            await logins;
            cancel.ThrowIfCancellationRequested();
            double burstSeconds = BenchConfig.SecondsSince(burstStart);

            result.Add("welcomed", welcomed).Add("too_many_logins", tooMany).Add("other_errors", otherErrors)
                .Add("connect_failures", connectFailures).Add("burst_s", burstSeconds);
            foreach (var (label, probes) in new[] { ("quiet_", quiet), ("", busy) })
            {
                result.Add(label + "samples", probes.Pm.Length);
                foreach (var (kind, values) in new[] { ("pm", probes.Pm), ("room", probes.Room), ("lobby", probes.Lobby) })
                {
                    result.Add($"{label}{kind}_p50_ms", Stats.Percentile(values, 50)).Add($"{label}{kind}_p99_ms", Stats.Percentile(values, 99));
                    if (label == "") result.Add($"{kind}_max_ms", values.Length == 0 ? double.NaN : values[^1]);
                }
            }
            result.Add("server_cpu_s", server.CpuSeconds() - cpuBefore)
                .Add("peak_rss_mb", server.PeakRssBytes() / 1e6)
                .Add("status", busy.Pm.Length > 0 && otherErrors == 0 ? "ok" : "no samples or unexpected errors");
            return result;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return result.Add("attempted", attempted).Add("welcomed", welcomed).Add("too_many_logins", tooMany)
                .Add("samples", prober?.Samples ?? 0)
                .Add("status", $"deadline after {o.Deadline.TotalSeconds:0}s during {phase}");
        }
        finally
        {
            foreach (var s in burst) s.Dispose();
            prober?.Dispose();
            await Task.WhenAll(readers.ToArray()).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
            try { Directory.Delete(emptyFolder, true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// A and B: A sends a private message to B and a lobby message, one of each outstanding at a
    /// time; B answers every private message from A; A takes the time of B's answer and of its own
    /// lobby echo.
    /// </summary>
    private sealed class Prober(LineSocket a, LineSocket b) : IDisposable
    {
        public const string A = "probe-a", B = "probe-b", Room = "probe";
        public static readonly byte[] JoinRoom = Encoding.ASCII.GetBytes($"{{\"type\":\"join\",\"room\":\"{Room}\"}}\n");
        private const int LobbyEvery = 10;
        public TaskCompletionSource JoinedA { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource JoinedB { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource WelcomeA { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource WelcomeB { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Samples => _pm.Count;
        private readonly List<double> _pm = [], _room = [], _lobby = [];
        private TaskCompletionSource _pmBack = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource _roomBack = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource _lobbyBack = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private string _pmText = "", _roomText = "", _lobbyText = "";

        public bool OnA(ReadOnlySpan<byte> line, long now)
        {
            if (line.StartsWith(Lines.Welcome)) WelcomeA.TrySetResult();
            else if (line.StartsWith("{\"type\":\"history\""u8)) JoinedA.TrySetResult();
            else if (line.StartsWith("{\"type\":\"pm\""u8) && Lines.StringField(line, "\"from\":\""u8).SequenceEqual(Encoding.ASCII.GetBytes(B))
                && Lines.StringField(line, "\"text\":\""u8).SequenceEqual(Encoding.ASCII.GetBytes(Volatile.Read(ref _pmText))))
                _pmBack.TrySetResult();
            else if (line.StartsWith(Lines.Msg))
            {
                var text = Lines.StringField(line, "\"text\":\""u8);
                if (text.SequenceEqual(Encoding.ASCII.GetBytes(Volatile.Read(ref _roomText)))) _roomBack.TrySetResult();
                else if (text.SequenceEqual(Encoding.ASCII.GetBytes(Volatile.Read(ref _lobbyText)))) _lobbyBack.TrySetResult();
            }
            return true;
        }

        public bool OnB(ReadOnlySpan<byte> line, long now)
        {
            if (line.StartsWith(Lines.Welcome)) WelcomeB.TrySetResult();
            else if (line.StartsWith("{\"type\":\"history\""u8)) JoinedB.TrySetResult();
            else if (line.StartsWith("{\"type\":\"pm\""u8) && Lines.StringField(line, "\"from\":\""u8).SequenceEqual(Encoding.ASCII.GetBytes(A)))
            {
                var text = Encoding.ASCII.GetString(Lines.StringField(line, "\"text\":\""u8));
                _ = b.SendAsync(Encoding.ASCII.GetBytes($"{{\"type\":\"pm\",\"to\":\"{A}\",\"text\":\"{text}\"}}\n"), CancellationToken.None).AsTask();
            }
            return true;
        }

        /// <summary>
        /// Probes every <paramref name="interval"/> until <paramref name="done"/> or <paramref name="max"/>
        /// rounds; returns the round trips of each kind, sorted, in ms.
        /// </summary>
        public async Task<(double[] Pm, double[] Room, double[] Lobby)> RunAsync(Func<bool> done, TimeSpan interval, int max, CancellationToken cancel)
        {
            _pm.Clear();
            _room.Clear();
            _lobby.Clear();
            for (int n = 0; n < max && !done(); n++)
            {
                bool lobby = n % LobbyEvery == 0;
                var pmBack = _pmBack = new(TaskCreationOptions.RunContinuationsAsynchronously);
                var roomBack = _roomBack = new(TaskCreationOptions.RunContinuationsAsynchronously);
                var lobbyBack = _lobbyBack = new(TaskCreationOptions.RunContinuationsAsynchronously);
                Volatile.Write(ref _pmText, $"p{Guid.NewGuid():N}");
                Volatile.Write(ref _roomText, $"r{Guid.NewGuid():N}");
                Volatile.Write(ref _lobbyText, lobby ? $"l{Guid.NewGuid():N}" : "");
                var lines = $"{{\"type\":\"pm\",\"to\":\"{B}\",\"text\":\"{_pmText}\"}}\n{{\"type\":\"say\",\"room\":\"{Room}\",\"text\":\"{_roomText}\"}}\n"
                    + (lobby ? $"{{\"type\":\"say\",\"text\":\"{_lobbyText}\"}}\n" : "");
                long start = Stopwatch.GetTimestamp();
                var pm = Timed(pmBack.Task, start);
                var room = Timed(roomBack.Task, start);
                var lobbyEcho = Timed(lobbyBack.Task, start);
                await a.SendAsync(Encoding.ASCII.GetBytes(lines), cancel);
                _pm.Add(await pm.WaitAsync(cancel));
                _room.Add(await room.WaitAsync(cancel));
                if (lobby) _lobby.Add(await lobbyEcho.WaitAsync(cancel));
                await Task.Delay(interval, cancel);
            }
            return (Stats.Sorted(_pm), Stats.Sorted(_room), Stats.Sorted(_lobby));
        }

        private static async Task<double> Timed(Task arrived, long start)
        {
            await arrived;
            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        public void Dispose()
        {
            a.Dispose();
            b.Dispose();
        }
    }
}
