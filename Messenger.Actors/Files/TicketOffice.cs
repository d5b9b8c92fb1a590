using System.Net;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using Messenger.Protocol;

namespace Messenger.Files;

/// <summary>
/// A chat connection (the sender) asks for a download ticket for a client at <paramref name="From"/>;
/// the reply is a <see cref="TicketFrame"/> or an <see cref="ErrorFrame"/>.
/// </summary>
public sealed record IssueTicket(string File, TransferVia Via, IPAddress From);
/// <summary>
/// A file channel (TCP or UDP) presents a ticket for a client at <paramref name="From"/>; the reply is
/// <see cref="TicketRedeemed"/> or an <see cref="ErrorFrame"/>.
/// </summary>
public sealed record RedeemTicket(string Ticket, TransferVia Via, IPAddress From, long Offset = 0);
public sealed record TicketRedeemed(CatalogEntry File, long Offset);
/// <summary>Where the file channels listen, told once they are bound (tickets carry the port).</summary>
public sealed record FilePortsBound(int TcpPort, int UdpPort);

/// <summary>
/// Issues and redeems download tickets: 128 random bits from a cryptographic generator, good
/// for one download of one file over one transport, from the address of the connection that
/// asked, while that connection lives, and until unused for the configured lifetime. A
/// connection holds at most a configured number of unused tickets. The catalog is asked for
/// the file on issue; the ticket remembers the entry (and so the exact size and hash the client
/// was promised).
/// </summary>
public sealed class TicketOffice : ReceiveActor, IWithTimers
{
    private sealed record Ticket(string Id, CatalogEntry File, TransferVia Via, IActorRef Owner, IPAddress From);
    private sealed record Expire(string Id);
    private sealed record LookedUp(object Answer, IssueTicket Request, IActorRef Owner);

    /// <summary>What one connection holds: its unused tickets and the requests still at the catalog.</summary>
    private sealed class Holdings
    {
        public readonly HashSet<string> Tickets = new(StringComparer.Ordinal);
        public int Pending;
        public int Count => Tickets.Count + Pending;
    }

    private readonly IActorRef _catalog;
    private readonly TimeSpan _lifetime;
    private readonly int _maxPerConnection;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, Ticket> _tickets = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, Holdings> _owners = new();
    private FilePortsBound _ports = new(0, 0);

    public TicketOffice(IActorRef catalog, TimeSpan lifetime, int maxPerConnection)
    {
        _catalog = catalog;
        _lifetime = lifetime;
        _maxPerConnection = maxPerConnection;
        Receive<FilePortsBound>(p => _ports = p);
        Receive<ListFiles>(m => _catalog.Forward(m));
        Receive<IssueTicket>(OnIssue);
        Receive<LookedUp>(OnLookedUp);
        Receive<RedeemTicket>(OnRedeem);
        Receive<Expire>(e => { if (_tickets.TryGetValue(e.Id, out var t)) Drop(t); });
        Receive<Terminated>(t => OwnerDied(t.ActorRef));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef catalog, TimeSpan lifetime, int maxPerConnection) =>
        Akka.Actor.Props.Create(() => new TicketOffice(catalog, lifetime, maxPerConnection));

    private void OnIssue(IssueTicket request)
    {
        var owner = Sender;
        if (!_owners.TryGetValue(owner, out var holdings))
        {
            holdings = _owners[owner] = new Holdings();
            Context.Watch(owner);
        }
        if (holdings.Count >= _maxPerConnection)
        {
            owner.Tell(new ErrorFrame(ErrorCodes.TooManyTickets,
                $"at most {_maxPerConnection} unused tickets per connection; use one, or wait until one expires ({_lifetime.TotalSeconds:0.#} s)"));
            return;
        }
        holdings.Pending++;
        _catalog.Ask(new LookupFile(request.File))
            .PipeTo(Self, success: answer => new LookedUp(answer, request, owner),
                failure: _ => new LookedUp(new ErrorFrame(ErrorCodes.NoSuchFile, "the file catalog did not answer"), request, owner));
    }

    private void OnLookedUp(LookedUp m)
    {
        if (!_owners.TryGetValue(m.Owner, out var holdings)) return; // the connection died meanwhile
        holdings.Pending--;
        if (m.Answer is not CatalogEntry entry)
        {
            m.Owner.Tell(m.Answer);
            ForgetIfEmpty(m.Owner, holdings);
            return;
        }
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        _tickets[id] = new Ticket(id, entry, m.Request.Via, m.Owner, Normalize(m.Request.From));
        holdings.Tickets.Add(id);
        Timers.StartSingleTimer(id, new Expire(id), _lifetime);
        int port = m.Request.Via == TransferVia.Udp ? _ports.UdpPort : _ports.TcpPort;
        m.Owner.Tell(new TicketFrame(entry.Name, m.Request.Via, id, entry.Size, entry.Sha256, port));
    }

    private void OnRedeem(RedeemTicket m)
    {
        if (!_tickets.TryGetValue(m.Ticket, out var ticket) || ticket.Via != m.Via || !ticket.From.Equals(Normalize(m.From)))
        {
            if (ticket is not null && ticket.Via == m.Via)
                _log.Warning("ticket for {0} issued to {1} presented from {2}: refused", ticket.File.Name, ticket.From, m.From);
            Sender.Tell(new ErrorFrame(ErrorCodes.BadTicket,
                "unknown, used or expired ticket, or not from the address that asked for it; ask for a new one with \"get\""));
            return;
        }
        if (m.Offset < 0 || m.Offset > ticket.File.Size)
        {
            // The ticket stays good: the client may retry with a sensible offset.
            Sender.Tell(new ErrorFrame(ErrorCodes.BadOffset, $"offset must be between 0 and {ticket.File.Size}"));
            return;
        }
        Drop(ticket);
        Sender.Tell(new TicketRedeemed(ticket.File, m.Offset));
    }

    private void Drop(Ticket ticket)
    {
        _tickets.Remove(ticket.Id);
        Timers.Cancel(ticket.Id);
        if (!_owners.TryGetValue(ticket.Owner, out var holdings)) return;
        holdings.Tickets.Remove(ticket.Id);
        ForgetIfEmpty(ticket.Owner, holdings);
    }

    private void ForgetIfEmpty(IActorRef owner, Holdings holdings)
    {
        if (holdings.Count > 0) return;
        _owners.Remove(owner);
        Context.Unwatch(owner);
    }

    private void OwnerDied(IActorRef owner)
    {
        if (!_owners.Remove(owner, out var holdings)) return;
        foreach (var id in holdings.Tickets)
        {
            _tickets.Remove(id);
            Timers.Cancel(id);
        }
    }

    /// <summary>An IPv4 client seen through a dual-stack socket is the same client.</summary>
    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
