using System.Net;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Configuration;
using Messenger.Client;
using Messenger.Hosting;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.EndToEnd;

/// <summary>Reliable-UDP downloads through the real server on loopback, with and without the lossy socket.</summary>
public class RudpDownloadTests : IAsyncLifetime
{
    private readonly List<TestServer> _servers = new();
    private readonly List<ActorSystem> _clients = new();
    private readonly TempFolder _downloads = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var c in _clients) await c.Terminate();
        foreach (var s in _servers) await s.DisposeAsync();
        _downloads.Dispose();
    }

    private static string Lossy(double loss, int seed, double duplicate = 0, double reorder = 0, double corrupt = 0) =>
        FormattableString.Invariant($"messenger.rudp.lossy {{ loss = {loss}, duplicate = {duplicate}, reorder = {reorder}, corrupt = {corrupt}, seed = {seed} }}");

    private async Task<TestServer> ServerAsync(string hocon = "")
    {
        var server = await TestServer.StartAsync(hocon);
        _servers.Add(server);
        return server;
    }

    private ActorSystem Client(string hocon = "")
    {
        var system = ActorSystem.Create("client", ClientConfig.Load(overrides: ConfigurationFactory.ParseString(hocon)));
        _clients.Add(system);
        return system;
    }

    private static string Sha(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private async Task<DownloadResult> DownloadAsync(TestServer server, ActorSystem client, string file, string user = "udp", string? into = null)
    {
        await using var chat = await server.LoginAsync(user);
        await chat.SendAsync(new GetCommand(file, TransferVia.Udp));
        var ticket = await chat.ExpectAsync<TicketFrame>();
        Assert.Equal(server.Server.UdpEndpoint.Port, ticket.Port);
        return await RudpDownload.RunAsync(client, IPAddress.Loopback, ticket, into ?? _downloads.Path).WaitAsync(TimeSpan.FromMinutes(2));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1471)]
    [InlineData(1452)]
    [InlineData(1472)]
    [InlineData(1473)]
    [InlineData(1024 * 1024)]
    public async Task Downloads_are_byte_exact_without_loss(int size)
    {
        var server = await ServerAsync();
        var source = server.Files.CreateRandomFile("f.bin", size, seed: size);
        var result = await DownloadAsync(server, Client(), "f.bin");
        Assert.True(result.Verified, result.Error);
        Assert.Equal(Sha(source), Sha(result.Path));
        Assert.Equal(size, new FileInfo(result.Path).Length);
    }

    [Fact]
    public async Task A_download_goes_to_the_address_the_control_connection_reached_not_to_its_host_name_resolved_again()
    {
        // A server on every address. The control connection reaches it over ::1, while "localhost"
        // resolves to 127.0.0.1 here: a SYN sent there would come from another address than the one
        // the ticket was issued to, and be refused as a bad ticket.
        var server = await ServerAsync("messenger { bind = \"::\", cluster.hostname = \"127.0.0.1\" }");
        var source = server.Files.CreateRandomFile("six.bin", 100_000, seed: 6);
        var client = Client();
        await using var control = await ControlChannel.ConnectAsync("::1", server.Server.ChatEndpoint.Port,
            ChatSessionSettings.FromConfig(client.Settings.Config), tls: null, CancellationToken.None);
        Assert.Equal(IPAddress.IPv6Loopback, control.Remote.Address);
        await control.SendAsync(new HelloCommand("six"));
        await control.ExpectAsync<WelcomeFrame>();
        await control.SendAsync(new GetCommand("six.bin", TransferVia.Udp));
        var ticket = await control.ExpectAsync<TicketFrame>();

        var result = await Download.RunAsync(client, "localhost", control.Remote.Address, ticket, _downloads.Path).WaitAsync(TimeSpan.FromMinutes(1));
        Assert.True(result.Verified, result.Error);
        Assert.Equal(Sha(source), Sha(result.Path));
    }

    [Theory]
    [InlineData(0.01, 11)]
    [InlineData(0.05, 12)]
    [InlineData(0.10, 13)]
    [InlineData(0.20, 14)]
    [InlineData(0.30, 15)]
    public async Task Downloads_survive_loss_in_both_directions(double loss, int seed)
    {
        // The client's lossy socket drops `loss` of the data arriving and of the acks leaving.
        var server = await ServerAsync();
        var source = server.Files.CreateRandomFile("lossy.bin", 2 * 1024 * 1024, seed: seed);
        var result = await DownloadAsync(server, Client(Lossy(loss, seed + 100)), "lossy.bin");
        Assert.True(result.Verified, result.Error);
        Assert.Equal(Sha(source), Sha(result.Path));
        Assert.True(result.Retransmits > 0, "loss should have forced retransmissions");
    }

    [Fact]
    public async Task Downloads_survive_loss_duplication_reordering_and_corruption_together()
    {
        // Both ends impaired: a lossy socket on the server's port and on the client's.
        var server = await ServerAsync(Lossy(0.05, 21, duplicate: 0.02, reorder: 0.05, corrupt: 0.01));
        var source = server.Files.CreateRandomFile("rough.bin", 2 * 1024 * 1024, seed: 21);
        var result = await DownloadAsync(server, Client(Lossy(0.05, 22, duplicate: 0.02, reorder: 0.05, corrupt: 0.01)), "rough.bin");
        Assert.True(result.Verified, result.Error);
        Assert.Equal(Sha(source), Sha(result.Path));
    }
}
