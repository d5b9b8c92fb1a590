using System.Data.Common;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Persistence.Sql.Config;
using LinqToDB;
using Messenger.Cluster;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Messenger.Persistence;

/// <summary>
/// Where the journal and the snapshots are. By default the data folder (<c>messenger.data</c>, flag
/// <c>--data</c>): two SQLite files (one file would make them lock each other, akka.net#3538),
/// created on first start in WAL mode (the journal's table is <see cref="SqliteWriteJournal"/>'s);
/// the nodes of one cluster on one machine may share it, no other server (<see cref="DataFolderLock"/>). With
/// <c>messenger.postgres</c> (flag <c>--postgres</c>), a PostgreSQL database shared by the nodes of a
/// cluster on several machines, through the same Akka.Persistence.Sql plugin (Npgsql, at most
/// <c>messenger.postgres-max-connections</c> connections per node). Returns the
/// plugin settings as HOCON over those in hocon/server.hocon.
/// </summary>
public static class DataStore
{
    public const string JournalFile = "journal.db";
    public const string SnapshotFile = "snapshots.db";

    /// <summary>Creates the folder and both files if needed (SQLite); the configuration that points the plugins at the store.</summary>
    public static Config Prepare(Config config)
    {
        if (!UsesSqlJournal(config)) return Config.Empty;
        if (UsesPostgres(config))
        {
            var postgres = Quote(new NpgsqlConnectionStringBuilder(config.GetString("messenger.postgres"))
            {
                MaxPoolSize = config.GetInt("messenger.postgres-max-connections"),
            }.ConnectionString);
            return ConfigurationFactory.ParseString($$"""
                akka.persistence.journal.sql {
                  class = "Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql"
                  provider-name = "PostgreSQL", connection-string = {{postgres}}, parallelism = {{config.GetInt("messenger.postgres-parallelism")}}
                }
                akka.persistence.query.journal.sql { provider-name = "PostgreSQL", connection-string = {{postgres}} }
                akka.persistence.snapshot-store.sql { provider-name = "PostgreSQL", connection-string = {{postgres}} }
                """);
        }
        var folder = Path.GetFullPath(config.GetString("messenger.data"));
        Directory.CreateDirectory(folder);
        var journal = ConnectionString(Path.Combine(folder, JournalFile), SqliteWriteJournal.PrepareTable);
        var snapshots = ConnectionString(Path.Combine(folder, SnapshotFile), _ => { });
        return ConfigurationFactory.ParseString($$"""
            akka.persistence.journal.sql.connection-string = {{Quote(journal)}}
            akka.persistence.journal.sql.auto-initialize = off
            akka.persistence.query.journal.sql.connection-string = {{Quote(journal)}}
            akka.persistence.snapshot-store.sql.connection-string = {{Quote(snapshots)}}
            """);
    }

    /// <summary>The plugins that open the journal and snapshot files.</summary>
    private static readonly string[] SqlPlugins =
        ["akka.persistence.journal.sql", "akka.persistence.query.journal.sql", "akka.persistence.snapshot-store.sql"];

    /// <summary>
    /// What the actor system starts with: <paramref name="config"/> (already through
    /// <see cref="Prepare"/>) and, on SQLite, the plugins' connections with a busy timeout
    /// (<c>messenger.sqlite-busy-timeout</c>). SQLite has one writer; a connection that finds the
    /// write lock taken (a retention delete beside the journal's write batch) then waits inside
    /// SQLite, retrying within milliseconds, instead of failing at once into Microsoft.Data.Sqlite's
    /// retry loop, which sleeps 150 ms between attempts.
    /// </summary>
    public static ActorSystemSetup Setup(Config config)
    {
        var setup = BootstrapSetup.Create().WithConfig(config);
        if (!UsesSqlJournal(config) || UsesPostgres(config)) return ActorSystemSetup.Create(setup);
        int busyTimeoutMs = (int)config.GetTimeSpan("messenger.sqlite-busy-timeout").TotalMilliseconds;
        var connections = new MultiDataOptionsSetup();
        foreach (var plugin in SqlPlugins)
        {
            // Opening takes a pooled native connection; setting its busy timeout is one native call, no statement.
            connections.AddDataOptions(plugin, new DataOptions()
                .UseConnectionString(ProviderName.SQLiteMS, config.GetString($"{plugin}.connection-string"))
                .UseAfterConnectionOpened(
                    connection => SetBusyTimeout(connection, busyTimeoutMs),
                    (connection, _) =>
                    {
                        SetBusyTimeout(connection, busyTimeoutMs);
                        return Task.CompletedTask;
                    }));
        }
        return setup.And(connections);
    }

    private static void SetBusyTimeout(DbConnection connection, int milliseconds) =>
        SQLitePCL.raw.sqlite3_busy_timeout(((SqliteConnection)connection).Handle, milliseconds);

    /// <summary>One log line: where the data is (never the connection string: it may hold a password).</summary>
    public static string Describe(Config config) =>
        !UsesSqlJournal(config) ? "journal: in memory"
        : UsesPostgres(config) ? "journal and snapshots: PostgreSQL"
        : "data folder: " + Path.GetFullPath(config.GetString("messenger.data"));

    /// <summary>
    /// On SQLite, the data folder taken for the cluster node at <paramref name="self"/> with its
    /// seed nodes (<see cref="DataFolderLock"/>; throws <see cref="DataFolderInUseException"/>
    /// when a server of another cluster uses it); null for PostgreSQL and the in-memory journal.
    /// </summary>
    public static DataFolderLock? Lock(Config config, Address self)
    {
        if (!UsesSqlJournal(config) || UsesPostgres(config)) return null;
        var seeds = config.GetStringList("messenger.cluster.seed-nodes")
            .Select(s => ClusterNode.SeedAddress(self.System, s))
            .Select(a => $"{a.Host}:{a.Port}");
        return DataFolderLock.Acquire(config.GetString("messenger.data"), $"{self.Host}:{self.Port}", seeds);
    }

    private static bool UsesSqlJournal(Config config) => config.GetString("akka.persistence.journal.plugin") == "akka.persistence.journal.sql";

    private static bool UsesPostgres(Config config) => !string.IsNullOrEmpty(config.GetString("messenger.postgres"));

    /// <summary>Opens <paramref name="file"/> (made if missing) in WAL mode and runs <paramref name="prepare"/> on it.</summary>
    private static string ConnectionString(string file, Action<SqliteConnection> prepare)
    {
        var connectionString = new SqliteConnectionStringBuilder { DataSource = file }.ToString();
        // WAL: readers (history queries) do not block the writer. The mode is stored in the file.
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA journal_mode=WAL;";
        pragma.ExecuteNonQuery();
        prepare(connection);
        return connectionString;
    }

    private static string Quote(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
