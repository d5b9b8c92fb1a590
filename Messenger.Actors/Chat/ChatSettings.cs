using Akka.Configuration;

namespace Messenger.Chat;

/// <summary>Tunables of one chat connection, read from <c>messenger.chat</c> in HOCON.</summary>
public sealed record ChatSettings(
    TimeSpan IdleTimeout,
    TimeSpan LoginTimeout,
    TimeSpan CloseDeadline,
    long OutboundLimitBytes,
    long WriteChunkBytes,
    long InputBufferBytes,
    RateLimitSettings? RateLimit,
    RateLimitSettings FileRequests,
    TimeSpan LogInterval,
    int MaxJoinedRooms)
{
    public static ChatSettings FromConfig(Config config)
    {
        var c = config.GetConfig("messenger.chat") ?? throw new ConfigurationException("missing messenger.chat");
        var settings = new ChatSettings(
            Positive(c.GetTimeSpan("idle-timeout"), "idle-timeout"),
            Positive(c.GetTimeSpan("login-timeout"), "login-timeout"),
            Positive(config.GetTimeSpan("messenger.close-deadline"), "close-deadline"),
            Bytes(c, "outbound-limit"),
            Bytes(c, "socket.output-pause"),
            Bytes(c, "input-buffer"),
            c.GetBoolean("rate-limit.enabled") ? RateLimitSettings.FromConfig(c.GetConfig("rate-limit"), "messenger.chat.rate-limit") : null,
            RateLimitSettings.FromConfig(c.GetConfig("file-requests"), "messenger.chat.file-requests"),
            Positive(config.GetTimeSpan("messenger.limit-log-interval"), "limit-log-interval"),
            config.GetInt("messenger.rooms.max-joined-per-connection"));
        return settings;
    }

    /// <summary>How often a node tells its logged-in connections to check for silence (<c>messenger.chat.idle-check-interval</c>).</summary>
    public static TimeSpan IdleCheckInterval(Config config) =>
        Positive(config.GetTimeSpan("messenger.chat.idle-check-interval"), "idle-check-interval");

    private static TimeSpan Positive(TimeSpan value, string name) =>
        value > TimeSpan.Zero ? value : throw new ConfigurationException($"messenger.chat.{name} must be positive");

    private static long Bytes(Config c, string name) =>
        c.GetByteSize(name) is > 0 and { } bytes ? bytes : throw new ConfigurationException($"messenger.chat.{name} must be a positive size");
}

/// <summary>A token bucket's settings, and when a client that keeps going past it is closed.</summary>
public sealed record RateLimitSettings(double PerSecond, int Burst, TimeSpan FloodWindow, int FloodCloseAfter)
{
    public static RateLimitSettings FromConfig(Config c, string path)
    {
        var settings = new RateLimitSettings(
            c.GetDouble("messages-per-second"), c.GetInt("burst"),
            c.GetTimeSpan("flood-window"), c.GetInt("flood-close-after"));
        if (settings.PerSecond <= 0 || settings.Burst < 1 || settings.FloodWindow <= TimeSpan.Zero || settings.FloodCloseAfter < 1)
            throw new ConfigurationException($"{path} needs a positive rate, a burst of at least 1, a positive flood-window and flood-close-after");
        return settings;
    }

    public FloodGuard NewGuard(long nowTicks) => new(new TokenBucket(PerSecond, Burst, nowTicks), FloodWindow, FloodCloseAfter);
}
