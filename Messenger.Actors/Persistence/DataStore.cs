using Akka.Configuration;
using Microsoft.Data.Sqlite;

namespace Messenger.Persistence;

/// <summary>
/// The server's data folder (<c>messenger.data</c>, flag <c>--data</c>): the journal and the snapshot
/// store in two SQLite files (one file would make them lock each other, akka.net#3538), created on
/// first start in WAL mode. Returns the connection strings as HOCON over the plugin settings in
/// hocon/server.hocon.
/// </summary>
public static class DataStore
{
    public const string JournalFile = "journal.db";
    public const string SnapshotFile = "snapshots.db";

    /// <summary>Creates the folder and both files if needed; the configuration that points the plugins at them.</summary>
    public static Config Prepare(Config config)
    {
        if (config.GetString("akka.persistence.journal.plugin") != "akka.persistence.journal.sql") return Config.Empty;
        var folder = Path.GetFullPath(config.GetString("messenger.data"));
        Directory.CreateDirectory(folder);
        var journal = ConnectionString(Path.Combine(folder, JournalFile));
        var snapshots = ConnectionString(Path.Combine(folder, SnapshotFile));
        return ConfigurationFactory.ParseString($$"""
            akka.persistence.journal.sql.connection-string = {{Quote(journal)}}
            akka.persistence.query.journal.sql.connection-string = {{Quote(journal)}}
            akka.persistence.snapshot-store.sql.connection-string = {{Quote(snapshots)}}
            """);
    }

    private static string ConnectionString(string file)
    {
        var connectionString = new SqliteConnectionStringBuilder { DataSource = file }.ToString();
        // WAL: readers (history queries) do not block the writer. The mode is stored in the file.
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA journal_mode=WAL;";
        pragma.ExecuteNonQuery();
        return connectionString;
    }

    private static string Quote(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
