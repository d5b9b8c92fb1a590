using System.Net;
using Akka.Actor;
using Messenger.Protocol;
using Messenger.Rudp;

namespace Messenger.Client;

/// <summary>Runs a download over the channel its ticket names: the one place that picks TCP or reliable UDP.</summary>
public static class Download
{
    /// <summary>
    /// Downloads <paramref name="ticket"/>'s file from <paramref name="host"/> into <paramref name="outputFolder"/>.
    /// A reliable-UDP ticket needs <paramref name="system"/> (its receiver is an actor) and goes to <paramref name="server"/>,
    /// the address the control connection reached (<see cref="ClientConnection.Remote"/>); a TCP one connects to
    /// <paramref name="host"/>, over TLS when <paramref name="tls"/> is given. <paramref name="rudp"/>: as <see cref="RudpDownload.RunAsync"/> says.
    /// </summary>
    public static Task<DownloadResult> RunAsync(ActorSystem? system, string host, IPAddress server, TicketFrame ticket, string outputFolder,
        IProgress<DownloadProgress>? progress = null, CancellationToken cancel = default, ClientTls? tls = null, RudpSettings? rudp = null) => ticket.Via switch
    {
        TransferVia.Udp => RudpDownload.RunAsync(system ?? throw new ArgumentNullException(nameof(system), "a reliable-UDP download runs in an actor system"),
            server, ticket, outputFolder, progress, cancel, rudp),
        _ => TcpDownload.RunAsync(host, ticket, outputFolder, progress, cancel, tls),
    };
}

/// <summary>How far a download is; reported while it runs.</summary>
public sealed record DownloadProgress(
    string File,
    long BytesDone,
    long TotalBytes,
    double BytesPerSecond,
    TimeSpan Elapsed,
    long Retransmits = 0,
    int Window = 0)
{
    public double Fraction => TotalBytes == 0 ? 1 : (double)BytesDone / TotalBytes;

    /// <summary>Time left at the current rate, or null while the rate is unknown.</summary>
    public TimeSpan? Eta => BytesPerSecond <= 0 ? null : TimeSpan.FromSeconds((TotalBytes - BytesDone) / BytesPerSecond);
}

/// <summary>
/// How a download ended. <see cref="Verified"/> is true only when the SHA-256 of the bytes
/// written matched the server's and the file was renamed into place. A reliable-UDP download
/// also carries the receiver's <see cref="Stats"/>. <see cref="FirstByte"/> is the time from the
/// download's start to the first byte of the file channel's answer (the header line over TCP, the
/// first DATA segment over reliable UDP).
/// </summary>
public sealed record DownloadResult(
    string File,
    string Path,
    long Bytes,
    TimeSpan Elapsed,
    bool Verified,
    string Sha256,
    long Datagrams = 0,
    long Retransmits = 0,
    string? Error = null,
    TransferStats? Stats = null,
    TimeSpan? FirstByte = null)
{
    public double MegabytesPerSecond => Bytes / Math.Max(Elapsed.TotalSeconds, 1e-9) / 1e6;
}

/// <summary>A download the server refused or that broke off; <see cref="Code"/> is the server's error code when it sent one.</summary>
public sealed class DownloadFailedException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}
