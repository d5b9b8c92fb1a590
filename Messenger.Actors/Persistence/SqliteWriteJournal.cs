using System.Buffers;
using System.Collections.Immutable;
using System.Text.Json;
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
/// The SQLite journal: Akka.Persistence.Sql's <see cref="SqlWriteJournal"/> (its replay and
/// deletes; the query journal reads what is written here) with a write path and a table of its own
/// (<see cref="PrepareTable"/>). Writes of
/// every persistent actor that arrive together are stored in one transaction (one <c>fsync</c>),
/// row by row through one prepared <c>INSERT</c> on a connection the journal keeps open, on the
/// journal's own thread: the journal answers straight from there. Akka.Persistence.Sql spent most
/// of a write building a multi-row <c>INSERT</c> as text (linq2db), had SQLite parse it, and handed
/// each batch through a stream and two tasks, each a thread-pool hop (bench/README.md finding 12).
/// A write is acknowledged only once its transaction has committed, so nothing acknowledged is
/// lost if the process is killed. Commits are at least <c>messenger.sqlite-commit-interval</c>
/// apart: a write after a quiet interval is committed at once; one that arrives within the interval
/// after a commit starts a periodic timer (<see cref="CommitDue"/>) that commits at the interval's
/// end and then once per interval what arrived since, until a tick finds nothing to store and stops
/// it. So under load one transaction stores the writes of an interval and each room tells its
/// members those messages together (bench/README.md finding 13), and a busy journal sets no timer
/// per commit: re-arming a one-shot timer woke the timer thread once more per commit
/// (bench/README.md, session 14). PostgreSQL keeps the plugin's own path (hocon/server.hocon).
/// </summary>
public sealed class SqliteWriteJournal : SqlWriteJournal
{
    /// <summary>
    /// The journal table with the plugin's columns and their declared types, so that its reads and
    /// deletes (linq2db) work on it as on the plugin's own, and one index, the plugin's unique one on
    /// (<c>persistence_id</c>, <c>sequence_number</c>): replay, the highest sequence number, deletes,
    /// history pages and the list of persistence ids all search by it. The plugin's table
    /// (auto-initialize, which this journal turns off) also indexes <c>created</c> and
    /// <c>sequence_number</c> alone, which no query of ours uses, and numbers <c>ordering</c> with
    /// <c>AUTOINCREMENT</c>, which reads and writes a counter row in <c>sqlite_sequence</c> on
    /// every insert: each of the three was one more B-tree to write per stored event (bench/README.md,
    /// session 12). Without it <c>ordering</c> is SQLite's rowid, the highest so far plus one; the row
    /// that holds the highest is never deleted (deletes keep each persistence id's last row), so
    /// <c>ordering</c> still only grows. A journal made by the plugin keeps its <c>AUTOINCREMENT</c>
    /// (SQLite cannot drop it in place) and loses the two indexes at the next start; a build that
    /// uses the plugin's table makes them again.
    /// </summary>
    private const string Table = """
        CREATE TABLE IF NOT EXISTS journal (
            ordering INTEGER NOT NULL PRIMARY KEY,
            created INTEGER NOT NULL,
            deleted Bit NOT NULL,
            persistence_id NVarChar(255) NOT NULL,
            sequence_number INTEGER NOT NULL,
            message VarBinary NOT NULL,
            tags NVarChar(100) NULL,
            manifest NVarChar(500) NULL,
            identifier INTEGER NULL,
            writer_uuid NVarChar(128) NULL
        );
        CREATE UNIQUE INDEX IF NOT EXISTS journal_uq ON journal (persistence_id, sequence_number);
        DROP INDEX IF EXISTS journal_created_idx;
        DROP INDEX IF EXISTS journal_sequence_number_idx;
        """;

    /// <summary>Makes the journal table in <paramref name="connection"/>'s database, or brings an existing one to it (<see cref="Table"/>).</summary>
    public static void PrepareTable(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Table;
        command.ExecuteNonQuery();
    }

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
    private List<PendingWrite> _pending = new();
    /// <summary>The writes <see cref="StorePending"/> is storing (it swaps the lists).</summary>
    private List<PendingWrite> _storing = new();
    /// <summary>The serialized events of the write being stored, one after another.</summary>
    private readonly ArrayBufferWriter<byte> _buffer = new();
    private readonly Utf8JsonWriter _json;
    private readonly List<Serialized> _serialized = new();
    private SqliteConnection? _connection;
    private InsertCommand? _insert;
    private bool _commitQueued;
    /// <summary>
    /// Tells <see cref="_tick"/> once per commit interval while writes keep coming; null while the
    /// journal is quiet. A .NET timer, not Akka's scheduler, whose 10 ms tick would stretch every
    /// interval to the next tick: a room keeps one write in flight, so its next write arrives just
    /// after a commit and always waits for this timer.
    /// </summary>
    private Timer? _commitTimer;
    /// <summary>What <see cref="_commitTimer"/> tells: one per timer, so a tick of a stopped timer is known and ignored.</summary>
    private CommitDue? _tick;
    private TimeSpan _lastCommit; // MonotonicClock time: zero is long enough ago

