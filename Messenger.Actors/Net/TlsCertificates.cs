using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Messenger.Net;

/// <summary>Loads the server's TLS certificate, or makes (and keeps) a self-signed one.</summary>
public static class TlsCertificates
{
    /// <summary>A PFX/PKCS#12 file (no password), or a PEM file holding the certificate and its private key.</summary>
    public static X509Certificate2 Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"TLS certificate not found: {path}", path);
        var extension = Path.GetExtension(path).ToLowerInvariant();
        return extension is ".pfx" or ".p12"
            ? X509CertificateLoader.LoadPkcs12FromFile(path, password: null)
            : X509Certificate2.CreateFromPemFile(path);
    }

    /// <summary>
    /// The self-signed certificate kept at <paramref name="path"/>, created on first use (ECDSA
    /// P-256, valid ten years, for <c>localhost</c> and the machine's name). Clients pin it by its
    /// <see cref="Fingerprint"/>.
    /// </summary>
    public static X509Certificate2 SelfSigned(string path, out bool created)
    {
        created = !File.Exists(path);
        if (!created) return X509CertificateLoader.LoadPkcs12FromFile(path, password: null);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Messenger self-signed", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddDnsName(Environment.MachineName);
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(10));
        var pfx = certificate.Export(X509ContentType.Pkcs12);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllBytes(path, pfx);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return X509CertificateLoader.LoadPkcs12(pfx, password: null);
    }

    /// <summary>SHA-256 of the certificate (DER), as lower-case hex: what <c>--tls-fingerprint</c> pins.</summary>
    public static string Fingerprint(X509Certificate2 certificate) =>
        Convert.ToHexStringLower(certificate.GetCertHash(HashAlgorithmName.SHA256));

    /// <summary>Compares a pinned fingerprint (hex, any case, colons allowed) with a certificate's.</summary>
    public static bool Matches(string pinned, X509Certificate certificate)
    {
        var expected = pinned.Replace(":", "", StringComparison.Ordinal).Trim().ToLowerInvariant();
        var actual = Convert.ToHexStringLower(certificate.GetCertHash(HashAlgorithmName.SHA256));
        return CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(expected), System.Text.Encoding.ASCII.GetBytes(actual));
    }
}
