using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Messenger.Files;
using Messenger.Hosting;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.Files;

public sealed class TicketOfficeSpec : TestKit, IDisposable
{
    private const int MaxPerConnection = 3;
    private static readonly IPAddress Client = IPAddress.Loopback;
    private static readonly IPAddress Elsewhere = IPAddress.Parse("127.0.0.2");
    private readonly TempFolder _folder = new();
    private readonly IActorRef _catalog;
    private IActorRef _office;

    public TicketOfficeSpec()
    {
        File.WriteAllText(_folder.File("a.txt"), "abc");
        var settings = CatalogSettings.FromConfig(ServerConfig.Load(overrides: ConfigurationFactory.ParseString("")).GetConfig("messenger.files"));
        _catalog = Sys.ActorOf(FileCatalog.Props(_folder.Path, settings));
        AwaitAssert(() =>
        {
            _catalog.Tell(new LookupFile("a.txt"));
            ExpectMsg<CatalogEntry>();
        }, TimeSpan.FromSeconds(10));
        _office = Office(TimeSpan.FromMinutes(1));
    }

    private IActorRef Office(TimeSpan ticketLifetime)
    {
        var office = Sys.ActorOf(TicketOffice.Props(_catalog, ticketLifetime, MaxPerConnection));
        office.Tell(new FilePortsBound(7401, 7402));
        return office;
    }

    private TicketFrame Issue(TransferVia via, TestProbe? connection = null)
    {
        var asker = connection ?? CreateTestProbe();
        _office.Tell(new IssueTicket("a.txt", via, Client), asker.Ref);
        return asker.ExpectMsg<TicketFrame>(TimeSpan.FromSeconds(10));
    }

    private string Redeem(string ticket, TransferVia via = TransferVia.Tcp, IPAddress? from = null, long offset = 0)
    {
        _office.Tell(new RedeemTicket(ticket, via, from ?? Client, offset));
        return ExpectMsg<object>(TimeSpan.FromSeconds(10)) switch
        {
            TicketRedeemed => "redeemed",
            ErrorFrame e => e.Code,
            var other => other.ToString()!,
        };
    }

    [Fact]
    public void Office_must_issue_128_bit_lowercase_hex_tickets_with_the_port_of_the_transport()
    {
        var tcp = Issue(TransferVia.Tcp);
        var udp = Issue(TransferVia.Udp);
        Assert.Matches("^[0-9a-f]{32}$", tcp.Ticket);
        Assert.NotEqual(tcp.Ticket, udp.Ticket);
        Assert.Equal((7401, 7402), (tcp.Port, udp.Port));
        Assert.Equal(3, tcp.Size);
        Assert.Matches("^[0-9a-f]{64}$", tcp.Sha256);
    }

    [Fact]
    public void Office_must_redeem_a_ticket_once_and_only_for_its_transport()
    {
        var ticket = Issue(TransferVia.Tcp);
        Assert.Equal(ErrorCodes.BadTicket, Redeem(ticket.Ticket, TransferVia.Udp));
        _office.Tell(new RedeemTicket(ticket.Ticket, TransferVia.Tcp, Client, 1));
        var redeemed = ExpectMsg<TicketRedeemed>();
        Assert.Equal(("a.txt", 1L), (redeemed.File.Name, redeemed.Offset));
        Assert.Equal(ErrorCodes.BadTicket, Redeem(ticket.Ticket));
    }

    [Fact]
    public void Office_must_refuse_a_bad_offset_and_keep_the_ticket_good()
    {
        var ticket = Issue(TransferVia.Tcp);
        Assert.Equal(ErrorCodes.BadOffset, Redeem(ticket.Ticket, offset: 4));
        Assert.Equal(ErrorCodes.BadOffset, Redeem(ticket.Ticket, offset: -1));
        Assert.Equal("redeemed", Redeem(ticket.Ticket, offset: 3));
    }

    [Fact]
    public void Office_must_refuse_a_ticket_presented_from_another_address_and_keep_it_for_its_own()
    {
        var tcp = Issue(TransferVia.Tcp);
        var udp = Issue(TransferVia.Udp);
        Assert.Equal(ErrorCodes.BadTicket, Redeem(tcp.Ticket, from: Elsewhere));
        Assert.Equal(ErrorCodes.BadTicket, Redeem(udp.Ticket, TransferVia.Udp, from: IPAddress.IPv6Loopback));
        Assert.Equal("redeemed", Redeem(tcp.Ticket, from: Client.MapToIPv6())); // the same client through a dual-stack socket
        Assert.Equal("redeemed", Redeem(udp.Ticket, TransferVia.Udp));
    }

    [Fact]
    public void Office_must_cap_the_unused_tickets_of_one_connection()
    {
        var greedy = CreateTestProbe();
        var tickets = Enumerable.Range(0, MaxPerConnection).Select(_ => Issue(TransferVia.Tcp, greedy)).ToList();
        _office.Tell(new IssueTicket("a.txt", TransferVia.Tcp, Client), greedy.Ref);
        var refused = greedy.ExpectMsg<ErrorFrame>();
        Assert.Equal(ErrorCodes.TooManyTickets, refused.Code);
        Assert.Contains($"{MaxPerConnection}", refused.Message);

        Issue(TransferVia.Tcp); // another connection is not affected
        Assert.Equal("redeemed", Redeem(tickets[0].Ticket)); // a used ticket frees a place
        Issue(TransferVia.Tcp, greedy);
    }

    [Fact]
    public void Office_must_drop_the_unused_tickets_of_a_connection_that_dies()
    {
        var connection = CreateTestProbe();
        var ticket = Issue(TransferVia.Tcp, connection);
        var survivor = Issue(TransferVia.Tcp);
        Sys.Stop(connection.Ref);
        // An offset past the end answers bad_offset while the ticket lives, without using it up.
        AwaitAssert(() => Assert.Equal(ErrorCodes.BadTicket, Redeem(ticket.Ticket, offset: 99)), TimeSpan.FromSeconds(5));
        Assert.Equal("redeemed", Redeem(survivor.Ticket));
    }

    [Fact]
    public void Office_must_expire_unused_tickets()
    {
        _office = Office(TimeSpan.FromMilliseconds(300));
        var ticket = Issue(TransferVia.Tcp);
        ExpectNoMsg(TimeSpan.FromMilliseconds(500)); // past the 300 ms lifetime
        Assert.Equal(ErrorCodes.BadTicket, Redeem(ticket.Ticket));
    }

    [Fact]
    public void Office_must_answer_no_such_file_for_unknown_files()
    {
        _office.Tell(new IssueTicket("nope.txt", TransferVia.Tcp, Client));
        Assert.Equal(ErrorCodes.NoSuchFile, ExpectMsg<ErrorFrame>(TimeSpan.FromSeconds(10)).Code);
    }

    void IDisposable.Dispose()
    {
        _folder.Dispose();
        base.Dispose();
    }
}
