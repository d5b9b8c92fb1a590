using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Messenger.Client;
using Messenger.Hosting;
using Messenger.Protocol;
using Messenger.Rudp;
using Messenger.Tests.Support;

namespace Messenger.Tests.EndToEnd;

/// <summary>The UDP port under abuse, big files and crowds, through the real server on loopback.</summary>
public class RudpServerRobustnessTests : IAsyncLifetime
{
    private TestServer _server = null!;
    private ActorSystem _client = null!;
    private readonly TempFolder _downloads = new();
    /// <summary>The chat connections that asked for tickets: a ticket lives only as long as its connection.</summary>
    private readonly List<ChatTestClient> _chats = new();

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync("messenger.rudp { idle-timeout = 2s, max-half-open = 3 }");
        _client = ActorSystem.Create("client", ClientConfig.Load());
    }

    public async Task DisposeAsync()
    {
        await _client.Terminate();
        foreach (var chat in _chats) await chat.DisposeAsync();
        await _server.DisposeAsync();
        _downloads.Dispose();
    }

    private IPEndPoint UdpPort => _server.Server.UdpEndpoint;

    private async Task<TicketFrame> TicketAsync(string file, string user)
    {
        var chat = await _server.LoginAsync(user);
        _chats.Add(chat);
        await chat.SendAsync(new GetCommand(file, TransferVia.Udp));
        return await chat.ExpectIgnoringPresenceAsync<TicketFrame>();
    }

    private static byte[] Syn(string ticketHex)
    {
        var syn = new byte[RudpConstants.SynSize];
        RudpCodec.WriteSyn(syn, Convert.FromHexString(ticketHex), 64);
        return syn;
    }

    private static async Task<(RudpHeader Header, byte[] Data)> ReceiveAsync(UdpClient udp)
    {
        var result = await udp.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(RudpCodec.TryRead(result.Buffer, out var header, out var error), error);
        return (header, result.Buffer);
    }

    /// <summary>The server's one live transfer actor.</summary>
    private async Task<IActorRef> TransferActorAsync() =>
        await _server.Server.System.ActorSelection("/user/file-udp/transfer-*").ResolveOne(TimeSpan.FromSeconds(5));

    [Fact]
    public async Task Forged_tickets_and_random_datagrams_are_refused_and_the_server_keeps_serving()
    {
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));

        // A SYN with a ticket nobody issued: an RST saying so, never larger than the SYN.
        await udp.SendAsync(Syn("00112233445566778899aabbccddeeff"), UdpPort);
        var (header, data) = await ReceiveAsync(udp);
        Assert.Equal(RudpPacketKind.Rst, header.Kind);
        Assert.Equal(RstReason.BadTicket, RudpCodec.ReadRst(data));
        Assert.True(data.Length <= RudpConstants.SynSize);

        // Random datagrams of every size: dropped (bad CRC), no answer, nothing breaks.
        var random = new Random(99);
        for (int i = 0; i < 2000; i++)
        {
            var junk = new byte[random.Next(0, 1600)];
            random.NextBytes(junk);
            await udp.SendAsync(junk, UdpPort);
        }
        // A FIN for a connection that does not exist is smaller than an RST: no answer at all.
        // An ACK for one is answered with an RST, unknown connection (and the FIN's RST would have come first).
        var fin = new byte[RudpConstants.FinSize];
        RudpCodec.WriteFin(fin, 0xDEADBEEF);
        await udp.SendAsync(fin, UdpPort);
        var ack = new byte[RudpConstants.AckFixedSize];
        RudpCodec.WriteAck(ack, 0xFEEDF00D, 0, 1, 0, 0, false, []);
        await udp.SendAsync(ack, UdpPort);
        (header, data) = await ReceiveAsync(udp);
        Assert.Equal(0xFEEDF00Du, header.ConnectionId);
        Assert.Equal(RstReason.UnknownConnection, RudpCodec.ReadRst(data));

        _server.Files.CreateRandomFile("after.bin", 500_000, seed: 4);
        var result = await RudpDownload.RunAsync(_client, IPAddress.Loopback, await TicketAsync("after.bin", "after"), _downloads.Path)
            .WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(result.Verified, result.Error);
    }

    [Fact]
    public async Task A_flood_of_malformed_datagrams_is_logged_as_one_count_per_interval()
    {
        await using var server = await TestServer.StartAsync("akka.loglevel = INFO\nmessenger.rudp.log-interval = 1h");
        var logged = Inbox.Create(server.Server.System);
        server.Server.System.EventStream.Subscribe(logged.Receiver, typeof(Info));
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var random = new Random(7);
        for (int i = 0; i < 3000; i++)
        {
            var junk = new byte[random.Next(1, 200)];
            random.NextBytes(junk);
            await udp.SendAsync(junk, server.Server.UdpEndpoint);
        }
        // Answered after every datagram before it: their log lines, if any, are out by then.
        await udp.SendAsync(Syn("00112233445566778899aabbccddeeff"), server.Server.UdpEndpoint);
        Assert.Equal(RstReason.BadTicket, RudpCodec.ReadRst((await ReceiveAsync(udp)).Data));

        int lines = 0;
        while (true)
        {
            try { if (logged.Receive(TimeSpan.FromMilliseconds(200)) is Info info && info.Message.ToString()!.Contains("dropped a datagram")) lines++; }
            catch (Exception e) when (e is TimeoutException or AggregateException { InnerException: TimeoutException }) { break; } // none left
        }
        Assert.Equal(1, lines);
    }

    [Fact]
    public async Task A_used_ticket_is_refused_on_reuse()
    {
        _server.Files.CreateRandomFile("once.bin", 10_000, seed: 5);
        var ticket = await TicketAsync("once.bin", "once");
        Assert.True((await RudpDownload.RunAsync(_client, IPAddress.Loopback, ticket, _downloads.Path)).Verified);
        var reuse = await Assert.ThrowsAsync<DownloadFailedException>(() =>
            RudpDownload.RunAsync(_client, IPAddress.Loopback, ticket, Path.Combine(_downloads.Path, "again")).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(ErrorCodes.BadTicket, reuse.Code);
    }

    [Fact]
    public async Task Half_open_handshakes_are_bounded_answered_once_per_syn_and_forgotten_silently()
    {
        _server.Files.CreateRandomFile("h.bin", 100_000, seed: 6);
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        // Three valid SYNs never completed fill the server's allowance (max-half-open = 3),
        // each answered by exactly one SYN-ACK, smaller than the SYN ...
        for (int i = 0; i < 3; i++)
        {
            await udp.SendAsync(Syn((await TicketAsync("h.bin", $"h{i}")).Ticket), UdpPort);
            var (synAck, synAckData) = await ReceiveAsync(udp);
            Assert.Equal(RudpPacketKind.SynAck, synAck.Kind);
            Assert.True(synAckData.Length < RudpConstants.SynSize);
        }
        // ... so a fourth is refused, politely and small, before its ticket is spent.
        var fourth = (await TicketAsync("h.bin", "h3")).Ticket;
        await udp.SendAsync(Syn(fourth), UdpPort);
        var (header, data) = await ReceiveAsync(udp);
        Assert.Equal(RudpPacketKind.Rst, header.Kind);
        Assert.Equal(RstReason.Busy, RudpCodec.ReadRst(data));

        // The server never repeats a SYN-ACK by itself, and forgets the half-open handshakes after
        // the idle timeout (2 s here) without a word: nothing more arrives.
        var pending = udp.ReceiveAsync();
        await Assert.ThrowsAsync<TimeoutException>(() => pending.WaitAsync(TimeSpan.FromSeconds(3)));
        // Their places are free again: the fourth ticket, still good, is taken now.
        await udp.SendAsync(Syn(fourth), UdpPort);
        var answer = await pending.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(RudpCodec.TryRead(answer.Buffer, out header, out _));
        Assert.Equal(RudpPacketKind.SynAck, header.Kind);
    }

    [Fact]
    public async Task A_file_changed_or_removed_after_its_ticket_gets_one_rst_reason_5_instead_of_a_syn_ack()
    {
        var changed = _server.Files.CreateRandomFile("changed.bin", 100_000, seed: 12);
        var removed = _server.Files.CreateRandomFile("removed.bin", 100_000, seed: 13);
        var changedTicket = await TicketAsync("changed.bin", "changed");
        var removedTicket = await TicketAsync("removed.bin", "removed");
        // Rewritten in place at the same size (what a hash of the whole file would find only at the end) ...
        File.WriteAllBytes(changed, new byte[100_000]);
        File.SetLastWriteTimeUtc(changed, File.GetLastWriteTimeUtc(changed).AddMinutes(1));
        // ... and deleted.
        File.Delete(removed);
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));

        await udp.SendAsync(Syn(changedTicket.Ticket), UdpPort);
        var (first, firstData) = await ReceiveAsync(udp);
        Assert.Equal(RudpPacketKind.Rst, first.Kind);
        Assert.Equal(RstReason.InternalError, RudpCodec.ReadRst(firstData));

        // The next datagram is the answer to the next SYN: the first transfer said its one word and stopped.
        await udp.SendAsync(Syn(removedTicket.Ticket), UdpPort);
        var (second, secondData) = await ReceiveAsync(udp);
        Assert.Equal(RudpPacketKind.Rst, second.Kind);
        Assert.Equal(RstReason.InternalError, RudpCodec.ReadRst(secondData));
        Assert.NotEqual(first.ConnectionId, second.ConnectionId);
    }

    [Fact]
    public async Task Transfers_are_capped_per_client_address_and_in_total()
    {
        await using var server = await TestServer.StartAsync("messenger.rudp { max-transfers-per-address = 2, max-transfers = 3, max-half-open = 3 }");
        server.Files.CreateRandomFile("c.bin", 100_000, seed: 10);
        var port = server.Server.UdpEndpoint;
        int user = 0;
        async Task<RudpHeader> SynFrom(UdpClient udp)
        {
            // A ticket is good only from the address that asked for it: the chat comes from the UDP socket's.
            await using var chat = await ChatTestClient.LoginAsync(server.Server.ChatEndpoint, $"c{user++}",
                ((IPEndPoint)udp.Client.LocalEndPoint!).Address);
            await chat.SendAsync(new GetCommand("c.bin", TransferVia.Udp));
            var ticket = await chat.ExpectIgnoringPresenceAsync<TicketFrame>();
            await udp.SendAsync(Syn(ticket.Ticket), port);
            var (header, data) = await ReceiveAsync(udp);
            if (header.Kind == RudpPacketKind.Rst) Assert.Equal(RstReason.Busy, RudpCodec.ReadRst(data));
            return header;
        }
        using var a = new UdpClient(new IPEndPoint(IPAddress.Parse("127.0.0.1"), 0));
        using var b = new UdpClient(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
        using var c = new UdpClient(new IPEndPoint(IPAddress.Parse("127.0.0.3"), 0));
        Assert.Equal(RudpPacketKind.SynAck, (await SynFrom(a)).Kind);
        Assert.Equal(RudpPacketKind.SynAck, (await SynFrom(a)).Kind);
        Assert.Equal(RudpPacketKind.Rst, (await SynFrom(a)).Kind);     // a third from 127.0.0.1
        Assert.Equal(RudpPacketKind.SynAck, (await SynFrom(b)).Kind);  // another address is still welcome
        Assert.Equal(RudpPacketKind.Rst, (await SynFrom(c)).Kind);     // but not past three in total
    }

    [Fact]
    public async Task A_file_truncated_on_the_server_mid_transfer_fails_the_download_once_and_clearly()
    {
        var path = _server.Files.CreateRandomFile("shrinks.bin", 16 * 1024 * 1024, seed: 11);
        // A slow client (a 64-segment window over a 5 ms delay: about 9 MB/s), so the file shrinks mid-way.
        var slow = ActorSystem.Create("slow", ClientConfig.Load(overrides: ConfigurationFactory.ParseString(
            "messenger.rudp { receive-capacity = 64, lossy.delay = 5ms }")));
        try
        {
            var truncated = new TaskCompletionSource();
            var download = RudpDownload.RunAsync(slow, IPAddress.Loopback, await TicketAsync("shrinks.bin", "shrinks"), _downloads.Path,
                new Progress<DownloadProgress>(p =>
                {
                    if (p.BytesDone == 0 || truncated.Task.IsCompleted) return;
                    using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
                        stream.SetLength(0);
                    truncated.TrySetResult();
                }));
            var failure = await Assert.ThrowsAsync<DownloadFailedException>(() => download.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.True(truncated.Task.IsCompleted);
            Assert.Contains("could not read the file", failure.Message);
            Assert.False(File.Exists(PartFile.PathFor(Path.Combine(_downloads.Path, "shrinks.bin"))));
        }
        finally
        {
            await slow.Terminate();
        }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task A_client_killed_mid_transfer_leaves_the_server_sender_stopping_by_itself()
    {
        _server.Files.CreateRandomFile("big.bin", 67_737_600, seed: 7);
        var ticket = await TicketAsync("big.bin", "doomed");
        // A slow client (about 9 MB/s, as above): at full speed the whole file could arrive before the kill.
        var doomedClient = ActorSystem.Create("doomed", ClientConfig.Load(overrides: ConfigurationFactory.ParseString(
            "messenger.rudp { receive-capacity = 64, lossy.delay = 5ms }")));
        var progressed = new TaskCompletionSource();
        var download = RudpDownload.RunAsync(doomedClient, IPAddress.Loopback, ticket, _downloads.Path,
            new Progress<DownloadProgress>(p => { if (p.BytesDone > 1_000_000) progressed.TrySetResult(); }));
        await progressed.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var transfer = await TransferActorAsync();
        var inbox = Inbox.Create(_server.Server.System);
        inbox.Watch(transfer);

        await doomedClient.Terminate(); // the client dies without a word
        await Assert.ThrowsAnyAsync<Exception>(() => download.WaitAsync(TimeSpan.FromSeconds(10)));

        // The idle timeout here is 2 s: the sender gives up and stops by itself.
        var terminated = Assert.IsType<Terminated>(await inbox.ReceiveAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal(transfer, terminated.ActorRef);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task The_seeds_largest_file_arrives_byte_exact()
    {
        var source = _server.Files.CreateRandomFile("large.bin", 67_737_600, seed: 8);
        var result = await RudpDownload.RunAsync(_client, IPAddress.Loopback, await TicketAsync("large.bin", "large"), _downloads.Path)
            .WaitAsync(TimeSpan.FromMinutes(2));
        Assert.True(result.Verified, result.Error);
        Assert.Equal(67_737_600, new FileInfo(result.Path).Length);
    }
}

/// <summary>Eight transfers at once through lossy sockets on both sides.</summary>
public class RudpConcurrencyTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public async Task Eight_transfers_at_once_under_5_percent_loss_are_all_byte_exact()
    {
        const string lossy = "messenger.rudp.lossy { loss = 0.05, seed = 31 }";
        await using var server = await TestServer.StartAsync(lossy);
        var source = server.Files.CreateRandomFile("shared.bin", 4 * 1024 * 1024, seed: 31);
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(source)));
        var client = ActorSystem.Create("crowd", ClientConfig.Load(overrides: ConfigurationFactory.ParseString(lossy.Replace("31", "32"))));
        using var downloads = new TempFolder();
        var chats = new List<ChatTestClient>();
        try
        {
            var tickets = new List<TicketFrame>();
            for (int i = 0; i < 8; i++)
            {
                var chat = await server.LoginAsync($"u{i}"); // kept open: its ticket lives as long as it does
                chats.Add(chat);
                await chat.SendAsync(new GetCommand("shared.bin", TransferVia.Udp));
                tickets.Add(await chat.ExpectIgnoringPresenceAsync<TicketFrame>());
            }
            var results = await Task.WhenAll(tickets.Select((t, i) =>
                RudpDownload.RunAsync(client, IPAddress.Loopback, t, Path.Combine(downloads.Path, $"d{i}"))))
                .WaitAsync(TimeSpan.FromMinutes(2));
            Assert.All(results, r =>
            {
                Assert.True(r.Verified, r.Error);
                Assert.Equal(expected, r.Sha256);
            });
        }
        finally
        {
            await client.Terminate();
            foreach (var chat in chats) await chat.DisposeAsync();
        }
    }
}
