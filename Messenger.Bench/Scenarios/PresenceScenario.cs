using System.Diagnostics;
using System.Text;

namespace Messenger.Bench.Scenarios;

/// <summary>
/// Presence at scale: while a burst of logins arrives from one address (127.0.0.1), two other
/// users keep measuring round trips: a private message from A to B answered by B (A's clock, send
/// to answer), a message from A in a room of their own until its echo (the server's proof it was
/// stored), and every tenth time (<see cref="Options.LobbyEvery"/>) a lobby message until its echo (stored and fanned out to
/// everyone logged in). Probes go out on a fixed schedule, whatever is still unanswered, and each is
/// timed from its send to the read that brought its answer (see <see cref="Prober"/>). The same
/// probes run first with the server quiet, for comparison. Burst clients
/// that get in stay logged in and read (and drop) everything until the end; refused ones close.
/// Bounded: <see cref="Options.Burst"/> logins, <see cref="Options.MaxSamples"/> probes of each
/// kind, <see cref="Options.Deadline"/> in all.
/// </summary>
public sealed class PresenceScenario(PresenceScenario.Options options)
{
    /// <param name="LoginLimit">Keep the server's default logins-per-address limit (else raised, as every scenario does).</param>
    /// <param name="LobbyEvery">Every how many probe rounds a lobby message goes too (0 = never).</param>
    public sealed record Options(int Burst, bool LoginLimit, TimeSpan Deadline, string? ServerDll = null, int Parallel = 64,
        int QuietSamples = 50, int MaxSamples = 2000, TimeSpan? ProbeInterval = null, int LobbyEvery = 10);

