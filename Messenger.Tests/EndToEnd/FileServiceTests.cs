using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Messenger.Protocol;
using Messenger.Rudp;
using Messenger.Tests.Support;

namespace Messenger.Tests.EndToEnd;

/// <summary>The file listing and tickets as a client sees them on the wire, through the real server on loopback.</summary>
public class FileServiceTests : IAsyncLifetime
{
    /// <summary>Another loopback address: a different client as far as the server can tell.</summary>
    private static readonly IPAddress Elsewhere = IPAddress.Parse("127.0.0.2");

    private TestServer _server = null!;
    private ChatTestClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync("""
            messenger.files { page-size = 2, max-page-size = 3, max-tickets-per-connection = 2 }
            """);
        _client = await _server.LoginAsync("alice");
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _server.DisposeAsync();
    }

    private async Task<TicketFrame> TicketAsync(string file, TransferVia via = TransferVia.Tcp, ChatTestClient? client = null)
    {
        client ??= _client;
        await client.SendAsync(new GetCommand(file, via));
        return await client.ExpectIgnoringPresenceAsync<TicketFrame>();
    }

    /// <summary>Presents a ticket line on the TCP file channel from <paramref name="from"/>; returns the first line answered.</summary>
    private async Task<string> PresentAsync(string ticket, IPAddress? from = null, long offset = 0)
    {
        using var tcp = new TcpClient(new IPEndPoint(from ?? IPAddress.Loopback, 0));
        await tcp.ConnectAsync(_server.Server.FileEndpoint);
        var stream = tcp.GetStream();
        await stream.WriteAsync(ChatCodec.EncodeTicketRequest(new TicketRequest(ticket, offset)));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)) ?? "";
    }

    private static JsonElement Json(string line) => JsonDocument.Parse(line).RootElement;

    [Fact]
    public async Task A_fifo_in_the_folder_never_stalls_files_or_get()
    {
        if (!OperatingSystem.IsLinux()) return; // mkfifo
        SpecialFiles.MakeFifo(_server.Files.File("pipe"));
        _server.Files.CreateRandomFile("a.bin", 1000);

        await _client.SendAsync(FilesCommand.Instance);
        Assert.Equal(["a.bin"], (await _client.ExpectAsync<FilesFrame>()).Files.Select(f => f.Name));
        await _client.SendAsync(new GetCommand("pipe", TransferVia.Tcp));
        await _client.ExpectErrorAsync(ErrorCodes.NoSuchFile);
        await _client.SendAsync(new GetCommand("pipe", TransferVia.Udp));
        await _client.ExpectErrorAsync(ErrorCodes.NoSuchFile);

        // Later requests keep working, from this client and from others.
        Assert.StartsWith("{\"type\":\"file\"", await PresentAsync((await TicketAsync("a.bin")).Ticket));
        await using var bob = await _server.LoginAsync("bob");
        await bob.SendAsync(FilesCommand.Instance);
        Assert.Single((await bob.ExpectIgnoringPresenceAsync<FilesFrame>()).Files);
    }

    [Fact]
    public async Task Files_answers_are_paged_and_a_plain_request_gets_the_first_page()
    {
        foreach (var name in new[] { "a", "b", "c", "d", "e" }) _server.Files.CreateRandomFile(name, 10);

        await _client.SendLineAsync("{\"type\":\"files\"}");
        var first = Json((await _client.ReadLineAsync())!);
        Assert.Equal("files", first.GetProperty("type").GetString());
        Assert.Equal(["a", "b"], first.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("name").GetString()));
        Assert.Equal((0, 5, 2), (first.GetProperty("offset").GetInt32(), first.GetProperty("total").GetInt32(), first.GetProperty("next").GetInt32()));

        await _client.SendLineAsync("{\"type\":\"files\",\"offset\":2,\"limit\":1000}"); // capped at max-page-size
        var second = Json((await _client.ReadLineAsync())!);
        Assert.Equal(["c", "d", "e"], second.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("name").GetString()));
        Assert.False(second.TryGetProperty("next", out _)); // the last page

        await _client.SendLineAsync("{\"type\":\"files\",\"limit\":0}");
        await _client.ExpectErrorAsync(ErrorCodes.BadRequest);
    }

    [Fact]
    public async Task A_ticket_presented_from_another_address_is_refused_on_both_file_channels()
    {
        _server.Files.CreateRandomFile("a.bin", 1000);
        var tcp = await TicketAsync("a.bin");
        Assert.Contains("\"bad_ticket\"", await PresentAsync(tcp.Ticket, Elsewhere));
        Assert.StartsWith("{\"type\":\"file\"", await PresentAsync(tcp.Ticket)); // still good from the client's own address

        var udp = await TicketAsync("a.bin", TransferVia.Udp);
        using var stranger = new UdpClient(new IPEndPoint(Elsewhere, 0));
        var syn = new byte[RudpConstants.SynSize];
        RudpCodec.WriteSyn(syn, Convert.FromHexString(udp.Ticket), 64);
        await stranger.SendAsync(syn, _server.Server.UdpEndpoint);
        var answer = await stranger.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(RudpCodec.TryRead(answer.Buffer, out var header, out _));
        Assert.Equal((RudpPacketKind.Rst, RstReason.BadTicket), (header.Kind, RudpCodec.ReadRst(answer.Buffer)));
    }

    [Fact]
    public async Task A_connection_holds_a_bounded_number_of_unused_tickets()
    {
        _server.Files.CreateRandomFile("a.bin", 1000);
        var first = await TicketAsync("a.bin");
        await TicketAsync("a.bin", TransferVia.Udp);
        await _client.SendAsync(new GetCommand("a.bin", TransferVia.Tcp));
        await _client.ExpectErrorAsync(ErrorCodes.TooManyTickets);

        await using var bob = await _server.LoginAsync("bob");
        await TicketAsync("a.bin", client: bob); // others are not affected

        Assert.StartsWith("{\"type\":\"file\"", await PresentAsync(first.Ticket)); // using one frees a place
        await TicketAsync("a.bin");
    }

    [Fact]
    public async Task Unused_tickets_die_with_the_connection_that_asked_for_them()
    {
        _server.Files.CreateRandomFile("a.bin", 1000);
        await using var bob = await _server.LoginAsync("bob");
        var ticket = await TicketAsync("a.bin", client: bob);
        await bob.SendAsync(ByeCommand.Instance);
        await bob.ReadUntilClosedAsync();

        // An offset past the end is refused as bad_offset while the ticket lives, without using it up.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        string answer;
        while ((answer = await PresentAsync(ticket.Ticket, offset: 1001)).Contains("\"bad_offset\"") && DateTime.UtcNow < deadline) { }
        Assert.Contains("\"bad_ticket\"", answer);
    }
}