    /// <summary>The journal's cue to store what is pending: it queues behind the writes already in its mailbox.</summary>
    private sealed record Commit { public static readonly Commit Instance = new(); }
    /// <summary>A tick of the commit timer: the end of a commit interval. A class, not a record: ticks are told apart by reference.</summary>
    private sealed class CommitDue : IDeadLetterSuppression;

    /// <summary>One <see cref="WriteMessagesAsync"/> call: its writes, and its answer once they are stored.</summary>
    private sealed record PendingWrite(AtomicWrite[] Writes, TaskCompletionSource<IImmutableList<Exception>> Stored);

    /// <summary>Where one serialized event of an <see cref="AtomicWrite"/> lies in <see cref="_buffer"/>.</summary>
    private readonly record struct Serialized(IPersistentRepresentation Persistent, int Start, int Length, string Manifest, int Identifier);

    public SqliteWriteJournal(Config journalConfig) : base(journalConfig)
    {
        _connectionString = journalConfig.GetString("connection-string");
        _busyTimeoutMs = (int)Context.System.Settings.Config.GetTimeSpan("messenger.sqlite-busy-timeout").TotalMilliseconds;
        // In whole milliseconds, as the timer counts them.
        _commitInterval = TimeSpan.FromMilliseconds(Math.Ceiling(
            Context.System.Settings.Config.GetTimeSpan("messenger.sqlite-commit-interval").TotalMilliseconds));
        _serialization = Context.System.Serialization;
        _json = EventSerializer.CreateWriter(_buffer);
    }

