using Akka.Configuration;

namespace Messenger.Hosting;

/// <summary>The client's layered configuration: overrides, an optional file, then <c>hocon/client.hocon</c> and <c>hocon/rudp.hocon</c>.</summary>
public static class ClientConfig
{
    public static Config Defaults { get; } = ServerConfig.LoadEmbedded("client.hocon").WithFallback(ServerConfig.LoadEmbedded("rudp.hocon"));

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
}
