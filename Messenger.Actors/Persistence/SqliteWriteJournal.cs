using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.Sql.Journal;
using Akka.Serialization;
using Akka.Util;
using Messenger.Chat;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Messenger.Persistence;

/// <summary>
/// The SQLite journal: Akka.Persistence.Sql's <see cref="SqlWriteJournal"/> (its tables, replay,
/// deletes; the query journal reads what is written here) with a write path of its own. Writes of
/// every persistent actor that arrive together are stored in one transaction (one <c>fsync</c>),
/// row by row through one prepared <c>INSERT</c> on a connection the journal keeps open, on the
/// journal's own thread: the journal answers straight from there. Akka.Persistence.Sql spent most
/// of a write building a multi-row <c>INSERT</c> as text (linq2db), had SQLite parse it, and handed
/// each batch through a stream and two tasks, each a thread-pool hop (bench/README.md finding 12).
/// A write is acknowledged only once its transaction has committed, so nothing acknowledged is
/// lost if the process is killed. Commits are at least <c>messenger.sqlite-commit-interval</c>
/// apart: what arrives within it waits for the first write after it or for a <see cref="CommitDue"/>
/// timer at its end, so under load one transaction stores the writes of several
/// milliseconds and each room tells its members those messages together (bench/README.md
/// finding 13). PostgreSQL keeps the plugin's own path (hocon/server.hocon).
/// </summary>
public sealed class SqliteWriteJournal : SqlWriteJournal
{
    /// <summary>Parameters by position: <see cref="InsertCommand"/> binds them by number.</summary>
    private const string Insert = """
        INSERT INTO journal (created, deleted, persistence_id, sequence_number, message, tags, manifest, identifier, writer_uuid)
        VALUES (?1, 0, ?2, ?3, ?4, '', ?5, ?6, ?7)
        """;

    private readonly string _connectionString;
    private readonly int _busyTimeoutMs;
    private readonly TimeSpan _commitInterval;
    private readonly Akka.Serialization.Serialization _serialization;
    /// <summary>Who wrote a row, as Akka.Persistence.Sql records it: one id per journal instance.</summary>
    private readonly string _writerUuid = Guid.NewGuid().ToString("N");
    private readonly List<PendingWrite> _pending = new();
    private SqliteConnection? _connection;
    private InsertCommand? _insert;
    private bool _commitQueued;
    private bool _commitTimerSet;
    /// <summary>
    /// Tells <see cref="CommitDue"/> at the end of a held interval. A .NET timer, not Akka's
    /// scheduler, whose 10 ms tick would stretch every interval to the next tick: a room keeps one
    /// write in flight, so its next write arrives just after a commit and always waits for this timer.
    /// </summary>
    private Timer? _commitTimer;
    private TimeSpan _lastCommit; // MonotonicClock time: zero is long enough ago

    /// <summary>The journal's cue to store what is pending: it queues behind the writes already in its mailbox.</summary>
    private sealed record Commit { public static readonly Commit Instance = new(); }
    /// <summary>The end of a commit interval that held writes back.</summary>
    private sealed record CommitDue : IDeadLetterSuppression { public static readonly CommitDue Instance = new(); }

    private sealed record Row(long Created, string PersistenceId, long SequenceNr, byte[] Message, string Manifest, int Identifier);

    /// <summary>One <see cref="WriteMessagesAsync"/> call: its rows, and its answer once they are stored.</summary>
    private sealed record PendingWrite(List<Row> Rows, IImmutableList<Exception> Rejections,
        TaskCompletionSource<IImmutableList<Exception>> Stored);

