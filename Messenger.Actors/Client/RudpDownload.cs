using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Messenger.Files;
using Messenger.Protocol;
using Messenger.Rudp;
using Messenger.Rudp.Actors;

namespace Messenger.Client;

/// <summary>Downloads one file over the reliable-UDP file channel (a <see cref="FileReceiverActor"/> does the work).</summary>
public static class RudpDownload
{
    /// <summary>
    /// Downloads <paramref name="ticket"/>'s file from <paramref name="server"/> into
    /// <paramref name="outputFolder"/>. <paramref name="server"/> is the address the control connection that
    /// asked for the ticket reached (<see cref="ClientConnection.Remote"/>): the ticket is good only from
    /// that connection's address, which a SYN sent there comes from. Settings (including the lossy socket) are <paramref name="settings"/>, by default
    /// <paramref name="system"/>'s configuration (<c>messenger.rudp</c>, see hocon/client.hocon).
    /// Throws <see cref="DownloadFailedException"/> when the transfer fails.
    /// </summary>
    public static async Task<DownloadResult> RunAsync(ActorSystem system, IPAddress server, TicketFrame ticket, string outputFolder,
        IProgress<DownloadProgress>? progress = null, CancellationToken cancel = default, RudpSettings? settings = null)
    {
        if (ticket.Via != TransferVia.Udp) throw new ArgumentException("not a udp ticket", nameof(ticket));
        if (!FileNames.IsPlain(ticket.File)) throw new DownloadFailedException(ErrorCodes.NoSuchFile, $"refusing unsafe file name \"{ticket.File}\"");
        settings ??= RudpSettings.FromConfig(system.Settings.Config);
        var local = new IPEndPoint(IPAddress.IsLoopback(server) ? server
            : server.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        Directory.CreateDirectory(outputFolder);

        var socket = UdpSockets.Bind(local, settings.SocketBufferBytes);
        var done = new TaskCompletionSource<DownloadResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var receiver = system.ActorOf(FileReceiverActor.Props(socket, new IPEndPoint(server, ticket.Port), ticket, outputFolder, settings, progress, done));
        await using var registration = cancel.Register(() => receiver.Tell(CancelDownload.Instance));
        return await done.Task;
    }
}
