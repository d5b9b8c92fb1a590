using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Messenger.Persistence;

namespace Messenger.Bench.Scenarios;

/// <summary>
/// The databases the history scenario measures, made once and kept under /tmp: a lobby of
/// <see cref="Messages"/> messages, and an empty database (tables created, no message). Both are
/// written by the real server (a process of the Release build), so every row is what the server
/// writes: the same tables, persistence id (<c>room-lobby</c>), serializer and manifests, and the
/// snapshots the room takes every <c>snapshot-every</c> messages. The lobby is filled by
/// <see cref="Senders"/> users who each say their share of the messages as fast as the server
/// stores them (at most <see cref="Window"/> unconfirmed each; a message is confirmed by its echo,
/// which the server sends once it is in the journal). Texts are chat-like lines of 1-20 words from
/// <c>Random(11)</c>. A folder is used only once its marker file says it is complete and was made
/// with the same parameters; otherwise it is made again.
/// </summary>
public sealed class HistorySeed(string cacheRoot, int messages, string? serverDll)
{
    public static readonly string[] Senders = ["ada", "bartholomew", "chen", "dmitri-k"];
    public const int Window = 2000;
    private const string Marker = "seeded.txt";
    private static readonly string[] Words =
    [
        "the", "build", "is", "green", "again", "who", "broke", "main", "lunch", "anyone", "deploy", "at", "five", "ok", "thanks",
        "looks", "good", "to", "me", "merged", "can", "you", "review", "my", "branch", "server", "restart", "in", "ten", "minutes",
        "coffee", "meeting", "moved", "tomorrow", "ping", "pong", "logs", "say", "timeout", "on", "node", "two", "fixed", "it", "lol",
    ];

    public int Messages => messages;

    /// <summary>The folder of the full database (journal.db, snapshots.db).</summary>
    public string FullFolder => Path.Combine(cacheRoot, $"lobby-{messages}");

    public string EmptyFolder => Path.Combine(cacheRoot, "empty");

    /// <summary>What a folder's marker must say to be used: anything that changes the rows changes this.</summary>
    private string Description(int count) => string.Create(CultureInfo.InvariantCulture,
        $"messages={count} room=lobby senders={string.Join(',', Senders)} texts=Random(11) format=room-message-posted.v1 snapshot-every=server-default");

    /// <summary>Makes whichever of the two databases is missing; returns the seconds spent seeding the full one (null: it was cached).</summary>
    public async Task<double?> EnsureAsync(TextWriter progress, TimeSpan deadline)
    {
        if (!IsComplete(EmptyFolder, 0)) await MakeAsync(EmptyFolder, 0, progress, deadline);
        if (IsComplete(FullFolder, messages)) return null;
        long start = Stopwatch.GetTimestamp();
        await MakeAsync(FullFolder, messages, progress, deadline);
        return BenchConfig.SecondsSince(start);
    }

    private bool IsComplete(string folder, int count)
    {
        var marker = Path.Combine(folder, Marker);
        return File.Exists(marker) && File.ReadAllText(marker).Trim() == Description(count);
    }

    /// <summary>Server HOCON for every run over these databases: retention keeps them whole (the default keeps 100,000 a room).</summary>
    public string ServerHocon => BenchConfig.ServerHocon + $"\nmessenger.rooms.retention.max-messages = {Math.Max(messages, 1) * 10L}";

    private async Task MakeAsync(string folder, int count, TextWriter progress, TimeSpan deadline)
    {
        var partial = folder + ".partial";
        if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        Directory.CreateDirectory(partial);
        var emptyFiles = Directory.CreateTempSubdirectory("messenger-bench-history-files-").FullName;
        using var cancel = new CancellationTokenSource(deadline);
        long start = Stopwatch.GetTimestamp();
        try
        {
            await using (var server = await ServerProcess.StartAsync(emptyFiles, ServerHocon, ["--data", partial], serverDll: serverDll))
            {
                if (count > 0) await FillAsync(server, count, progress, cancel.Token);
            }
            Checkpoint(partial);
            long stored = JournalPayload(partial).Rows;
            if (stored != count) throw new InvalidOperationException($"the journal holds {stored} lobby messages, not {count}");
            await File.WriteAllTextAsync(Path.Combine(partial, Marker), Description(count) + "\n");
            Directory.Move(partial, folder);
            progress.WriteLine($"[history] seeded {folder}: {count} messages in {BenchConfig.SecondsSince(start):0.0} s");
        }
        finally
        {
            try { Directory.Delete(emptyFiles, true); } catch (IOException) { }
        }
    }

