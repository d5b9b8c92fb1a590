using Akka.Configuration;

namespace Messenger.Rooms;

/// <summary>Tunables of rooms, read from <c>messenger.rooms</c> in HOCON.</summary>
public sealed record RoomSettings(
    int TailSize,
    int JoinHistory,
    int SnapshotEvery,
    long RetainMessages,
    TimeSpan RetainAge,
    int MaxRooms,
    int MaxJoinedPerConnection,
    TimeSpan PassivateAfter,
    TimeSpan ListTimeout,
    int FanOutBatch,
    string ReadJournalPluginId)
{
    public static RoomSettings FromConfig(Config config)
    {
        var c = config.GetConfig("messenger.rooms") ?? throw new ConfigurationException("missing messenger.rooms");
        var settings = new RoomSettings(
            c.GetInt("tail-size"),
            c.GetInt("join-history"),
            c.GetInt("snapshot-every"),
            c.GetLong("retention.max-messages"),
            c.GetTimeSpan("retention.max-age"),
            c.GetInt("max-rooms"),
            c.GetInt("max-joined-per-connection"),
            c.GetTimeSpan("passivate-after"),
            c.GetTimeSpan("list-timeout"),
            c.GetInt("fan-out-batch"),
            config.GetString("akka.persistence.query.journal.sql.plugin-id", "akka.persistence.query.journal.sql"));
        if (settings.TailSize < 1 || settings.JoinHistory < 0 || settings.JoinHistory > settings.TailSize)
            throw new ConfigurationException("messenger.rooms: tail-size must be at least 1 and join-history 0 to tail-size");
        if (settings.SnapshotEvery < 1) throw new ConfigurationException("messenger.rooms.snapshot-every must be at least 1");
        if (settings.RetainMessages < 1) throw new ConfigurationException("messenger.rooms.retention.max-messages must be at least 1");
        if (settings.FanOutBatch < 1) throw new ConfigurationException("messenger.rooms.fan-out-batch must be at least 1");
        if (settings.MaxRooms < 1 || settings.MaxJoinedPerConnection < 0)
            throw new ConfigurationException("messenger.rooms: max-rooms must be at least 1, max-joined-per-connection at least 0");
        return settings;
    }
}
