using System.Globalization;
using Messenger.Client;
using Messenger.Protocol;

namespace Messenger.TerminalClient;

public enum DownloadStatus { AwaitingTicket, Running, Verified, Failed, Cancelled }

/// <summary>One download as shown in the downloads view.</summary>
public sealed class DownloadItem(int id, string file, TransferVia via)
{
    public int Id { get; } = id;
    public string File { get; } = file;
    public TransferVia Via { get; } = via;
    public DownloadStatus Status { get; internal set; } = DownloadStatus.AwaitingTicket;
    public long Bytes { get; internal set; }
    public long Total { get; internal set; }
    public double BytesPerSecond { get; internal set; }
    public TimeSpan? Eta { get; internal set; }
    public long Retransmits { get; internal set; }
    public int Window { get; internal set; }
    public string? Sha256 { get; internal set; }
    public string? Error { get; internal set; }
    public string? Path { get; internal set; }
    /// <summary>The chat buffer it was asked from, where its news is said.</summary>
    public string? Buffer { get; internal set; }

    public bool Finished => Status is DownloadStatus.Verified or DownloadStatus.Failed or DownloadStatus.Cancelled;

    public float Fraction => Total <= 0 ? (Status == DownloadStatus.Verified ? 1f : 0f) : (float)Math.Clamp((double)Bytes / Total, 0, 1);

    /// <summary>The first line: name, transfer, how far, how fast.</summary>
    public string Describe()
    {
        var via = ChatCodec.ViaName(Via);
        return Status switch
        {
            DownloadStatus.AwaitingTicket => $"{File} {via}: asking the server…",
            DownloadStatus.Running => $"{File} {via} {Fraction * 100:0}% {Units.Size(Bytes)}/{Units.Size(Total)} {Units.Rate(BytesPerSecond)}"
                + $" ETA {(Eta is { } eta ? FormatEta(eta) : "?")}",
            DownloadStatus.Verified => $"{File} {via} 100% {Units.Size(Total)} done",
            DownloadStatus.Cancelled => $"{File} {via} cancelled",
            _ => $"{File} {via} FAILED",
        };
    }

    /// <summary>The second line: UDP window and retransmits, the verified hash, or why it failed.</summary>
    public string Detail() => Status switch
    {
        DownloadStatus.Running when Via == TransferVia.Udp => $"retransmits {Retransmits} · window {Window}",
        DownloadStatus.Verified => $"SHA-256 verified {Sha256?[..Math.Min(16, Sha256.Length)]}…"
            + (Via == TransferVia.Udp ? $" · retransmits {Retransmits}" : ""),
        DownloadStatus.Failed => Error ?? "failed",
        _ => "",
    };

    private static string FormatEta(TimeSpan eta) =>
        eta.TotalHours >= 1 ? eta.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : eta.ToString(@"m\:ss", CultureInfo.InvariantCulture);
}

/// <summary>Sizes and rates in one unit system everywhere in the client: decimal (1 MB = 1,000,000 bytes).</summary>
public static class Units
{
    public static string Size(long bytes) => bytes switch
    {
        < 1000 => $"{bytes} B",
        < 1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e3:0.0} kB"),
        < 1_000_000_000 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:0.0} MB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e9:0.00} GB"),
    };

    public static string Rate(double bytesPerSecond) => Size((long)bytesPerSecond) + "/s";
}
