using Akka.Configuration;

namespace Messenger.Hosting;

/// <summary>The client's configuration: overrides, then an optional file, then <c>hocon/client.hocon</c> and <c>hocon/rudp.hocon</c>.</summary>
public static class ClientConfig
{
    public static Config Defaults { get; } = ServerConfig.LoadEmbedded("client.hocon").WithFallback(ServerConfig.LoadEmbedded("rudp.hocon"));

    public static Config Load(string? extraFile = null, Config? overrides = null) => ServerConfig.Layer(Defaults, extraFile, overrides);
}
