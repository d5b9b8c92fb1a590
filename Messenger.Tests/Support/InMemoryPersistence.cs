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
        # A cluster of one on loopback (ClusterOfOne.Join), on any free port.
        akka.remote.dot-netty.tcp.hostname = "127.0.0.1"
        akka.remote.dot-netty.tcp.port = 0
        # A test's end stops its node at once: leaving a cluster of one gracefully is not under test here.
        akka.coordinated-shutdown.run-by-actor-system-terminate = off
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        # The in-memory journal starts empty: no accounts from before the claims' lists of registered names.
        messenger.chat.registered-names-read-journal = ""
        messenger.accounts.pbkdf2-iterations = 1000
        # Probes standing in for connections are not told to check for silence in the middle of a test.
        messenger.chat.idle-check-interval = 1h
        # The machine running the suite is shared and can be very busy.
        akka.test.single-expect-default = 15s
        akka.loglevel = WARNING
        akka.stdout-loglevel = WARNING
        """).WithFallback(ServerConfig.Defaults);

    public static RoomSettings Rooms(Config config) => RoomSettings.FromConfig(config);
}