    private static async Task FillAsync(ServerProcess server, int count, TextWriter progress, CancellationToken cancel)
    {
        var senders = new List<Sender>();
        var readers = new List<Task>();
        try
        {
            for (int s = 0; s < Senders.Length; s++)
            {
                int share = count / Senders.Length + (s < count % Senders.Length ? 1 : 0);
                var sender = new Sender(Senders[s], share, await LineSocket.ConnectAsync(server.Chat, 1 << 20, cancel, server.ClientTls));
                senders.Add(sender);
                readers.Add(sender.Socket.ReadLinesAsync(sender.OnLine, cancel));
                await sender.Socket.SendAsync(LineSocket.Hello(sender.Name), cancel);
                await sender.Welcome.Task.WaitAsync(cancel);
            }
            var random = new Random(11);
            var writers = senders.Select(s => s.SendAllAsync(new Random(random.Next()), cancel)).ToArray();
            var all = Task.WhenAll(senders.Select(s => s.AllEchoed.Task));
            long start = Stopwatch.GetTimestamp();
            while (!all.IsCompleted)
            {
                await Task.WhenAny(all, Task.Delay(5000, cancel));
                long done = senders.Sum(s => (long)Volatile.Read(ref s.Echoed));
                progress.WriteLine($"[history] {done:N0} of {count:N0} stored ({done / BenchConfig.SecondsSince(start):0} messages/s)");
                if (senders.FirstOrDefault(s => s.Error is not null) is { } failed)
                    throw new InvalidOperationException($"{failed.Name} got an error: {failed.Error}");
            }
            await Task.WhenAll(writers);
        }
        finally
        {
            foreach (var s in senders) s.Socket.Dispose();
            await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    /// <summary>Folds the write-ahead logs into the database files, so their sizes are the data's.</summary>
    public static void Checkpoint(string folder)
    {
        foreach (var file in new[] { DataStore.JournalFile, DataStore.SnapshotFile })
        {
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(folder, file), Pooling = false }.ToString());
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
            command.ExecuteNonQuery();
        }
    }

    /// <summary>The lobby's rows in the journal and the mean size of their serialized events (the JSON the serializer wrote).</summary>
    public static (long Rows, double MeanEventBytes) JournalPayload(string folder)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(folder, DataStore.JournalFile), Mode = SqliteOpenMode.ReadOnly, Pooling = false,
        }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*), AVG(LENGTH(message)) FROM journal WHERE persistence_id = 'room-lobby' AND manifest = 'room-message-posted.v1'";
        using var reader = command.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.IsDBNull(1) ? double.NaN : reader.GetDouble(1));
    }

    /// <summary>A chat-like line of 1-20 words.</summary>
    private static string Text(Random random, int n)
    {
        var sb = new StringBuilder();
        int words = 1 + random.Next(20);
        for (int w = 0; w < words; w++)
        {
            if (w > 0) sb.Append(' ');
            sb.Append(Words[random.Next(Words.Length)]);
        }
        return sb.Append(' ').Append(n.ToString(CultureInfo.InvariantCulture)).ToString();
    }

    private sealed class Sender(string name, int count, LineSocket socket)
    {
        private readonly SemaphoreSlim _window = new(Window);
        private readonly byte[] _msgFromMe = Encoding.ASCII.GetBytes($"\"from\":\"{name}\"");
        public string Name => name;
        public LineSocket Socket => socket;
        public int Echoed;
        public string? Error;
        public TaskCompletionSource Welcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource AllEchoed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool OnLine(ReadOnlySpan<byte> line, long now)
        {
            if (line.StartsWith(Lines.Msg))
            {
                if (line.IndexOf(_msgFromMe) < 0) return true;
                _window.Release();
                if (Interlocked.Increment(ref Echoed) == count) AllEchoed.TrySetResult();
            }
            else if (line.StartsWith(Lines.Welcome))
            {
                Welcome.TrySetResult();
                if (count == 0) AllEchoed.TrySetResult();
            }
            else if (line.StartsWith(Lines.Error))
            {
                Error = Encoding.UTF8.GetString(line);
                Welcome.TrySetException(new InvalidOperationException(Error));
                AllEchoed.TrySetException(new InvalidOperationException(Error));
                return false;
            }
            return true;
        }

        /// <summary>Says every message, in writes of up to 32 KiB, never more than <see cref="Window"/> unconfirmed.</summary>
        public async Task SendAllAsync(Random random, CancellationToken cancel)
        {
            var buffer = new MemoryStream(64 * 1024);
            for (int n = 0; n < count; n++)
            {
                if (!_window.Wait(0))
                {
                    await FlushAsync();
                    await _window.WaitAsync(cancel);
                }
                var line = $"{{\"type\":\"say\",\"text\":\"{Text(random, n)}\"}}\n";
                buffer.Write(Encoding.ASCII.GetBytes(line));
                if (buffer.Length >= 32 * 1024) await FlushAsync();
            }
            await FlushAsync();

            async Task FlushAsync()
            {
                if (buffer.Length == 0) return;
                await socket.SendAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), cancel);
                buffer.SetLength(0);
            }
        }
    }
}
