using Akka.Configuration;
using Akka.Persistence.Sql.Config;
using LinqToDB.Data;
using Messenger.Hosting;
using Messenger.Persistence;
using Messenger.Tests.Support;
using Npgsql;

namespace Messenger.Tests.Persistence;

public class DataStoreTests
{
    private static Config PreparedConfig(TempFolder data, string extra = "")
    {
        var config = ServerConfig.Load(overrides: ConfigurationFactory.ParseString(
            $"messenger.data = {System.Text.Json.JsonSerializer.Serialize(data.Path)}\n{extra}"));
        return DataStore.Prepare(config).WithFallback(config);
    }

    [Theory]
    [InlineData("akka.persistence.journal.sql", DataStore.JournalFile)]
    [InlineData("akka.persistence.query.journal.sql", DataStore.JournalFile)]
    [InlineData("akka.persistence.snapshot-store.sql", DataStore.SnapshotFile)]
    public void Every_SQLite_connection_of_the_plugins_waits_for_the_write_lock_inside_SQLite(string plugin, string file)
    {
        using var data = new TempFolder();
        var setup = DataStore.Setup(PreparedConfig(data, "messenger.sqlite-busy-timeout = 7s"));

        var options = setup.Get<MultiDataOptionsSetup>().Value;
        Assert.True(options.TryGetDataOptionsFor(plugin, out var dataOptions));
        using var connection = new DataConnection(dataOptions!);
        using var command = connection.OpenDbConnection().CreateCommand();
        command.CommandText = "PRAGMA busy_timeout;";
        Assert.Equal(7000L, (long)command.ExecuteScalar()!);
        Assert.Contains(data.File(file), connection.ConnectionString ?? "");
    }

    [Theory]
    [InlineData("akka.persistence.journal.sql")]
    [InlineData("akka.persistence.query.journal.sql")]
    [InlineData("akka.persistence.snapshot-store.sql")]
    public void Every_PostgreSQL_plugin_shares_a_capped_pool_of_connections(string plugin)
    {
        using var data = new TempFolder();
        var config = PreparedConfig(data, """
            messenger.postgres = "Host=db1;Database=messenger;Username=chat;Maximum Pool Size=500"
            messenger.postgres-max-connections = 12
            """);

        Assert.Equal("PostgreSQL", config.GetString($"{plugin}.provider-name"));
        var connection = new NpgsqlConnectionStringBuilder(config.GetString($"{plugin}.connection-string"));
        Assert.Equal(12, connection.MaxPoolSize); // over the connection string's own
        Assert.Equal(("db1", "messenger", "chat"), (connection.Host, connection.Database, connection.Username));
    }
}
