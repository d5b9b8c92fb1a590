using Akka.Actor;
using Akka.TestKit.Xunit2;
using Messenger.Files;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.Files;

public sealed class TicketOfficeSpec : TestKit, IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly IActorRef _office;

    public TicketOfficeSpec()
    {
        File.WriteAllText(_folder.File("a.txt"), "abc");
        var catalog = Sys.ActorOf(FileCatalog.Props(_folder.Path));
        _office = Sys.ActorOf(TicketOffice.Props(catalog, TimeSpan.FromMilliseconds(300)));
        _office.Tell(new FilePortsBound(7401, 7402));
    }

    private TicketFrame Issue(TransferVia via)
    {
        _office.Tell(new IssueTicket("a.txt", via));
        return ExpectMsg<TicketFrame>(TimeSpan.FromSeconds(10));
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
        _office.Tell(new RedeemTicket(ticket.Ticket, TransferVia.Udp));
        Assert.Equal(ErrorCodes.BadTicket, ExpectMsg<ErrorFrame>().Code);
        _office.Tell(new RedeemTicket(ticket.Ticket, TransferVia.Tcp, 1));
        var redeemed = ExpectMsg<TicketRedeemed>();
        Assert.Equal(("a.txt", 1L), (redeemed.File.Name, redeemed.Offset));
        _office.Tell(new RedeemTicket(ticket.Ticket, TransferVia.Tcp));
        Assert.Equal(ErrorCodes.BadTicket, ExpectMsg<ErrorFrame>().Code);
    }

    [Fact]
    public void Office_must_refuse_a_bad_offset_and_keep_the_ticket_good()
    {
        var ticket = Issue(TransferVia.Tcp);
        _office.Tell(new RedeemTicket(ticket.Ticket, TransferVia.Tcp, 4));
        Assert.Equal(ErrorCodes.BadOffset, ExpectMsg<ErrorFrame>().Code);
        _office.Tell(new RedeemTicket(ticket.Ticket, TransferVia.Tcp, -1));
        Assert.Equal(ErrorCodes.BadOffset, ExpectMsg<ErrorFrame>().Code);
        _office.Tell(new RedeemTicket(ticket.Ticket, TransferVia.Tcp, 3));
        ExpectMsg<TicketRedeemed>();
    }

    [Fact]
    public void Office_must_expire_unused_tickets()
    {
        var ticket = Issue(TransferVia.Tcp);
        ExpectNoMsg(TimeSpan.FromMilliseconds(500)); // past the 300 ms lifetime
        _office.Tell(new RedeemTicket(ticket.Ticket, TransferVia.Tcp));
        Assert.Equal(ErrorCodes.BadTicket, ExpectMsg<ErrorFrame>().Code);
    }

    [Fact]
    public void Office_must_answer_no_such_file_for_unknown_files()
    {
        _office.Tell(new IssueTicket("nope.txt", TransferVia.Tcp));
        Assert.Equal(ErrorCodes.NoSuchFile, ExpectMsg<ErrorFrame>(TimeSpan.FromSeconds(10)).Code);
    }

    void IDisposable.Dispose()
    {
        _folder.Dispose();
        base.Dispose();
    }
}
