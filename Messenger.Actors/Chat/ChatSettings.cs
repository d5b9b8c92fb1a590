using Akka.Configuration;

namespace Messenger.Chat;

/// <summary>Tunables of the chat channel, read from <c>messenger.chat</c> in HOCON.</summary>
public sealed record ChatSettings(
    TimeSpan IdleTimeout,
    long OutboundLimitBytes,
    bool RateLimitEnabled,
    double RateLimitPerSecond,
    int RateLimitBurst,
    int MaxJoinedRooms)
{
    public static ChatSettings FromConfig(Config config)
    {
        var c = config.GetConfig("messenger.chat") ?? throw new ConfigurationException("missing messenger.chat");
        var settings = new ChatSettings(
            c.GetTimeSpan("idle-timeout"),
            c.GetByteSize("outbound-limit") ?? throw new ConfigurationException("messenger.chat.outbound-limit"),
            c.GetBoolean("rate-limit.enabled"),
            c.GetDouble("rate-limit.messages-per-second"),
            c.GetInt("rate-limit.burst"),
            config.GetInt("messenger.rooms.max-joined-per-connection"));
        if (settings.IdleTimeout <= TimeSpan.Zero) throw new ConfigurationException("messenger.chat.idle-timeout must be positive");
        if (settings.OutboundLimitBytes <= 0) throw new ConfigurationException("messenger.chat.outbound-limit must be positive");
        if (settings.RateLimitEnabled && (settings.RateLimitPerSecond <= 0 || settings.RateLimitBurst < 1))
            throw new ConfigurationException("messenger.chat.rate-limit needs a positive rate and a burst of at least 1");
        return settings;
    }
}
