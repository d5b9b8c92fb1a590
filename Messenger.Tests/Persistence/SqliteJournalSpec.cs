using Akka.Configuration;
using Akka.Persistence.Sql;
using Akka.TestKit.Xunit2;
using Messenger.Hosting;
using Messenger.Persistence;
using Messenger.Tests.Support;
using Microsoft.Data.Sqlite;

namespace Messenger.Tests.Persistence;

/// <summary>A TestKit whose actor system journals to a real SQLite file in a temporary data folder, removed afterwards.</summary>
public abstract class SqliteJournalSpec : TestKit
{
    protected SqliteJournalSpec(string hocon) : this(new TempFolder(), hocon)
    {
    }

    private SqliteJournalSpec(TempFolder data, string hocon) : base(Setup(data, hocon))
    {
        Data = data;
    }

    protected TempFolder Data { get; }

    private static Akka.Actor.Setup.ActorSystemSetup Setup(TempFolder data, string hocon)
    {
        var config = ServerConfig.Load(overrides: ConfigurationFactory.ParseString($$"""
            messenger.data = {{System.Text.Json.JsonSerializer.Serialize(data.Path)}}
            akka.actor.provider = local
            akka.loglevel = WARNING
            akka.stdout-loglevel = WARNING
            akka.test.single-expect-default = 15s
            {{hocon}}
            """));
        return DataStore.Setup(DataStore.Prepare(config).WithFallback(config).WithFallback(SqlPersistence.DefaultConfiguration));
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        SqliteConnection.ClearAllPools();
        Data.Dispose();
    }
}
