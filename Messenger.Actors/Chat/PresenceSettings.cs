using Akka.Configuration;

namespace Messenger.Chat;

/// <summary>How presence news is gathered and told, read from <c>messenger.presence</c> in HOCON.</summary>
/// <param name="FanOutSlice">Connections the news of one window is queued for per turn of the presence actor.</param>
/// <param name="LobbyRetry">How often the lobby is asked for again after its entity stopped, until its next incarnation answers.</param>
public sealed record PresenceSettings(TimeSpan BatchWindow, int MaxDeliveriesPerSecond, int FanOutSlice, TimeSpan LobbyRetry)
{
    /// <summary>The dispatcher the presence actor runs on (its HOCON path): one message per turn.</summary>
    public const string Dispatcher = "messenger.presence.dispatcher";

    public static PresenceSettings FromConfig(Config config)
    {
        var settings = new PresenceSettings(config.GetTimeSpan("messenger.presence.batch-window"),
            config.GetInt("messenger.presence.max-deliveries-per-second"), config.GetInt("messenger.presence.fan-out-slice"),
            config.GetTimeSpan("messenger.presence.lobby-retry"));
        if (settings.BatchWindow <= TimeSpan.Zero || settings.MaxDeliveriesPerSecond < 1 || settings.FanOutSlice < 1 || settings.LobbyRetry <= TimeSpan.Zero)
            throw new ConfigurationException("messenger.presence: batch-window and lobby-retry must be positive, max-deliveries-per-second and fan-out-slice at least 1");
        return settings;
    }

    /// <summary>
    /// The window with <paramref name="online"/> clients to tell: <see cref="BatchWindow"/>, or
    /// longer when one flush to everyone every window would pass <see cref="MaxDeliveriesPerSecond"/>.
    /// </summary>
    public TimeSpan Window(int online) =>
        TimeSpan.FromTicks(Math.Max(BatchWindow.Ticks, online * TimeSpan.TicksPerSecond / MaxDeliveriesPerSecond));
}

/// <summary>Logins allowed from one IP address, read from <c>messenger.chat.logins-per-address</c> in HOCON.</summary>
public sealed record LoginRateSettings(double PerSecond, int Burst)
{
    public static LoginRateSettings FromConfig(Config config)
    {
        var c = config.GetConfig("messenger.chat.logins-per-address") ?? throw new ConfigurationException("missing messenger.chat.logins-per-address");
        var settings = new LoginRateSettings(c.GetDouble("per-second"), c.GetInt("burst"));
        if (settings.PerSecond <= 0 || settings.Burst < 1)
            throw new ConfigurationException("messenger.chat.logins-per-address needs a positive per-second and a burst of at least 1");
        return settings;
    }
}
