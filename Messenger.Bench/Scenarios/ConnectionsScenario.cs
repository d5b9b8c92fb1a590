using System.Diagnostics;
using System.Text;

namespace Messenger.Bench.Scenarios;

/// <summary>
/// Many idle connections: C clients log in and stay; the server's resident memory per
/// connection and the time to log everyone in are measured, right after the logins and again
/// after the clients have sat idle (pinging, as a client does) long enough for what the logins
/// left behind to settle (accounts passivate after a minute); then all close at once and an
/// observer (logged in first) checks that every one of them is reported gone (a <c>left</c>
/// each, and a final <c>who</c> listing only the observer).
/// </summary>
public sealed class ConnectionsScenario(ConnectionsScenario.Options options)
{
    public sealed record Options(int Count, TimeSpan Deadline, TimeSpan Idle, int Parallel = 64, string? ServerDll = null);

    /// <summary>How often an idle client pings: well inside the server's 60 s idle timeout.</summary>
    private static readonly TimeSpan PingInterval = TimeSpan.FromSeconds(20);
    private static readonly ReadOnlyMemory<byte> PingLine = "{\"type\":\"ping\"}\n"u8.ToArray();

    public async Task<BenchResult> RunAsync()
    {
        var o = options;
        var result = new BenchResult("connections").Add("count", o.Count);
        // Each client is one descriptor here and one in the server (which inherits this limit).
        long wanted = o.Count + 512L;
        long? limit = Hosting.OpenFileLimit.Raise(wanted);
        result.Add("fd_limit", limit?.ToString() ?? "unknown");
        int count = o.Count;
        if (limit is { } l && l < wanted)
        {
            count = (int)Math.Max(0, l - 512);
            result.Add("note", $"ulimit -n {l} is below {wanted}: measuring {count} connections (raise the hard limit for more)");
            result.Add("count", count);
        }

        using var deadline = new CancellationTokenSource(o.Deadline);
        var cancel = deadline.Token;
        var emptyFolder = Directory.CreateTempSubdirectory("messenger-bench-conn-").FullName;
        await using var server = await ServerProcess.StartAsync(emptyFolder, BenchConfig.ServerHocon + "\n" + BenchConfig.ServerLoginTimeoutHocon, serverDll: o.ServerDll);
        var clients = new IdleClient[count];
        var readers = new List<Task>();
        Observer? observer = null;
        string phase = "observer login";
        try
        {
            observer = new Observer(await LineSocket.ConnectAsync(server.Chat, 256 * 1024, cancel, server.ClientTls));
            var observerReader = observer.Socket.ReadLinesAsync(observer.OnLine, cancel);
            await observer.Socket.SendAsync(LineSocket.Hello("observer"), cancel);
            await observer.Welcome.Task.WaitAsync(cancel);
            await Task.Delay(500, cancel);
            long rssBefore = server.RssBytes();
            double cpuBefore = server.CpuSeconds();

            // ---- everyone logs in, in two halves: the memory the second half adds is what one more
            // client costs, without what the first logins leave behind once (code run for the first
            // time, thread stacks, the GC's budgets), which the whole-run average spreads over C.
            phase = "login";
            int half = count / 2;
            double loginSeconds = 0, settledSeconds = 0;
            async Task<long> LogInAsync(int from, int to)
            {
                long start = Stopwatch.GetTimestamp();
                await BenchConfig.ForEachAsync(Enumerable.Range(from, to - from), o.Parallel, cancel, async (i, ct) =>
                {
                    var client = new IdleClient(await LineSocket.ConnectAsync(server.Chat, 4096, ct, server.ClientTls));
                    clients[i] = client;
                    lock (readers) readers.Add(client.Socket.ReadLinesAsync(client.OnLine, cancel));
                    await client.Socket.SendAsync(LineSocket.Hello($"c{i}"), ct);
                    await client.Welcome.Task.WaitAsync(ct);
                });
                loginSeconds += BenchConfig.SecondsSince(start);
                // The observer hears every join once the registry is through them.
                phase = "joined announcements";
                while (Volatile.Read(ref observer.Joined) < to) await Task.Delay(20, cancel);
                settledSeconds += BenchConfig.SecondsSince(start);
                await Task.Delay(1000, cancel); // let the last announcements leave the server's queues
                phase = "login";
                return server.RssBytes();
            }
            long rssHalf = await LogInAsync(0, half);
            long rssAfter = await LogInAsync(half, count);
            double cpuLogin = server.CpuSeconds() - cpuBefore;
            result.Add("login_s", loginSeconds)
                .Add("logins_per_s", count / Math.Max(loginSeconds, 1e-9))
                .Add("joined_settled_s", settledSeconds)
                .Add("rss_before_mb", rssBefore / 1e6)
                .Add("rss_after_mb", rssAfter / 1e6)
                .Add("bytes_per_conn", count == 0 ? double.NaN : (rssAfter - rssBefore) / (double)count)
                .Add("second_half_bytes_per_conn", count - half == 0 ? double.NaN : (rssAfter - rssHalf) / (double)(count - half))
                .Add("server_cpu_login_s", cpuLogin);

            // ---- everyone sits idle, pinging
            phase = "idle";
            long idleStart = Stopwatch.GetTimestamp();
            while (Stopwatch.GetElapsedTime(idleStart) < o.Idle)
            {
                var left = o.Idle - Stopwatch.GetElapsedTime(idleStart);
                await Task.Delay(left < PingInterval ? left : PingInterval, cancel);
                await BenchConfig.ForEachAsync(clients, o.Parallel, cancel, (c, ct) => c.Socket.SendAsync(PingLine, ct));
            }
            if (o.Idle > TimeSpan.Zero)
            {
                long rssIdle = server.RssBytes();
                result.Add("idle_s", o.Idle.TotalSeconds)
                    .Add("rss_idle_mb", rssIdle / 1e6)
                    .Add("idle_bytes_per_conn", count == 0 ? double.NaN : (rssIdle - rssBefore) / (double)count);
            }

            // ---- everyone leaves at once
            phase = "close";
            long closeStart = Stopwatch.GetTimestamp();
            foreach (var c in clients) c.Socket.Dispose();
            while (Volatile.Read(ref observer.LeftCount) < count) await Task.Delay(20, cancel);
            double closeSeconds = BenchConfig.SecondsSince(closeStart);
            phase = "who";
            await observer.Socket.SendAsync(Encoding.ASCII.GetBytes("{\"type\":\"who\"}\n"), cancel);
            int online = await observer.Users.Task.WaitAsync(cancel);
            bool allGone = observer.LeftNames.Count == count && online == 1;
            result.Add("close_all_s", closeSeconds)
                .Add("left_seen", observer.LeftNames.Count)
                .Add("who_after", online)
                .Add("peak_rss_mb", server.PeakRssBytes() / 1e6)
                .Add("server_cpu_total_s", server.CpuSeconds() - cpuBefore)
                .Add("status", allGone ? "ok" : "not all reported gone")
                .Add("server_threads", server.ThreadCpuSummary().Replace(' ', '_'));
            _ = observerReader;
            return result;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return result
                .Add("logged_in", clients.Count(c => c is not null && c.Welcome.Task.IsCompleted))
                .Add("joined_seen", observer?.Joined ?? 0)
                .Add("left_seen", observer?.LeftCount ?? 0)
                .Add("status", $"deadline after {o.Deadline.TotalSeconds:0}s during {phase}");
        }
        finally
        {
            foreach (var c in clients) c?.Socket.Dispose();
            observer?.Socket.Dispose();
            await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
            try { Directory.Delete(emptyFolder, true); } catch (IOException) { }
        }
    }

