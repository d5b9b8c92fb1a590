using System.Globalization;
using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace Messenger.Hosting;

/// <summary>The server's configuration: overrides, then an optional file, then <c>hocon/server.hocon</c> and <c>hocon/rudp.hocon</c>.</summary>
public static partial class ServerConfig
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

    /// <summary>
    /// The first <c>messenger.*</c> setting of <paramref name="config"/> whose value is not of its
    /// default's kind (a duration, a size, a number, on/off), said as <c>KEY = VALUE: not a KIND</c>;
    /// null if there is none. Asked when a start failed: HOCON's own error does not name the key.
    /// </summary>
    public static string? FindBadValue(Config config) => FindBadValue(config, "messenger", Defaults.GetConfig("messenger").Root);

    private static string? FindBadValue(Config config, string path, HoconValue defaults)
    {
        if (defaults.IsObject())
        {
            foreach (var (key, value) in defaults.GetObject().Items)
            {
                if (FindBadValue(config, $"{path}.{key}", value) is { } bad) return bad;
            }
            return null;
        }
        if (defaults.IsArray() || !config.HasPath(path)) return null;
        var (kind, read) = KindOf(defaults.GetString());
        if (read is null) return null;
        try
        {
            read(config, path);
            return null;
        }
        catch (Exception) // whatever HOCON throws for a value it cannot read as that kind
        {
            return $"{path} = {config.GetValue(path)}: not {kind}";
        }
    }

    private static (string Kind, Action<Config, string>? Read) KindOf(string? value) => value switch
    {
        null => ("", null),
        "on" or "off" or "true" or "false" or "yes" or "no" => ("on or off", (c, p) => c.GetBoolean(p)),
        _ when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _) => ("a number", (c, p) => c.GetDouble(p)),
        _ when Duration().IsMatch(value) => ("a duration (e.g. 10s, 500ms)", (c, p) => c.GetTimeSpan(p)),
        _ when Size().IsMatch(value) => ("a size (e.g. 64 KiB)", (c, p) => c.GetByteSize(p)),
        _ => ("", null),
    };

    [GeneratedRegex(@"^\d+(\.\d+)?\s*(ns|us|ms|s|m|h|d|nanoseconds?|microseconds?|milliseconds?|seconds?|minutes?|hours?|days?)$")]
    private static partial Regex Duration();

    [GeneratedRegex(@"^\d+\s*([kKmMgGtT]i?B?|B|bytes?)$")]
    private static partial Regex Size();

    internal static Config LoadEmbedded(string name)
    {
        using var stream = typeof(ServerConfig).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"missing embedded {name}");
        return ConfigurationFactory.ParseString(new StreamReader(stream).ReadToEnd());
    }
}
