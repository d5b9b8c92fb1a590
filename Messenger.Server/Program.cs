using System.CommandLine;
using System.Runtime.InteropServices;
using Akka.Configuration;
using Messenger.Hosting;

// The console host: defaults from hocon/server.hocon, an optional --config file over them,
// and command-line flags over both.
var bind = new Option<string?>("--bind") { Description = "Address to listen on (default 127.0.0.1; 0.0.0.0 for a LAN)" };
var chatPort = new Option<int?>("--chat-port") { Description = "TCP port of the chat channel (default 7400; 0 = any free port)" };
var filePort = new Option<int?>("--file-port") { Description = "TCP port of the file channel (default 7401; 0 = any free port)" };
var udpPort = new Option<int?>("--udp-port") { Description = "UDP port of the reliable-UDP file channel (default 7402; 0 = any free port)" };
var files = new Option<string?>("--files") { Description = "Folder of files to offer (default ./files)" };
var data = new Option<string?>("--data") { Description = "Folder of the chat database (journal and snapshots, SQLite; default ./data, created on first start)" };
var clusterPort = new Option<int?>("--cluster-port") { Description = "This node's cluster port (default 7403; 0 = any free port)" };
var seedNodes = new Option<string[]>("--seed-node") { Description = "HOST:PORT of a node to join (repeatable; none: form a cluster of this node)", AllowMultipleArgumentsPerToken = false };
var postgres = new Option<string?>("--postgres") { Description = "PostgreSQL connection string: the shared journal of a cluster on several machines (instead of SQLite in --data)" };
var configFile = new Option<string?>("--config") { Description = "Extra HOCON file layered over the defaults" };
var maxConnections = new Option<int?>("--max-connections") { Description = "Chat connections at once (default 10000, lowered to fit the file-descriptor limit)" };
var tlsCert = new Option<string?>("--tls-cert") { Description = "TLS on the chat and TCP-file ports with this certificate: PEM (certificate + key) or PFX" };
var tlsSelfSigned = new Option<bool>("--tls-self-signed") { Description = "TLS with a self-signed certificate, created on first start; its fingerprint is logged" };

var root = new RootCommand("Messenger server: chat over TCP, file downloads over TCP and reliable UDP.")
{
    bind, chatPort, filePort, udpPort, files, data, clusterPort, seedNodes, postgres, configFile, maxConnections, tlsCert, tlsSelfSigned,
};
foreach (var option in LossFlags.All) root.Options.Add(option);
foreach (var port in new[] { chatPort, filePort, udpPort, clusterPort })
{
    port.Validators.Add(r =>
    {
        if (r.GetValueOrDefault<int?>() is < 0 or > 65535) r.AddError($"{port.Name} must be a port, 0-65535 (0 = any free port)");
    });
}
seedNodes.Validators.Add(r =>
{
    foreach (var seed in r.GetValueOrDefault<string[]>() ?? [])
    {
        try
        {
            Messenger.Cluster.ClusterNode.SeedAddress("messenger", seed);
        }
        catch (ConfigurationException e)
        {
            r.AddError($"--seed-node: {e.Message}");
        }
    }
});

root.SetAction(async (parsed, cancel) =>
{
    var overrides = new List<string>();
    void Set(string path, object? value)
    {
        if (value is not null) overrides.Add($"{path} = {System.Text.Json.JsonSerializer.Serialize(value.ToString())}");
    }
    Set("messenger.bind", parsed.GetValue(bind));
    Set("messenger.chat.port", parsed.GetValue(chatPort));
    Set("messenger.files.port", parsed.GetValue(filePort));
    Set("messenger.rudp.port", parsed.GetValue(udpPort));
    Set("messenger.files.folder", parsed.GetValue(files));
    Set("messenger.data", parsed.GetValue(data));
    Set("messenger.chat.connections.max", parsed.GetValue(maxConnections));
    Set("messenger.cluster.port", parsed.GetValue(clusterPort));
    if (parsed.GetValue(seedNodes) is { Length: > 0 } seeds)
        overrides.Add($"messenger.cluster.seed-nodes = {System.Text.Json.JsonSerializer.Serialize(seeds)}");
    Set("messenger.postgres", parsed.GetValue(postgres));
    Set("messenger.tls.cert-file", parsed.GetValue(tlsCert));
    if (parsed.GetValue(tlsSelfSigned)) Set("messenger.tls.self-signed", "on");
    overrides.AddRange(LossFlags.ToHocon(parsed, "messenger.rudp.lossy"));

    Config config;
    try
    {
        config = ServerConfig.Load(parsed.GetValue(configFile), ConfigurationFactory.ParseString(string.Join("\n", overrides)));
    }
    catch (Exception e) when (e is FileNotFoundException or ConfigurationException)
    {
        Console.Error.WriteLine(e.Message);
        return 2;
    }

    MessengerServer server;
    try
    {
        ThreadPoolMinimum.Apply(config);
        server = await MessengerServer.StartAsync(config);
    }
    catch (Exception e)
    {
        if (ServerConfig.FindBadValue(config) is { } bad)
        {
            Console.Error.WriteLine($"error: {bad}");
            return 2;
        }
        Console.Error.WriteLine($"cannot start: {e.Message}");
        return 1;
    }
    var tls = server.TlsFingerprint is { } fingerprint ? $" (TLS, certificate SHA-256 {fingerprint})" : "";
    using var idleTrim = IdleMemoryTrim.Start(config, server.System.Log);
    Console.WriteLine($"Messenger listening: chat tcp {server.ChatEndpoint}, files tcp {server.FileEndpoint}{tls}, files udp {server.UdpEndpoint}, cluster {server.ClusterAddress}; press Ctrl+C to stop");
    // Ctrl+C (SIGINT) and SIGTERM: stop gracefully instead of letting the runtime exit at once.
    using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
    void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        stop.Cancel();
    }
    using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
    using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    try
    {
        await Task.Delay(Timeout.Infinite, stop.Token);
    }
    catch (OperationCanceledException)
    {
    }
    Console.WriteLine("stopping: closing clients");
    await server.DisposeAsync();
    return 0;
});

// Exit codes: 0 stopped cleanly, 1 could not start, 2 a bad command line or configuration.
var commandLine = root.Parse(args);
if (commandLine.Errors.Count > 0)
{
    foreach (var error in commandLine.Errors) Console.Error.WriteLine($"error: {error.Message}");
    Console.Error.WriteLine("run with --help for usage");
    return 2;
}
return await commandLine.InvokeAsync();