    /// <summary>
    /// Keeps the writes until the next commit: they are serialized and inserted there, each event
    /// into one buffer this journal reuses, so a write allocates nothing of its own per event.
    /// </summary>
    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages,
        CancellationToken cancellationToken)
    {
        // Completed on this journal's thread, where the base class tells the writers at once.
        var stored = new TaskCompletionSource<IImmutableList<Exception>>();
        _pending.Add(new PendingWrite(messages.ToArray(), stored));
        if (_commitTimer is null && !_commitQueued) // else the next tick stores it
        {
            _commitQueued = true;
            Self.Tell(Commit.Instance, Self);
        }
        return stored.Task;
    }

    protected override bool ReceivePluginInternal(object message)
    {
        switch (message)
        {
            case Commit: // told only while no timer runs
                _commitQueued = false;
                StoreOrStartTimer();
                return true;
            case CommitDue tick:
                if (tick != _tick) return true; // a stopped timer's
                if (_pending.Count == 0) StopTimer();
                // Ticks keep coming while a commit is slow (an fsync on a busy disk) and wait behind
                // it; the first after it would commit again at once. The tick after it stores.
                else if (MonotonicClock.Now - _lastCommit >= _commitInterval / 2) StorePending();
                return true;
            default:
                return base.ReceivePluginInternal(message);
        }
    }

    /// <summary>
    /// Stores what is pending if the last commit was at least the commit interval ago; else starts
    /// the timer, which ticks at the interval's end and then once per interval while there are writes.
    /// </summary>
    private void StoreOrStartTimer()
    {
        if (_pending.Count == 0) return;
        var wait = _lastCommit + _commitInterval - MonotonicClock.Now;
        if (wait <= TimeSpan.Zero)
        {
            StorePending();
            return;
        }
        var self = Self;
        var tick = _tick = new CommitDue();
        // The timer counts whole milliseconds and rounds down: round up, so the first tick is not early.
        _commitTimer = new Timer(_ => self.Tell(tick, self), null, TimeSpan.FromMilliseconds(Math.Ceiling(wait.TotalMilliseconds)), _commitInterval);
    }

    private void StopTimer()
    {
        _commitTimer?.Dispose();
        _commitTimer = null;
        _tick = null;
    }

    /// <summary>Stores every pending write in one transaction, then answers each of them.</summary>
    private void StorePending()
    {
        (_pending, _storing) = (_storing, _pending);
        _lastCommit = MonotonicClock.Now;
        var rejections = new IImmutableList<Exception>?[_storing.Count];
        try
        {
            var insert = _insert ??= Open();
            long now = DateTime.UtcNow.Ticks;
            using (var transaction = _connection!.BeginTransaction())
            {
                for (int i = 0; i < _storing.Count; i++) rejections[i] = Store(insert, _storing[i].Writes, now);
                transaction.Commit();
            }
        }
        catch (Exception e)
        {
            CloseConnection(); // opened again by the next write
            foreach (var write in _storing) write.Stored.TrySetException(e);
            _storing.Clear();
            return;
        }
        // null: none rejected (the base class's happy path); else one entry per write, null where it is stored.
        for (int i = 0; i < _storing.Count; i++) _storing[i].Stored.TrySetResult(rejections[i]!);
        _storing.Clear();
    }

    /// <summary>
    /// Inserts the events of <paramref name="writes"/>; a write whose events cannot all be serialized
    /// is rejected (not stored, its persistent actor is told so, its other writes go on). Returns the
    /// rejections, one entry per write, or null if there are none.
    /// </summary>
    private IImmutableList<Exception>? Store(InsertCommand insert, AtomicWrite[] writes, long now)
    {
        Exception[]? rejected = null;
        for (int w = 0; w < writes.Length; w++)
        {
            var events = (IImmutableList<IPersistentRepresentation>)writes[w].Payload;
            _buffer.ResetWrittenCount();
            _serialized.Clear();
            try
            {
                for (int e = 0; e < events.Count; e++) _serialized.Add(Serialize(events[e]));
            }
            catch (Exception e)
            {
                rejected ??= new Exception[writes.Length];
                rejected[w] = e;
                continue;
            }
            var bytes = _buffer.WrittenSpan;
            foreach (var s in _serialized)
            {
                var persistent = s.Persistent;
                insert.Execute(persistent.Timestamp == 0 ? now : persistent.Timestamp, persistent.PersistenceId,
                    persistent.SequenceNr, bytes.Slice(s.Start, s.Length), s.Manifest, s.Identifier);
            }
        }
        return rejected is null ? null : ImmutableList.Create(rejected);
    }

    /// <summary>Appends the event's bytes to <see cref="_buffer"/>: through the JSON writer for our events, else as its serializer makes them.</summary>
    private Serialized Serialize(IPersistentRepresentation persistent)
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
        int start = _buffer.WrittenCount;
        if (serializer is EventSerializer)
        {
            _json.Reset(_buffer);
            EventSerializer.Write(_json, payload);
        }
        else
        {
            _buffer.Write(Akka.Serialization.Serialization.WithTransport(_serialization.System, (serializer, payload),
                state => state.serializer.ToBinary(state.payload)));
        }
        return new Serialized(persistent, start, _buffer.WrittenCount - start, manifest, serializer.Identifier);
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
        var pending = _pending.Where(w => w.Writes[0].PersistenceId == persistenceId).Select(w => (Task)w.Stored.Task).ToArray();
        if (pending.Length > 0)
        {
            await Task.WhenAll(pending).ContinueWith(static _ => { }, CancellationToken.None,
                TaskContinuationOptions.RunContinuationsAsynchronously, TaskScheduler.Default);
        }
        return await base.ReadHighestSequenceNrAsync(persistenceId, fromSequenceNr, cancellationToken);
    }

    protected override void PostStop()
    {
        StopTimer();
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
    /// finding 14). A binding stays until it is replaced, so the writer id is bound once, and the
    /// persistence id, manifest and serializer only when they differ from the row before (binding a
    /// text converts it to a new UTF-8 array); the event's bytes are bound from the journal's buffer.
    /// </summary>
    private sealed class InsertCommand : IDisposable
    {
        private const int Created = 1, PersistenceId = 2, SequenceNr = 3, Message = 4, Manifest = 5, Identifier = 6, WriterUuid = 7;
        private readonly sqlite3 _db;
        private readonly sqlite3_stmt _statement;
        /// <summary>What is bound now: these rarely change from row to row.</summary>
        private string? _persistenceId, _manifest;
        private int? _identifier;

        public InsertCommand(SqliteConnection connection, string writerUuid)
        {
            _db = connection.Handle!;
            Check(raw.sqlite3_prepare_v2(_db, Insert, out _statement));
            Check(raw.sqlite3_bind_text(_statement, WriterUuid, writerUuid));
        }

        public void Execute(long created, string persistenceId, long sequenceNr, ReadOnlySpan<byte> message, string manifest, int identifier)
        {
            Check(raw.sqlite3_bind_int64(_statement, Created, created));
            if (persistenceId != _persistenceId)
            {
                Check(raw.sqlite3_bind_text(_statement, PersistenceId, persistenceId));
                _persistenceId = persistenceId;
            }
            Check(raw.sqlite3_bind_int64(_statement, SequenceNr, sequenceNr));
            Check(raw.sqlite3_bind_blob(_statement, Message, message));
            if (manifest != _manifest)
            {
                Check(raw.sqlite3_bind_text(_statement, Manifest, manifest));
                _manifest = manifest;
            }
            if (identifier != _identifier)
            {
                Check(raw.sqlite3_bind_int(_statement, Identifier, identifier));
                _identifier = identifier;
            }
            int rc = raw.sqlite3_step(_statement);
            raw.sqlite3_reset(_statement);
            if (rc != raw.SQLITE_DONE) Check(rc);
        }

        private void Check(int rc) => SqliteException.ThrowExceptionForRC(rc, _db);

        public void Dispose() => _statement.Dispose();
    }
}
