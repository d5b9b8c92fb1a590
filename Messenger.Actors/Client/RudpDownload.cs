using Akka.Actor;
using Messenger.Protocol;

namespace Messenger.Client;

/// <summary>Downloads one file over the reliable-UDP file channel. (Being built: see issue 4.)</summary>
public static class RudpDownload
{
    /// <summary>
    /// Downloads <paramref name="ticket"/>'s file from <paramref name="host"/> into
    /// <paramref name="outputFolder"/>. Settings (including the lossy socket) come from
    /// <paramref name="system"/>'s configuration (<c>messenger.rudp</c>, see hocon/client.hocon).
    /// </summary>
    public static Task<DownloadResult> RunAsync(ActorSystem system, string host, TicketFrame ticket, string outputFolder,
        IProgress<DownloadProgress>? progress = null, CancellationToken cancel = default) =>
        throw new NotSupportedException("reliable-UDP downloads are not built yet");
}