    public async Task<BenchResult> RunAsync()
    {
        var o = options;
        var result = new BenchResult("presence").Add("burst", o.Burst).Add("login_limit", o.LoginLimit ? "default" : "raised")
            .Add("lobby_every", o.LobbyEvery);
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
            prober = new Prober(a, b, o.LobbyEvery);
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
                result.Add(label + "samples", probes.Pm.Length).Add(label + "unanswered", probes.Unanswered);
                foreach (var (kind, values) in new[] { ("pm", probes.Pm), ("room", probes.Room), ("lobby", probes.Lobby) })
                {
                    result.Add($"{label}{kind}_p50_ms", Stats.Percentile(values, 50)).Add($"{label}{kind}_p99_ms", Stats.Percentile(values, 99));
                    if (label == "") result.Add($"{kind}_max_ms", values.Length == 0 ? double.NaN : values[^1]);
                }
            }
            result.Add("server_cpu_s", server.CpuSeconds() - cpuBefore)
                .Add("peak_rss_mb", server.PeakRssBytes() / 1e6)
                .Add("status", busy.Pm.Length > 0 && otherErrors == 0 && quiet.Unanswered + busy.Unanswered == 0
                    ? "ok" : "no samples, unanswered probes or unexpected errors");
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
    /// A and B, on threads of their own (their clock never waits for the thread pool that the burst's
    /// sockets keep busy in this process). Every interval A sends, whatever is still unanswered (an
    /// open loop: a stall delays every probe due in it, as it would every user, instead of holding
    /// the next probe back), one private message to B and one message to their room, and every tenth (or lobby-every)
    /// time one lobby message. B answers each private message with the same text; A takes the time
    /// of B's answer and of its own echoes from the stamps of the reads that brought them.
    /// </summary>
    private sealed class Prober : IDisposable
    {
        public const string A = "probe-a", B = "probe-b", Room = "probe";
        public static readonly byte[] JoinRoom = Encoding.ASCII.GetBytes($"{{\"type\":\"join\",\"room\":\"{Room}\"}}\n");
        private static readonly TimeSpan Drain = TimeSpan.FromSeconds(10);
        public TaskCompletionSource JoinedA { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource JoinedB { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource WelcomeA { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource WelcomeB { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Samples { get { lock (_gate) return _pm.Count; } }
        private readonly LineSocket _a, _b;
        private readonly int _lobbyEvery; // rounds; 0 = no lobby probes
        private readonly object _gate = new();
        private readonly Dictionary<string, long> _unanswered = new(); // probe text → its send timestamp
        private readonly List<double> _pm = [], _room = [], _lobby = [];
        private TaskCompletionSource? _allAnswered; // set once the probing has ended, while answers are still due
        private int _round; // probe texts stay unique over both runs

        public Prober(LineSocket a, LineSocket b, int lobbyEvery)
        {
            _a = a;
            _b = b;
            _lobbyEvery = lobbyEvery;
            a.ReadLinesOnOwnThread(OnA, "probe-a");
            b.ReadLinesOnOwnThread(OnB, "probe-b");
        }

        private bool OnA(ReadOnlySpan<byte> line, long now)
        {
            if (line.StartsWith(Lines.Welcome)) WelcomeA.TrySetResult();
            else if (line.StartsWith("{\"type\":\"history\""u8)) JoinedA.TrySetResult();
            else if (line.StartsWith(Lines.Pm) && Lines.StringField(line, "\"from\":\""u8).SequenceEqual(Encoding.ASCII.GetBytes(B)))
                Answered(Lines.StringField(line, "\"text\":\""u8), now);
            else if (line.StartsWith(Lines.Msg))
                Answered(Lines.StringField(line, "\"text\":\""u8), now);
            return true;
        }

        private bool OnB(ReadOnlySpan<byte> line, long now)
        {
            if (line.StartsWith(Lines.Welcome)) WelcomeB.TrySetResult();
            else if (line.StartsWith("{\"type\":\"history\""u8)) JoinedB.TrySetResult();
            else if (line.StartsWith(Lines.Pm) && Lines.StringField(line, "\"from\":\""u8).SequenceEqual(Encoding.ASCII.GetBytes(A)))
            {
                var text = Encoding.ASCII.GetString(Lines.StringField(line, "\"text\":\""u8));
                _b.Send(Encoding.ASCII.GetBytes($"{{\"type\":\"pm\",\"to\":\"{A}\",\"text\":\"{text}\"}}\n"));
            }
            return true;
        }

        /// <summary>A probe's answer or echo arrived (its text names it: p, r or l, then its number).</summary>
        private void Answered(ReadOnlySpan<byte> text, long now)
        {
            var key = Encoding.ASCII.GetString(text);
            lock (_gate)
            {
                if (!_unanswered.Remove(key, out long sent)) return;
                double ms = Stopwatch.GetElapsedTime(sent, now).TotalMilliseconds;
                (key[0] switch { 'p' => _pm, 'r' => _room, _ => _lobby }).Add(ms);
                if (_unanswered.Count == 0) _allAnswered?.TrySetResult();
            }
        }

        /// <summary>
        /// Probes every <paramref name="interval"/> until <paramref name="done"/> or <paramref name="max"/>
        /// rounds, then waits (at most 10 s) for the answers still due; returns the round trips of each
        /// kind, sorted, in ms, and how many probes were never answered.
        /// </summary>
        public async Task<(double[] Pm, double[] Room, double[] Lobby, int Unanswered)> RunAsync(Func<bool> done, TimeSpan interval, int max,
            CancellationToken cancel)
        {
            lock (_gate)
            {
                _pm.Clear();
                _room.Clear();
                _lobby.Clear();
                _allAnswered = null;
            }
            var sending = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var sender = new Thread(() =>
            {
                try
                {
                    long first = Stopwatch.GetTimestamp();
                    for (int n = 0; n < max && !done() && !cancel.IsCancellationRequested; n++)
                    {
                        var due = interval * n - Stopwatch.GetElapsedTime(first);
                        if (due > TimeSpan.Zero) Thread.Sleep(due);
                        int round = ++_round;
                        bool lobby = _lobbyEvery > 0 && n % _lobbyEvery == 0;
                        var lines = Encoding.ASCII.GetBytes($"{{\"type\":\"pm\",\"to\":\"{B}\",\"text\":\"p{round}\"}}\n"
                            + $"{{\"type\":\"say\",\"room\":\"{Room}\",\"text\":\"r{round}\"}}\n"
                            + (lobby ? $"{{\"type\":\"say\",\"text\":\"l{round}\"}}\n" : ""));
                        lock (_gate)
                        {
                            long now = Stopwatch.GetTimestamp();
                            _unanswered.Add($"p{round}", now);
                            _unanswered.Add($"r{round}", now);
                            if (lobby) _unanswered.Add($"l{round}", now);
                        }
                        _a.Send(lines);
                    }
                    sending.TrySetResult();
                }
                catch (Exception e) { sending.TrySetException(e); }
            }) { IsBackground = true, Name = "probe-sender" };
            sender.Start();
            await sending.Task.WaitAsync(cancel);
            Task allAnswered;
            lock (_gate)
            {
                _allAnswered = new(TaskCreationOptions.RunContinuationsAsynchronously);
                if (_unanswered.Count == 0) _allAnswered.TrySetResult();
                allAnswered = _allAnswered.Task;
            }
            await Task.WhenAny(allAnswered, Task.Delay(Drain, cancel));
            cancel.ThrowIfCancellationRequested();
            lock (_gate)
            {
                int unanswered = _unanswered.Count;
                _unanswered.Clear();
                return (Stats.Sorted(_pm), Stats.Sorted(_room), Stats.Sorted(_lobby), unanswered);
            }
        }

        public void Dispose()
        {
            _a.Dispose();
            _b.Dispose();
        }
    }
}
