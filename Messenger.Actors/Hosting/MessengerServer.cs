using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Messenger.Chat;
using Messenger.Files;
using Messenger.Net;
using Messenger.Rudp;
using Messenger.Rudp.Actors;

namespace Messenger.Hosting;

/// <summary>
/// The whole server in one object: an actor system with the chat listener, the username
/// registry, the file catalog, the ticket office and the file channels. The console host and
/// the tests start it the same way; ports given as 0 are resolved and exposed here.
/// </summary>
public sealed class MessengerServer : IAsyncDisposable
{
    private readonly IActorRef _chatAcceptor;
    private readonly IActorRef _fileAcceptor;

    private MessengerServer(ActorSystem system, IActorRef registry, IActorRef catalog, IActorRef tickets,
        IActorRef chatAcceptor, IActorRef fileAcceptor, IPEndPoint chat, IPEndPoint file, IPEndPoint udp, string filesFolder)
    {
        System = system;
        Registry = registry;
        Catalog = catalog;
        Tickets = tickets;
        _chatAcceptor = chatAcceptor;
        _fileAcceptor = fileAcceptor;
        ChatEndpoint = chat;
        FileEndpoint = file;
        UdpEndpoint = udp;
        FilesFolder = filesFolder;
    }

    public ActorSystem System { get; }
    public IActorRef Registry { get; }
    public IActorRef Catalog { get; }
    public IActorRef Tickets { get; }
    public IPEndPoint ChatEndpoint { get; }
    public IPEndPoint FileEndpoint { get; }
    public IPEndPoint UdpEndpoint { get; }
    public string FilesFolder { get; }

    public static async Task<MessengerServer> StartAsync(Config config, string systemName = "messenger")
    {
        var bind = IPAddress.Parse(config.GetString("messenger.bind"));
        var chatSettings = ChatSettings.FromConfig(config);
        var fileSettings = FileSettings.FromConfig(config);
        var rudpSettings = RudpSettings.FromConfig(config);
        var udpSocket = UdpSockets.Bind(new IPEndPoint(bind, config.GetInt("messenger.rudp.port")), rudpSettings.SocketBufferBytes);
        var udpEndpoint = (IPEndPoint)udpSocket.LocalEndPoint!;
        var system = ActorSystem.Create(systemName, config);
        try
        {
            var registry = system.ActorOf(UsernameRegistry.Props(), "users");
            var catalog = system.ActorOf(FileCatalog.Props(fileSettings.Folder), "files");
            var tickets = system.ActorOf(TicketOffice.Props(catalog, fileSettings.TicketLifetime), "tickets");

            var fileAcceptor = system.ActorOf(TcpAcceptor.Props("file channel (tcp)",
                new IPEndPoint(bind, config.GetInt("messenger.files.port")),
                (tcp, remote) => FileUploadActor.Props(tcp, remote, tickets, fileSettings),
                fileSettings.SocketSettings(Akka.IO.TcpSettings.Create(system))), "file-tcp");
            var fileBound = await fileAcceptor.Ask<TcpBound>(GetBinding.Instance, TimeSpan.FromSeconds(10));
            tickets.Tell(new FilePortsBound(fileBound.LocalAddress.Port, udpEndpoint.Port));
            system.ActorOf(RudpServerActor.Props(udpSocket, tickets, rudpSettings), "file-udp");
            system.Log.Info("file channel (udp) listening on {0}", udpEndpoint);

            var chatAcceptor = system.ActorOf(TcpAcceptor.Props("chat",
                new IPEndPoint(bind, config.GetInt("messenger.chat.port")),
                (tcp, remote) => ConnectionActor.Props(tcp, remote, registry, tickets, chatSettings)), "chat");
            var chatBound = await chatAcceptor.Ask<TcpBound>(GetBinding.Instance, TimeSpan.FromSeconds(10));

            var server = new MessengerServer(system, registry, catalog, tickets, chatAcceptor, fileAcceptor,
                chatBound.LocalAddress, fileBound.LocalAddress, udpEndpoint, Path.GetFullPath(fileSettings.Folder));
            CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseServiceRequestsDone, "close-clients",
                async () =>
                {
                    await server.CloseClientsAsync();
                    return Akka.Done.Instance;
                });
            system.Log.Info("files folder: {0}", server.FilesFolder);
            return server;
        }
        catch
        {
            udpSocket.Dispose();
            await system.Terminate();
            throw;
        }
    }

    /// <summary>Stops accepting and closes every client gracefully (they see a close, not a reset).</summary>
    private async Task CloseClientsAsync()
    {
        var timeout = TimeSpan.FromSeconds(5);
        await Task.WhenAll(
            _chatAcceptor.Ask<StoppedAccepting>(StopServer.Instance, timeout),
            _fileAcceptor.Ask<StoppedAccepting>(StopServer.Instance, timeout));
    }

    /// <summary>Runs coordinated shutdown: clients are closed, then the actor system stops.</summary>
    public async ValueTask DisposeAsync()
    {
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance);
        await System.WhenTerminated;
    }
}
