namespace Messenger.Bench;

/// <summary>What every benchmark asks of the server, as HOCON layered over its defaults.</summary>
public static class BenchConfig
{
    /// <summary>
    /// Rate limit off (the load is the point), no idle timeout during a run, connection and login
    /// limits raised (every client comes from 127.0.0.1), and warnings only in
    /// the log so that per-login INFO lines are not part of what is measured. One control
    /// connection asks for the tickets of every concurrent download.
    /// </summary>
    public const string BaseServerHocon = """
        messenger.chat.rate-limit.enabled = off
        messenger.files.max-tickets-per-connection = 1000
        messenger.chat.idle-timeout = 10m
        messenger.chat.login-timeout = 10m
        messenger.chat.connections { max = 200000, per-address = 200000, pre-login = 200000 }
        messenger.files.connections { per-address = 256 }
        akka.loglevel = WARNING
        akka.stdout-loglevel = WARNING
        """;

    /// <summary>
    /// The server's own login timeout (hocon/server.hocon), for the scenarios that measure what it
    /// does: closing silent connections, and what an idle client costs once its login deadline has
    /// passed (with the 10 minutes above, a pending deadline timer is counted on every client).
    /// </summary>
    public static readonly TimeSpan ServerLoginTimeout = TimeSpan.FromSeconds(10);
    public static string ServerLoginTimeoutHocon => $"messenger.chat.login-timeout = {ServerLoginTimeout.TotalSeconds}s";

    /// <summary>Logins per address raised too; left out only by a scenario that measures the server's own limit.</summary>
    public const string RaisedLoginLimitHocon = "messenger.chat.logins-per-address { per-second = 100000, burst = 200000 }";

    /// <summary>With <c>--tls</c>: the server uses a self-signed certificate and every client connects over TLS, pinned to it.</summary>
    public static bool Tls { get; set; }

    /// <summary>Extra server HOCON from <c>--server-hocon</c>, to try a tuning without rebuilding.</summary>
    public static string? ExtraServerHocon { get; set; }

    public static string ServerHocon => ServerHoconWith(loginLimitRaised: true);

    public static string ServerHoconWith(bool loginLimitRaised)
    {
        var hocon = loginLimitRaised ? BaseServerHocon + "\n" + RaisedLoginLimitHocon : BaseServerHocon;
        return ExtraServerHocon is null ? hocon : hocon + "\n" + ExtraServerHocon;
    }

    /// <summary>Every client of every scenario connects here and nowhere else.</summary>
    public static readonly System.Net.IPAddress Host = System.Net.IPAddress.Loopback;

    /// <summary>Seconds since <paramref name="startTimestamp"/> (a Stopwatch timestamp).</summary>
    public static double SecondsSince(long startTimestamp) => System.Diagnostics.Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;

    /// <summary>Runs <paramref name="work"/> over <paramref name="items"/> with at most <paramref name="parallel"/> at once.</summary>
    public static Task ForEachAsync<T>(IEnumerable<T> items, int parallel, CancellationToken cancel, Func<T, CancellationToken, ValueTask> work) =>
        Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = cancel }, work);
}
