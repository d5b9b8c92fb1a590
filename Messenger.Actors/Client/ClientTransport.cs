using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Messenger.Net;

namespace Messenger.Client;

/// <summary>
/// TLS as the client wants it: on or off, and optionally a pinned certificate fingerprint
/// (SHA-256, hex) for a server with a self-signed certificate. Without a pin the certificate must
/// be valid for the host name and chain to a trusted root.
/// </summary>
public sealed record ClientTls(string? PinnedFingerprint);

/// <summary>
/// A connection to the server: its stream (the caller disposes it) and the server's address it
/// reached. A ticket asked for on a control connection is good only from that connection's
/// address, so a reliable-UDP download goes to <see cref="Remote"/>, not to its host name resolved
/// again (a name with IPv4 and IPv6 addresses may resolve to the other one).
/// </summary>
public sealed record ClientConnection(Stream Stream, IPEndPoint Remote);

/// <summary>The server's certificate was refused (not the pinned one, or not trusted): trying again will not help.</summary>
public sealed class CertificateRefusedException(string message) : AuthenticationException(message);

/// <summary>Opens the client's TCP connections: plain, or TLS checked as <see cref="ClientTls"/> says.</summary>
public static class ClientTransport
{
    /// <summary>
    /// Why a plain connection was closed before the server said a word: a TLS server does that to a
    /// plain-text hello (a chat server answers everything, if only with an error).
    /// </summary>
    public const string ClosedBeforeAnswering = "the server closed the connection without answering (if it speaks TLS, add --tls, or --tls-fingerprint for a self-signed certificate)";

    /// <summary>A connection to <paramref name="host"/>:<paramref name="port"/>; the caller disposes its stream.</summary>
    public static async Task<ClientConnection> ConnectAsync(string host, int port, ClientTls? tls, int receiveBufferBytes, CancellationToken cancel)
    {
        var tcp = new TcpClient { NoDelay = true, ReceiveBufferSize = receiveBufferBytes };
        try
        {
            await tcp.ConnectAsync(host, port, cancel);
            var remote = (IPEndPoint)tcp.Client.RemoteEndPoint!;
            if (remote.Address.IsIPv4MappedToIPv6) remote = new IPEndPoint(remote.Address.MapToIPv4(), remote.Port); // a dual-mode socket's view of an IPv4 server
            var stream = tls is null ? tcp.GetStream() : await AuthenticateAsync(tcp.GetStream(), host, tls, cancel);
            return new ClientConnection(stream, remote);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>The TLS handshake over <paramref name="plain"/>, apart so that a plain connection never loads the TLS stack.</summary>
    private static async Task<Stream> AuthenticateAsync(Stream plain, string host, ClientTls tls, CancellationToken cancel)
    {
        var ssl = new SslStream(plain, leaveInnerStreamOpen: false);
        string? refusal = null;
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = host,
            RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                refusal = Check(tls, certificate, errors);
                return refusal is null;
            },
        }, cancel).ContinueWith(t =>
        {
            if (t.IsFaulted)
            {
                if (refusal is not null) throw new CertificateRefusedException(refusal);
                throw new AuthenticationException(
                    $"the TLS handshake failed ({t.Exception!.GetBaseException().Message}): the server does not seem to speak TLS; without --tls the client connects in plain text");
            }
            t.GetAwaiter().GetResult();
        }, TaskScheduler.Default);
        return ssl;
    }

    private static string? Check(ClientTls tls, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null) return "the server sent no TLS certificate";
        if (tls.PinnedFingerprint is { } pinned)
        {
            return TlsCertificates.Matches(pinned, certificate) ? null
                : $"the server's certificate has SHA-256 fingerprint {Convert.ToHexStringLower(certificate.GetCertHash(System.Security.Cryptography.HashAlgorithmName.SHA256))}, not the pinned {pinned}";
        }
        return errors == SslPolicyErrors.None ? null
            : $"the server's TLS certificate is not trusted ({errors}); pin a self-signed one with --tls-fingerprint";
    }
}
