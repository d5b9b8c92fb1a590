using Npgsql;

namespace Messenger.Tests.Support;

/// <summary>
/// The journals the cluster suite runs on: SQLite always; PostgreSQL when
/// <c>MESSENGER_TEST_POSTGRES</c> holds a connection string to a server where the user may create
/// databases (<c>.ci/run</c> starts one and sets it). Each test gets a database of its own.
/// </summary>
public static class TestJournal
{
    public const string PostgresVariable = "MESSENGER_TEST_POSTGRES";
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    public static string? PostgresServer => Environment.GetEnvironmentVariable(PostgresVariable) is { Length: > 0 } s ? s : null;

    public static TheoryData<string> All()
    {
        var data = new TheoryData<string> { Sqlite };
        if (PostgresServer is not null) data.Add(Postgres);
        return data;
    }

    /// <summary>HOCON for <paramref name="journal"/>: nothing for SQLite (the data folder), a fresh database for PostgreSQL.</summary>
    public static async Task<string> HoconAsync(string journal)
    {
        if (journal == Sqlite) return "";
        var server = PostgresServer ?? throw new InvalidOperationException($"{PostgresVariable} is not set");
        var name = "messenger_test_" + Guid.NewGuid().ToString("N")[..12];
        await using (var connection = new NpgsqlConnection(server))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        var database = new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
        return $"messenger.postgres = {System.Text.Json.JsonSerializer.Serialize(database)}";
    }
}
