using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using Messenger.Net;

namespace Messenger.Hosting;

/// <summary>Reads the TCP listeners' settings (<c>messenger.chat</c>, <c>messenger.files</c>, <c>messenger.tls</c>) from HOCON.</summary>
public static class ListenerConfig
{
    /// <summary>The certificate the TLS settings ask for, or null when TLS is off; <paramref name="note"/> says where it came from.</summary>
    public static X509Certificate2? Certificate(Config config, out string? note)
    {
        note = null;
        var certFile = config.GetString("messenger.tls.cert-file");
        if (!string.IsNullOrWhiteSpace(certFile))
        {
            var loaded = TlsCertificates.Load(certFile);
            note = $"TLS certificate {certFile}, SHA-256 fingerprint {TlsCertificates.Fingerprint(loaded)}";
            return loaded;
        }
        if (!config.GetBoolean("messenger.tls.self-signed")) return null;
        // Relative: inside the data folder, so the certificate (and the fingerprint clients pinned) stays with the data.
        var path = Path.GetFullPath(config.GetString("messenger.tls.self-signed-file"), Path.GetFullPath(config.GetString("messenger.data")));
        var certificate = TlsCertificates.SelfSigned(path, out bool created);
        note = $"TLS with a self-signed certificate ({(created ? "created" : "kept")} in {path}); " +
               $"clients pin it with --tls-fingerprint {TlsCertificates.Fingerprint(certificate)}";
        return certificate;
    }

    /// <summary>The settings of the listener configured at <paramref name="path"/>, with at most <paramref name="maxConnections"/> connections.</summary>
    public static ListenerSettings Read(Config config, string path, int maxConnections, X509Certificate2? certificate)
    {
        var c = config.GetConfig(path) ?? throw new ConfigurationException($"missing {path}");
        var limits = new ConnectionLimitSettings(maxConnections,
            c.GetInt("connections.per-address"), c.GetInt("connections.pre-login"),
            config.GetInt("messenger.pre-login-network.ipv4-prefix"), config.GetInt("messenger.pre-login-network.ipv6-prefix"));
        if (limits.Total < 1 || limits.PerAddress < 1 || limits.PreLogin < 1)
            throw new ConfigurationException($"{path}.connections: every limit must be at least 1");
        if (limits.IPv4Prefix is < 0 or > 32 || limits.IPv6Prefix is < 0 or > 128)
            throw new ConfigurationException("messenger.pre-login-network: prefixes are 0-32 (IPv4) and 0-128 (IPv6)");
        return new ListenerSettings(
            c.GetInt("socket.backlog"),
            c.GetByteSize("socket.input-pause") ?? throw new ConfigurationException($"{path}.socket.input-pause"),
            c.GetByteSize("socket.output-pause") ?? throw new ConfigurationException($"{path}.socket.output-pause"),
            limits,
            config.GetTimeSpan("messenger.tls.handshake-timeout"),
            config.GetTimeSpan("messenger.limit-log-interval"),
            certificate is null ? null : new SslServerAuthenticationOptions { ServerCertificate = certificate },
            c.GetBoolean("socket.inline-io"),
            config.GetInt("messenger.refusing-at-once"));
    }

    /// <summary>
    /// Splits the process's file-descriptor limit between the chat and file listeners: each gets
    /// its configured maximum unless together they would leave fewer than <c>messenger.fd-reserve</c>
    /// descriptors for everything else (files being read, the UDP socket, the runtime itself);
    /// then the chat's maximum is lowered. Running out of descriptors must never crash the process.
    /// </summary>
    public static (int Chat, int Files, string Note) ConnectionBudget(Config config)
    {
        int chat = config.GetInt("messenger.chat.connections.max");
        int files = config.GetInt("messenger.files.connections.max");
        long? limit = OpenFileLimit.Current();
        if (limit is not { } fds) return (chat, files, "file descriptor limit unknown");
        long room = fds - config.GetInt("messenger.fd-reserve");
        if (files > room / 4) files = (int)Math.Max(1, room / 4);
        if (chat + files > room) chat = (int)Math.Max(1, room - files);
        return (chat, files, $"file descriptor limit {fds}: at most {chat} chat and {files} file-channel connections");
    }
}
