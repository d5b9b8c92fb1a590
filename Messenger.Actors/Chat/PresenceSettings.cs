using Akka.Configuration;

namespace Messenger.Chat;

/// <summary>How presence news is gathered, read from <c>messenger.presence</c> in HOCON.</summary>
public sealed record PresenceSettings(TimeSpan BatchWindow)
{
    public static PresenceSettings FromConfig(Config config)
    {
        var window = config.GetTimeSpan("messenger.presence.batch-window");
        if (window <= TimeSpan.Zero) throw new ConfigurationException("messenger.presence.batch-window must be positive");
        return new PresenceSettings(window);
    }
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
