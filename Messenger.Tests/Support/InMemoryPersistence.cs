using Akka.Configuration;
using Messenger.Hosting;
using Messenger.Rooms;

namespace Messenger.Tests.Support;

/// <summary>
/// Configuration for actor unit tests: the server's defaults with the in-memory journal and
/// snapshot store (end-to-end tests use a real SQLite file instead).
/// </summary>
public static class InMemoryPersistence
{
    public static Config Config(string extraHocon = "") => ConfigurationFactory.ParseString(extraHocon + """

        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        messenger.accounts.pbkdf2-iterations = 1000
        # The machine running the suite is shared and can be very busy.
        akka.test.single-expect-default = 15s
        akka.loglevel = WARNING
        akka.stdout-loglevel = WARNING
        """).WithFallback(ServerConfig.Defaults);

    public static RoomSettings Rooms(Config config) => RoomSettings.FromConfig(config);
}
