using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using Messenger.Protocol;

namespace Messenger.Files;

/// <summary>A chat client asks for a download ticket; the reply is a <see cref="TicketFrame"/> or an <see cref="ErrorFrame"/>.</summary>
public sealed record IssueTicket(string File, TransferVia Via);
/// <summary>A file channel (TCP or UDP) presents a ticket; the reply is <see cref="TicketRedeemed"/> or an <see cref="ErrorFrame"/>.</summary>
public sealed record RedeemTicket(string Ticket, TransferVia Via, long Offset = 0);
public sealed record TicketRedeemed(CatalogEntry File, long Offset);
/// <summary>Where the file channels listen, told once they are bound (tickets carry the port).</summary>
public sealed record FilePortsBound(int TcpPort, int UdpPort);

/// <summary>
/// Issues and redeems download tickets: 128 random bits from a cryptographic generator, good
/// for one download of one file over one transport, expiring when unused for the configured
/// lifetime. The catalog is asked for the file on issue; the ticket remembers the entry (and
/// so the exact size and hash the client was promised).
/// </summary>
public sealed class TicketOffice : ReceiveActor, IWithTimers
{
    private sealed record Ticket(string Id, CatalogEntry File, TransferVia Via);
    private sealed record Expire(string Id);
    private sealed record LookedUp(object Answer, IssueTicket Request, IActorRef ReplyTo);

    private readonly IActorRef _catalog;
    private readonly TimeSpan _lifetime;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, Ticket> _tickets = new(StringComparer.Ordinal);
    private FilePortsBound _ports = new(0, 0);

    public TicketOffice(IActorRef catalog, TimeSpan lifetime)
    {
        _catalog = catalog;
        _lifetime = lifetime;
        Receive<FilePortsBound>(p => _ports = p);
        Receive<ListFiles>(m => _catalog.Forward(m));
        Receive<IssueTicket>(request =>
        {
            var replyTo = Sender;
            _catalog.Ask(new LookupFile(request.File), TimeSpan.FromMinutes(5))
                .PipeTo(Self, success: answer => new LookedUp(answer, request, replyTo),
                    failure: _ => new LookedUp(new ErrorFrame(ErrorCodes.NoSuchFile, "the file catalog did not answer"), request, replyTo));
        });
        Receive<LookedUp>(OnLookedUp);
        Receive<RedeemTicket>(OnRedeem);
        Receive<Expire>(e => _tickets.Remove(e.Id));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef catalog, TimeSpan lifetime) =>
        Akka.Actor.Props.Create(() => new TicketOffice(catalog, lifetime));

    private void OnLookedUp(LookedUp m)
    {
        if (m.Answer is not CatalogEntry entry)
        {
            m.ReplyTo.Tell(m.Answer);
            return;
        }
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        _tickets[id] = new Ticket(id, entry, m.Request.Via);
        Timers.StartSingleTimer(id, new Expire(id), _lifetime);
        int port = m.Request.Via == TransferVia.Udp ? _ports.UdpPort : _ports.TcpPort;
        m.ReplyTo.Tell(new TicketFrame(entry.Name, m.Request.Via, id, entry.Size, entry.Sha256, port));
    }

    private void OnRedeem(RedeemTicket m)
    {
        if (!_tickets.TryGetValue(m.Ticket, out var ticket) || ticket.Via != m.Via)
        {
            Sender.Tell(new ErrorFrame(ErrorCodes.BadTicket, "unknown, used or expired ticket; ask for a new one with \"get\""));
            return;
        }
        if (m.Offset < 0 || m.Offset > ticket.File.Size)
        {
            // The ticket stays good: the client may retry with a sensible offset.
            Sender.Tell(new ErrorFrame(ErrorCodes.BadOffset, $"offset must be between 0 and {ticket.File.Size}"));
            return;
        }
        _tickets.Remove(m.Ticket);
        Timers.Cancel(m.Ticket);
        Sender.Tell(new TicketRedeemed(ticket.File, m.Offset));
    }
}
