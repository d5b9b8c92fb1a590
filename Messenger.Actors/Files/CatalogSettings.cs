using Akka.Configuration;

namespace Messenger.Files;

/// <summary>How the <see cref="FileCatalog"/> keeps itself current and pages its answers (keys of <c>messenger.files</c>).</summary>
public sealed record CatalogSettings(bool Watch, TimeSpan RescanInterval, TimeSpan ChangeDelay, int HashConcurrency,
    TimeSpan HashTimeBudget, int PageSize, int MaxPageSize)
{
    /// <summary>Reads the keys from the <c>messenger.files</c> section <paramref name="files"/>.</summary>
    public static CatalogSettings FromConfig(Config files)
    {
        var settings = new CatalogSettings(
            files.GetBoolean("watch"),
            files.GetTimeSpan("rescan-interval"),
            files.GetTimeSpan("change-delay"),
            files.GetInt("hash-concurrency"),
            files.GetTimeSpan("hash-time-budget"),
            files.GetInt("page-size"),
            files.GetInt("max-page-size"));
        if (settings.RescanInterval <= TimeSpan.Zero) throw new ConfigurationException("messenger.files.rescan-interval must be positive");
        if (settings.ChangeDelay < TimeSpan.Zero) throw new ConfigurationException("messenger.files.change-delay must not be negative");
        if (settings.HashConcurrency < 1) throw new ConfigurationException("messenger.files.hash-concurrency must be at least 1");
        if (settings.HashTimeBudget <= TimeSpan.Zero) throw new ConfigurationException("messenger.files.hash-time-budget must be positive");
        if (settings.PageSize < 1 || settings.MaxPageSize < settings.PageSize)
            throw new ConfigurationException("messenger.files: need 1 <= page-size <= max-page-size");
        return settings;
    }
}