    /// <summary>Logs in, then reads and discards (a client that stops reading would be dropped as slow).</summary>
    private sealed class IdleClient(LineSocket socket)
    {
        public LineSocket Socket { get; } = socket;
        public TaskCompletionSource Welcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool OnLine(ReadOnlySpan<byte> line, long now)
        {
            if (!Welcome.Task.IsCompleted && line.StartsWith(Lines.Welcome)) Welcome.TrySetResult();
            return true;
        }
    }

    /// <summary>Counts joins, collects the names reported as left, and answers the final <c>who</c>.</summary>
    private sealed class Observer(LineSocket socket)
    {
        public LineSocket Socket { get; } = socket;
        public TaskCompletionSource Welcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource<int> Users { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public HashSet<string> LeftNames { get; } = [];
        public int Joined;
        public int LeftCount;

        public bool OnLine(ReadOnlySpan<byte> line, long now)
        {
            if (line.StartsWith(Lines.Joined)) Volatile.Write(ref Joined, Joined + 1);
            else if (line.StartsWith(Lines.Left))
            {
                LeftNames.Add(Encoding.UTF8.GetString(Lines.StringField(line, "\"user\":\""u8)));
                Volatile.Write(ref LeftCount, LeftNames.Count);
            }
            else if (line.StartsWith(Lines.Welcome)) Welcome.TrySetResult();
            else if (line.StartsWith(Lines.Users))
            {
                // {"type":"users","users":["a","b"]}: names cannot hold commas, so count them.
                var list = line[(line.IndexOf("\"users\":["u8) + 9)..];
                Users.TrySetResult(list.StartsWith("]"u8) ? 0 : list.Count((byte)',') + 1);
            }
            return true;
        }
    }
}
