using Akka.Configuration;

namespace Messenger.Hosting;

/// <summary>Loads the layered configuration: overrides, then an optional file, then the built-in defaults.</summary>
public static class ServerConfig
{
    /// <summary>The commented defaults from <c>hocon/server.hocon</c>, built into this assembly.</summary>
    public static Config Defaults { get; } = LoadEmbedded("server.hocon").WithFallback(LoadEmbedded("rudp.hocon"));

    public static Config Load(string? extraFile = null, Config? overrides = null)
    {
        var config = Defaults;
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
