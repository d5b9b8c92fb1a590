using Akka.Configuration;

namespace Messenger.Accounts;

/// <summary>Tunables of accounts, read from <c>messenger.accounts</c> in HOCON.</summary>
public sealed record AccountSettings(
    int Pbkdf2Iterations,
    double FailedLoginsPerSecond,
    int FailedLoginsBurst,
    int OfflineLimit,
    TimeSpan PassivateAfter)
{
    public static AccountSettings FromConfig(Config config)
    {
        var c = config.GetConfig("messenger.accounts") ?? throw new ConfigurationException("missing messenger.accounts");
        var settings = new AccountSettings(
            c.GetInt("pbkdf2-iterations"),
            c.GetDouble("failed-logins.per-second"),
            c.GetInt("failed-logins.burst"),
            c.GetInt("offline-limit"),
            c.GetTimeSpan("passivate-after"));
        if (settings.Pbkdf2Iterations < 1) throw new ConfigurationException("messenger.accounts.pbkdf2-iterations must be at least 1");
        if (settings.FailedLoginsPerSecond <= 0 || settings.FailedLoginsBurst < 1)
            throw new ConfigurationException("messenger.accounts.failed-logins needs a positive rate and a burst of at least 1");
        if (settings.OfflineLimit < 0) throw new ConfigurationException("messenger.accounts.offline-limit must not be negative");
        if (settings.PassivateAfter <= TimeSpan.Zero) throw new ConfigurationException("messenger.accounts.passivate-after must be positive");
        return settings;
    }
}
