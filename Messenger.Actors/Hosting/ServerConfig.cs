using Akka.Configuration;

namespace Messenger.Hosting;

/// <summary>The server's configuration: overrides, then an optional file, then <c>hocon/server.hocon</c> and <c>hocon/rudp.hocon</c>.</summary>
public static class ServerConfig
{
    /// <summary>The commented defaults, built into this assembly.</summary>
    public static Config Defaults { get; } = LoadEmbedded("server.hocon").WithFallback(LoadEmbedded("rudp.hocon"));

    public static Config Load(string? extraFile = null, Config? overrides = null) => Layer(Defaults, extraFile, overrides);

    /// <summary><paramref name="overrides"/> over <paramref name="extraFile"/> (if given) over <paramref name="defaults"/>.</summary>
    internal static Config Layer(Config defaults, string? extraFile, Config? overrides)
    {
        var config = defaults;
        if (extraFile is not null)
        {
            if (!File.Exists(extraFile)) throw new FileNotFoundException($"configuration file not found: {extraFile}", extraFile);
            config = ConfigurationFactory.ParseString(File.ReadAllText(extraFile)).WithFallback(config);
        }
        return overrides is null ? config : overrides.WithFallback(config);
    }

    internal static Config LoadEmbedded(string name)
    {
        using var stream = typeof(ServerConfig).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"missing embedded {name}");
        return ConfigurationFactory.ParseString(new StreamReader(stream).ReadToEnd());
    }
}
