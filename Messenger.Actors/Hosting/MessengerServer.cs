using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Messenger.Accounts;
using Messenger.Chat;
using Messenger.Cluster;
using Messenger.Files;
using Messenger.Net;
using Messenger.Persistence;
using Messenger.Rooms;
using Messenger.Rudp;
using Akka.Persistence.Sql;
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
    private readonly TimeSpan _shutdownDeadline;
    private readonly DataFolderLock? _dataLock;

    private MessengerServer(DataFolderLock? dataLock, ActorSystem system, IActorRef registry, IActorRef catalog, IActorRef tickets,
        IActorRef chatAcceptor, IActorRef fileAcceptor, IPEndPoint chat, IPEndPoint file, IPEndPoint udp, string filesFolder,
        string? tlsFingerprint, TimeSpan shutdownDeadline)
    {
        _dataLock = dataLock;
        TlsFingerprint = tlsFingerprint;
        _shutdownDeadline = shutdownDeadline;
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
    /// <summary>This node's cluster address (seed nodes name it as HOST:PORT).</summary>
    public Address ClusterAddress => Akka.Cluster.Cluster.Get(System).SelfAddress;
    /// <summary>SHA-256 of the TLS certificate when the chat and file channels use TLS, else null.</summary>
    public string? TlsFingerprint { get; }

    public static async Task<MessengerServer> StartAsync(Config config, string systemName = "messenger")
    {
        var bind = IPAddress.Parse(config.GetString("messenger.bind"));
        var chatSettings = ChatSettings.FromConfig(config);
        var fileSettings = FileSettings.FromConfig(config);
        var rudpSettings = RudpSettings.FromConfig(config);
        var udpAt = new IPEndPoint(bind, config.GetInt("messenger.rudp.port"));
        Socket udpSocket;
        try
        {
            udpSocket = UdpSockets.Bind(udpAt, rudpSettings.SocketBufferBytes);
        }
        catch (SocketException e)
        {
            throw new ListenFailedException(udpAt.ToString(), "files udp", e);
        }
        var udpEndpoint = (IPEndPoint)udpSocket.LocalEndPoint!;
        var certificate = ListenerConfig.Certificate(config, out var tlsNote);
        var budget = ListenerConfig.ConnectionBudget(config);
        var chatListener = ListenerConfig.Read(config, "messenger.chat", budget.Chat, certificate);
        var fileListener = ListenerConfig.Read(config, "messenger.files", budget.Files, certificate);
        config = DataStore.Prepare(config).WithFallback(ClusterNode.Prepare(config)).WithFallback(config)
            .WithFallback(SqlPersistence.DefaultConfiguration);
        var roomSettings = RoomSettings.FromConfig(config);
        var accountSettings = AccountSettings.FromConfig(config);
        ActorSystem system;
        try
        {
            system = ActorSystem.Create(systemName, DataStore.Setup(config));
        }
        catch (Exception e) when (ListenFailedException.SocketErrorOf(e) is not null) // the cluster's port
        {
            udpSocket.Dispose();
            throw new ListenFailedException($"{bind}:{config.GetInt("messenger.cluster.port")}", "cluster", e);
        }
        catch
        {
            udpSocket.Dispose();
            throw;
        }
        DataFolderLock? dataLock = null;
        try
        {
            // A data folder serves one cluster: taken before any room or account reads or writes the
            // journal (opening the SQLite files and the self-signed certificate, before it, change nothing
            // another server would notice).
            dataLock = DataStore.Lock(config, Akka.Cluster.Cluster.Get(system).SelfAddress);
            system.Log.Info(budget.Note);
            if (tlsNote is not null) system.Log.Info(tlsNote);
            var chat = ChatServices.Start(system, roomSettings, accountSettings,
                passwordsInClear: !IPAddress.IsLoopback(bind) && certificate is null);
            var (rooms, accounts, registry) = (chat.Rooms, chat.Accounts, chat.Registry);
            await ClusterNode.JoinAsync(system, dataLock?.Neighbours ?? []);
            // Open the database and recover the lobby before the first client: a broken data folder
            // fails the start, and the first login does not wait for it.
            var lobby = await rooms.Ask<RoomReady>(new ToRoom(Protocol.RoomNames.Lobby, AwaitRoomReady.Instance), TimeSpan.FromSeconds(60));
            system.Log.Info("lobby recovered: {0} messages so far", lobby.LastId);
            // Likewise every bucket of name claims: the first logins do not queue behind their recoveries.
            var claimSettings = NameClaimSettings.FromConfig(config);
            if (await NameClaims.WakeAllAsync(chat.Claims, claimSettings) is { Count: > 0 } asleep)
                system.Log.Warning("{0} of {1} name-claims buckets were not ready within {2}; the first logins to their names wait for them",
                    asleep.Count, claimSettings.Buckets, claimSettings.WakeTimeout);
            var catalog = system.ActorOf(FileCatalog.Props(fileSettings.Folder, fileSettings.Catalog), "files");
            var tickets = system.ActorOf(TicketOffice.Props(catalog, fileSettings.TicketLifetime, fileSettings.MaxTicketsPerConnection), "tickets");

            var fileAcceptor = system.ActorOf(TcpAcceptor.Props("files tcp",
                new IPEndPoint(bind, config.GetInt("messenger.files.port")),
                connection => FileUploadActor.Props(connection, tickets, fileSettings), fileListener), "file-tcp");
            var fileBound = await fileAcceptor.Ask<TcpBound>(GetBinding.Instance, TimeSpan.FromSeconds(10));
            tickets.Tell(new FilePortsBound(fileBound.LocalAddress.Port, udpEndpoint.Port));
            system.ActorOf(RudpServerActor.Props(udpSocket, tickets, rudpSettings, RudpServerLimits.FromConfig(config)), "file-udp");
            system.Log.Info("files udp listening on {0}", udpEndpoint);

            var connectionServices = new ConnectionServices(registry, rooms, chat.RoomDirectory, accounts, tickets, chatSettings);
            var chatAcceptor = system.ActorOf(TcpAcceptor.Props("chat",
                new IPEndPoint(bind, config.GetInt("messenger.chat.port")),
                connection => ConnectionActor.Props(connection, connectionServices), chatListener), "chat");
            var chatBound = await chatAcceptor.Ask<TcpBound>(GetBinding.Instance, TimeSpan.FromSeconds(10));

            var server = new MessengerServer(dataLock, system, registry, catalog, tickets, chatAcceptor, fileAcceptor,
                chatBound.LocalAddress, fileBound.LocalAddress, udpEndpoint, Path.GetFullPath(fileSettings.Folder),
                certificate is null ? null : TlsCertificates.Fingerprint(certificate), config.GetTimeSpan("messenger.shutdown-deadline"));
            CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseServiceRequestsDone, "close-clients",
                async () =>
                {
                    await server.CloseClientsAsync();
                    return Akka.Done.Instance;
                });
            system.Log.Info("files folder: {0}", server.FilesFolder);
            system.Log.Info(DataStore.Describe(config));
            return server;
        }
        catch
        {
            // The socket's actor stops with the system: closed before, it would fail on the closed socket.
            await system.Terminate();
            udpSocket.Dispose();
            dataLock?.Dispose();
            throw;
        }
    }

    /// <summary>Stops accepting and closes every client gracefully (they see a close, not a reset).</summary>
    private async Task CloseClientsAsync()
    {
        try
        {
            await Task.WhenAll(
                _chatAcceptor.Ask<StoppedAccepting>(StopServer.Instance, _shutdownDeadline),
                _fileAcceptor.Ask<StoppedAccepting>(StopServer.Instance, _shutdownDeadline));
        }
        catch (AskTimeoutException)
        {
            System.Log.Warning("not every connection closed within {0}; the rest are cut", _shutdownDeadline);
        }
    }

    /// <summary>Runs coordinated shutdown: clients are closed, then the actor system stops.</summary>
    public async ValueTask DisposeAsync()
    {
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance);
        await System.WhenTerminated;
        _dataLock?.Dispose();
    }
}
