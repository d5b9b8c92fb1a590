using Akka.Configuration;

namespace Messenger.Files;

/// <summary>Tunables of the file service, read from <c>messenger.files</c> in HOCON.</summary>
public sealed record FileSettings(string Folder, TimeSpan TicketLifetime, int ChunkBytes, TimeSpan TicketLineTimeout,
    TimeSpan StallTimeout, TimeSpan CloseDeadline, CatalogSettings Catalog, int MaxTicketsPerConnection)
{
    public static FileSettings FromConfig(Config config)
    {
        var c = config.GetConfig("messenger.files") ?? throw new ConfigurationException("missing messenger.files");
        var settings = new FileSettings(
            c.GetString("folder"),
            c.GetTimeSpan("ticket-lifetime"),
            (int)(c.GetByteSize("chunk-size") ?? throw new ConfigurationException("messenger.files.chunk-size")),
            c.GetTimeSpan("ticket-line-timeout"),
            c.GetTimeSpan("stall-timeout"),
            config.GetTimeSpan("messenger.close-deadline"),
            CatalogSettings.FromConfig(c),
            c.GetInt("max-tickets-per-connection"));
        if (string.IsNullOrWhiteSpace(settings.Folder)) throw new ConfigurationException("messenger.files.folder is empty");
        if (settings.ChunkBytes is < 4096 or > 16 * 1024 * 1024)
            throw new ConfigurationException("messenger.files.chunk-size must be between 4 KiB and 16 MiB");
        if (settings.StallTimeout <= TimeSpan.Zero) throw new ConfigurationException("messenger.files.stall-timeout must be positive");
        if (settings.MaxTicketsPerConnection < 1)
            throw new ConfigurationException("messenger.files.max-tickets-per-connection must be at least 1");
        return settings;
    }
}
