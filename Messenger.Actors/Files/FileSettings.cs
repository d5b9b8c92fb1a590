using Akka.Configuration;
using Akka.IO;

namespace Messenger.Files;

/// <summary>Tunables of the file service, read from <c>messenger.files</c> in HOCON.</summary>
public sealed record FileSettings(string Folder, TimeSpan TicketLifetime, int ChunkBytes, TimeSpan TicketLineTimeout,
    int SocketFrameBytes, int SocketSendBufferBytes, CatalogSettings Catalog, int MaxTicketsPerConnection)
{
    /// <summary>The file channel's own Akka.IO settings: large frames and buffers, unlike the chat's.</summary>
    public TcpSettings SocketSettings(TcpSettings defaults) => defaults with
    {
        MaxFrameSizeBytes = SocketFrameBytes,
        SendBufferSize = SocketSendBufferBytes,
        ReceiveBufferSize = Math.Max(defaults.ReceiveBufferSize, 2 * SocketFrameBytes),
    };

    public static FileSettings FromConfig(Config config)
    {
        var c = config.GetConfig("messenger.files") ?? throw new ConfigurationException("missing messenger.files");
        var settings = new FileSettings(
            c.GetString("folder"),
            c.GetTimeSpan("ticket-lifetime"),
            (int)(c.GetByteSize("chunk-size") ?? 262_144),
            c.GetTimeSpan("ticket-line-timeout"),
            (int)(c.GetByteSize("socket-frame-size") ?? 262_144),
            (int)(c.GetByteSize("socket-send-buffer") ?? 1_048_576),
            CatalogSettings.FromConfig(c),
            c.GetInt("max-tickets-per-connection"));
        if (string.IsNullOrWhiteSpace(settings.Folder)) throw new ConfigurationException("messenger.files.folder is empty");
        if (settings.ChunkBytes is < 4096 or > 16 * 1024 * 1024)
            throw new ConfigurationException("messenger.files.chunk-size must be between 4 KiB and 16 MiB");
        if (settings.SocketSendBufferBytes < 2 * settings.SocketFrameBytes)
            throw new ConfigurationException("messenger.files.socket-send-buffer must be at least twice socket-frame-size");
        if (settings.MaxTicketsPerConnection < 1)
            throw new ConfigurationException("messenger.files.max-tickets-per-connection must be at least 1");
        return settings;
    }
}
