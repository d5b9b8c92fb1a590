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
    TokenBucketSettings FileRequests,
    TimeSpan LogInterval,
    int MaxJoinedRooms,
    TimeSpan AccountAnswerTimeout,
    TimeSpan SayTimeout)
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
            TokenBucketSettings.FromConfig(c.GetConfig("file-requests"), "messenger.chat.file-requests"),
            Positive(config.GetTimeSpan("messenger.limit-log-interval"), "limit-log-interval"),
            config.GetInt("messenger.rooms.max-joined-per-connection"),
            Positive(c.GetTimeSpan("account-answer-timeout"), "account-answer-timeout"),
            Positive(c.GetTimeSpan("say-timeout"), "say-timeout"));
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

/// <summary>A token bucket's rate and burst (<c>messages-per-second</c>, <c>burst</c>).</summary>
public sealed record TokenBucketSettings(double PerSecond, int Burst)
{
    public static TokenBucketSettings FromConfig(Config c, string path)
    {
        var settings = new TokenBucketSettings(c.GetDouble("messages-per-second"), c.GetInt("burst"));
        if (settings.PerSecond <= 0 || settings.Burst < 1)
            throw new ConfigurationException($"{path} needs a positive messages-per-second and a burst of at least 1");
        return settings;
    }

    public TokenBucket NewBucket(long nowTicks) => new(PerSecond, Burst, nowTicks);
}

/// <summary>The chat lines' token bucket, and when a client that keeps going past it is closed.</summary>
public sealed record RateLimitSettings(TokenBucketSettings Bucket, TimeSpan FloodWindow, int FloodCloseAfter)
{
    public static RateLimitSettings FromConfig(Config c, string path)
    {
        var settings = new RateLimitSettings(TokenBucketSettings.FromConfig(c, path),
            c.GetTimeSpan("flood-window"), c.GetInt("flood-close-after"));
        if (settings.FloodWindow <= TimeSpan.Zero || settings.FloodCloseAfter < 1)
            throw new ConfigurationException($"{path} needs a positive flood-window and flood-close-after");
        return settings;
    }

    public FloodGuard NewGuard(long nowTicks) => new(Bucket.NewBucket(nowTicks), FloodWindow, FloodCloseAfter);
}
