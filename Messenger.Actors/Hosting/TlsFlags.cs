using System.CommandLine;
using Messenger.Client;

namespace Messenger.Hosting;

/// <summary>The client's TLS flags (<c>--tls</c>, <c>--tls-fingerprint SHA256</c>), shared by the full-screen and headless commands.</summary>
public static class TlsFlags
{
    public static readonly Option<bool> Tls = new("--tls") { Description = "Connect with TLS (the server was started with --tls-cert or --tls-self-signed)" };
    public static readonly Option<string?> Fingerprint = new("--tls-fingerprint")
    {
        Description = "Accept only the server certificate with this SHA-256 fingerprint (hex, as the server logs it); implies --tls",
    };

    public static IReadOnlyList<Option> All { get; } = [Tls, Fingerprint];

    static TlsFlags()
    {
        Fingerprint.Validators.Add(r =>
        {
            var hex = r.GetValueOrDefault<string?>()?.Replace(":", "", StringComparison.Ordinal);
            if (hex is not null && (hex.Length != 64 || !hex.All(Uri.IsHexDigit)))
                r.AddError("--tls-fingerprint must be a SHA-256 fingerprint: 64 hex digits (colons allowed)");
        });
    }

    /// <summary>The TLS the flags ask for, or null for a plain connection.</summary>
    public static ClientTls? From(ParseResult parsed)
    {
        var pinned = parsed.GetValue(Fingerprint);
        return pinned is not null || parsed.GetValue(Tls) ? new ClientTls(pinned) : null;
    }
}
