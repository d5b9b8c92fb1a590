using Akka.Configuration;
using Messenger.Chat;

namespace Messenger.Accounts;

/// <summary>Tunables of accounts, read from <c>messenger.accounts</c> in HOCON.</summary>
public sealed record AccountSettings(
    int Pbkdf2Iterations,
    double FailedLoginsPerSecond,
    int FailedLoginsBurst,
    int OfflineLimit,
    TimeSpan PassivateAfter,
    int MaxHashJobs,
    TokenBucketSettings RegistrationsPerAddress)
{
    public static AccountSettings FromConfig(Config config)
    {
        var c = config.GetConfig("messenger.accounts") ?? throw new ConfigurationException("missing messenger.accounts");
        var settings = new AccountSettings(
            c.GetInt("pbkdf2-iterations"),
            c.GetDouble("failed-logins.per-second"),
            c.GetInt("failed-logins.burst"),
            c.GetInt("offline-limit"),
            c.GetTimeSpan("passivate-after"),
            c.GetInt("max-hash-jobs"),
            new TokenBucketSettings(c.GetDouble("registrations-per-address.per-second"), c.GetInt("registrations-per-address.burst")));
        if (settings.Pbkdf2Iterations < 1) throw new ConfigurationException("messenger.accounts.pbkdf2-iterations must be at least 1");
        if (settings.FailedLoginsPerSecond <= 0 || settings.FailedLoginsBurst < 1)
            throw new ConfigurationException("messenger.accounts.failed-logins needs a positive rate and a burst of at least 1");
        if (settings.OfflineLimit < 0) throw new ConfigurationException("messenger.accounts.offline-limit must not be negative");
        if (settings.PassivateAfter <= TimeSpan.Zero) throw new ConfigurationException("messenger.accounts.passivate-after must be positive");
        if (settings.MaxHashJobs < 1) throw new ConfigurationException("messenger.accounts.max-hash-jobs must be at least 1");
        if (settings.RegistrationsPerAddress is not { PerSecond: > 0, Burst: >= 1 })
            throw new ConfigurationException("messenger.accounts.registrations-per-address needs a positive per-second and a burst of at least 1");
        return settings;
    }
}
