using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Query;
using Akka.Persistence.Sql;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Messenger.Hosting;
using Messenger.Persistence;
using Messenger.Tests.Support;
using Microsoft.Data.Sqlite;

namespace Messenger.Tests.Persistence;

/// <summary>
/// The journal table <see cref="SqliteWriteJournal"/> makes, and one made by Akka.Persistence.Sql's
/// own (auto-initialize, as every build before session 12 made it), on real SQLite files.
/// </summary>
public sealed class SqliteJournalTableTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private readonly TempFolder _data = new();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _data.Dispose();
    }

    private Config ServerConfigFor() => ServerConfig.Load(overrides: ConfigurationFactory.ParseString($$"""
        messenger.data = {{System.Text.Json.JsonSerializer.Serialize(_data.Path)}}
        akka.actor.provider = local
        akka.loglevel = WARNING
        akka.stdout-loglevel = WARNING
        """));

    /// <summary>The server's journal: <see cref="DataStore"/> prepares the files, <see cref="SqliteWriteJournal"/> writes.</summary>
    private ActorSystem OurJournal()
    {
        var config = ServerConfigFor();
        return ActorSystem.Create("ours", DataStore.Setup(DataStore.Prepare(config).WithFallback(config)
            .WithFallback(SqlPersistence.DefaultConfiguration)));
    }

    /// <summary>Akka.Persistence.Sql's own journal class and table (auto-initialize), on the same files.</summary>
    private ActorSystem PluginJournal()
    {
        string Quoted(string file) => System.Text.Json.JsonSerializer.Serialize(
            new SqliteConnectionStringBuilder { DataSource = _data.File(file) }.ToString());
        var config = ConfigurationFactory.ParseString($$"""
            akka.persistence.journal.sql {
              class = "Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql"
              connection-string = {{Quoted(DataStore.JournalFile)}}
            }
            akka.persistence.query.journal.sql.connection-string = {{Quoted(DataStore.JournalFile)}}
            akka.persistence.snapshot-store.sql.connection-string = {{Quoted(DataStore.SnapshotFile)}}
            """).WithFallback(ServerConfigFor()).WithFallback(SqlPersistence.DefaultConfiguration);
        return ActorSystem.Create("plugin", DataStore.Setup(config));
    }

    private static async Task<long[]> Write(ActorSystem system, string id, params string[] texts)
    {
        var writer = system.ActorOf(Props.Create(() => new TextJournalWriter(id)));
        var stored = new List<long>();
        foreach (var text in texts) stored.Add((await writer.Ask<TextStored>(text, Timeout)).SequenceNr);
        await writer.GracefulStop(Timeout);
        return stored.ToArray();
    }

    private static async Task<string[]> Recovered(ActorSystem system, string id)
    {
        var writer = system.ActorOf(Props.Create(() => new TextJournalWriter(id)));
        var texts = await writer.Ask<string[]>("recovered", Timeout);
        await writer.GracefulStop(Timeout);
        return texts;
    }

    private static async Task<long[]> QueriedSequenceNumbers(ActorSystem system, string id) =>
        (await PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier)
            .CurrentEventsByPersistenceId(id, 0, long.MaxValue)
            .Select(e => e.SequenceNr)
            .RunWith(Sink.Seq<long>(), system.Materializer())
            .WaitAsync(Timeout)).ToArray();

    private List<string> Query(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={_data.File(DataStore.JournalFile)};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var values = new List<string>();
        while (reader.Read()) values.Add(Convert.ToString(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!);
        return values;
    }

    private List<string> JournalIndexes() =>
        Query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'journal' ORDER BY name");

    [Fact]
    public async Task A_new_journal_has_the_plugins_columns_one_index_and_no_autoincrement_counter()
    {
        var system = OurJournal();
        try
        {
            Assert.Equal(new long[] { 1L, 2L }, await Write(system, "room-new", "a", "b"));
        }
        finally
        {
            await system.Terminate();
        }

        Assert.Equal(["journal_uq"], JournalIndexes());
        Assert.Equal(["ordering", "created", "deleted", "persistence_id", "sequence_number", "message", "tags", "manifest",
            "identifier", "writer_uuid"], Query("SELECT name FROM pragma_table_info('journal') ORDER BY cid"));
        Assert.Empty(Query("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'"));
        Assert.Equal(["1", "2"], Query("SELECT ordering FROM journal ORDER BY ordering"));
    }

    [Fact]
    public async Task A_journal_made_by_the_plugins_own_table_replays_takes_writes_and_still_opens_in_the_plugin()
    {
        var plugin = PluginJournal();
        try
        {
            Assert.Equal(new long[] { 1L, 2L, 3L }, await Write(plugin, "room-old", "m1", "m2", "m3"));
        }
        finally
        {
            await plugin.Terminate();
        }
        Assert.Equal(["journal_created_idx", "journal_sequence_number_idx", "journal_uq"], JournalIndexes());
        Assert.Equal(["journal"], Query("SELECT name FROM sqlite_sequence"));

        var ours = OurJournal();
        try
        {
            Assert.Equal(["m1", "m2", "m3"], await Recovered(ours, "room-old"));
            Assert.Equal(new long[] { 4L, 5L }, await Write(ours, "room-old", "m4", "m5"));
            Assert.Equal(new long[] { 1L, 2L, 3L, 4L, 5L }, await QueriedSequenceNumbers(ours, "room-old"));
        }
        finally
        {
            await ours.Terminate();
        }
        Assert.Equal(["journal_uq"], JournalIndexes());
        Assert.Equal(["1", "2", "3", "4", "5"], Query("SELECT ordering FROM journal ORDER BY sequence_number"));

        // An earlier build, started on it again, makes its indexes again and goes on.
        SqliteConnection.ClearAllPools();
        plugin = PluginJournal();
        try
        {
            Assert.Equal(["m1", "m2", "m3", "m4", "m5"], await Recovered(plugin, "room-old"));
            Assert.Equal(new long[] { 6L }, await Write(plugin, "room-old", "m6"));
        }
        finally
        {
            await plugin.Terminate();
        }
        Assert.Equal(["journal_created_idx", "journal_sequence_number_idx", "journal_uq"], JournalIndexes());
    }
}