    public SqliteWriteJournal(Config journalConfig) : base(journalConfig)
    {
        _connectionString = journalConfig.GetString("connection-string");
        _busyTimeoutMs = (int)Context.System.Settings.Config.GetTimeSpan("messenger.sqlite-busy-timeout").TotalMilliseconds;
        _commitInterval = Context.System.Settings.Config.GetTimeSpan("messenger.sqlite-commit-interval");
        _serialization = Context.System.Serialization;
    }

    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages,
        CancellationToken cancellationToken)
    {
        var writes = messages.ToArray();
        var rows = new List<Row>();
        Exception[]? rejections = null;
        long now = DateTime.UtcNow.Ticks;
        for (int i = 0; i < writes.Length; i++)
        {
            var write = writes[i];
            int before = rows.Count;
            try
            {
                foreach (var persistent in (IImmutableList<IPersistentRepresentation>)write.Payload)
                    rows.Add(ToRow(persistent, now));
            }
            catch (Exception e)
            {
                // Rejected: not stored, the persistent actor is told so (its other writes go on).
                rows.RemoveRange(before, rows.Count - before);
                rejections ??= new Exception[writes.Length];
                rejections[i] = e;
            }
        }
        // null: none rejected (the base class's happy path); else one entry per write, null where it is stored.
        var rejected = rejections is null ? null! : ImmutableList.Create(rejections);
        if (rows.Count == 0) return Task.FromResult<IImmutableList<Exception>>(rejected);
        // Completed on this journal's thread, where the base class tells the writers at once.
        var stored = new TaskCompletionSource<IImmutableList<Exception>>();
        _pending.Add(new PendingWrite(rows, rejected, stored));
        if (!_commitQueued)
        {
            _commitQueued = true;
            Self.Tell(Commit.Instance, Self);
        }
        return stored.Task;
    }

    private Row ToRow(IPersistentRepresentation persistent, long now)
    {
        var payload = persistent.Payload;
        if (payload is Tagged) throw new NotSupportedException($"{nameof(SqliteWriteJournal)} stores no tags");
        var serializer = _serialization.FindSerializerFor(payload);
        string manifest = serializer switch
        {
            SerializerWithStringManifest withManifest => withManifest.Manifest(payload),
            { IncludeManifest: true } => payload.GetType().TypeQualifiedName(),
            _ => string.Empty,
        };
        var bytes = Akka.Serialization.Serialization.WithTransport(_serialization.System, (serializer, payload),
            state => state.serializer.ToBinary(state.payload));
        return new Row(persistent.Timestamp == 0 ? now : persistent.Timestamp, persistent.PersistenceId,
            persistent.SequenceNr, bytes, manifest, serializer.Identifier);
    }

    protected override bool ReceivePluginInternal(object message)
    {
        switch (message)
        {
            case Commit:
                _commitQueued = false;
                break;
            case CommitDue:
                _commitTimerSet = false;
                break;
            default:
                return base.ReceivePluginInternal(message);
        }
        StorePendingWhenDue();
        return true;
    }

    /// <summary>Stores what is pending if the last commit was at least the commit interval ago; else sets a timer for its end.</summary>
    private void StorePendingWhenDue()
    {
        if (_pending.Count == 0) return;
        var wait = _lastCommit + _commitInterval - MonotonicClock.Now;
        if (wait <= TimeSpan.Zero)
        {
            StorePending();
            return;
        }
        if (_commitTimerSet) return;
        _commitTimerSet = true;
        if (_commitTimer is null)
        {
            var self = Self;
            _commitTimer = new Timer(_ => self.Tell(CommitDue.Instance, self), null, Timeout.Infinite, Timeout.Infinite);
        }
        _commitTimer.Change(wait, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Stores every pending write in one transaction, then answers each of them.</summary>
    private void StorePending()
    {
        var batch = _pending.ToArray();
        _pending.Clear();
        _lastCommit = MonotonicClock.Now;
        try
        {
            var insert = _insert ??= Open();
            using (var transaction = _connection!.BeginTransaction())
            {
                foreach (var write in batch)
                {
                    foreach (var row in write.Rows) insert.Execute(row);
                }
                transaction.Commit();
            }
        }
        catch (Exception e)
        {
            CloseConnection(); // opened again by the next write
            foreach (var write in batch) write.Stored.TrySetException(e);
            return;
        }
        foreach (var write in batch) write.Stored.TrySetResult(write.Rejections);
    }

    private InsertCommand Open()
    {
        // The driver retries a refused write itself until its default timeout (30 s unless set):
        // past SQLite's own wait the write fails, and its writers are told.
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder(_connectionString)
        {
            DefaultTimeout = (_busyTimeoutMs + 999) / 1000,
        }.ToString());
        _connection.Open();
        SQLitePCL.raw.sqlite3_busy_timeout(_connection.Handle, _busyTimeoutMs);
        return new InsertCommand(_connection, _writerUuid);
    }

    public override async Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr,
        CancellationToken cancellationToken)
    {
        // A restarting actor may ask while its last writes are pending here: wait for them, as the base class does.
        var pending = _pending.Where(w => w.Rows[0].PersistenceId == persistenceId).Select(w => (Task)w.Stored.Task).ToArray();
        if (pending.Length > 0)
        {
            await Task.WhenAll(pending).ContinueWith(static _ => { }, CancellationToken.None,
                TaskContinuationOptions.RunContinuationsAsynchronously, TaskScheduler.Default);
        }
        return await base.ReadHighestSequenceNrAsync(persistenceId, fromSequenceNr, cancellationToken);
    }

    protected override void PostStop()
    {
        _commitTimer?.Dispose();
        foreach (var write in _pending) write.Stored.TrySetException(new InvalidOperationException("the journal stopped"));
        _pending.Clear();
        CloseConnection();
        base.PostStop();
    }

    private void CloseConnection()
    {
        _insert?.Dispose();
        _insert = null;
        _connection?.Dispose();
        _connection = null;
    }

    /// <summary>
    /// The prepared <c>INSERT</c> of one row, on SQLite's own statement API: Microsoft.Data.Sqlite's
    /// command binds every parameter through its collection and opens a data reader for each row
    /// (5.4 % of a flood's server CPU against SQLite's own 8.5 %; 1.5 % this way, bench/README.md
    /// finding 14). A binding stays until it is replaced, so the writer id is bound once.
    /// </summary>
    private sealed class InsertCommand : IDisposable
    {
        private const int Created = 1, PersistenceId = 2, SequenceNr = 3, Message = 4, Manifest = 5, Identifier = 6, WriterUuid = 7;
        private readonly sqlite3 _db;
        private readonly sqlite3_stmt _statement;

        public InsertCommand(SqliteConnection connection, string writerUuid)
        {
            _db = connection.Handle!;
            Check(raw.sqlite3_prepare_v2(_db, Insert, out _statement));
            Check(raw.sqlite3_bind_text(_statement, WriterUuid, writerUuid));
        }

        public void Execute(Row row)
        {
            Check(raw.sqlite3_bind_int64(_statement, Created, row.Created));
            Check(raw.sqlite3_bind_text(_statement, PersistenceId, row.PersistenceId));
            Check(raw.sqlite3_bind_int64(_statement, SequenceNr, row.SequenceNr));
            Check(raw.sqlite3_bind_blob(_statement, Message, row.Message));
            Check(raw.sqlite3_bind_text(_statement, Manifest, row.Manifest));
            Check(raw.sqlite3_bind_int(_statement, Identifier, row.Identifier));
            int rc = raw.sqlite3_step(_statement);
            raw.sqlite3_reset(_statement);
            if (rc != raw.SQLITE_DONE) Check(rc);
        }

        private void Check(int rc) => SqliteException.ThrowExceptionForRC(rc, _db);

        public void Dispose() => _statement.Dispose();
    }
}
