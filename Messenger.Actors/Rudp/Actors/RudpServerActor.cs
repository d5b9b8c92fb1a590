using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using Messenger.Chat;
using Messenger.Files;
using Messenger.Net;
using Messenger.Protocol;

namespace Messenger.Rudp.Actors;

/// <summary>
/// The server's reliable-UDP endpoint: every datagram arriving at the one UDP port comes here.
/// It validates the datagram (<see cref="RudpCodec.TryRead"/>: length, version, CRC), answers a
/// SYN by redeeming its ticket at the <see cref="TicketOffice"/> and starting a
/// <see cref="FileSenderActor"/> under a fresh random connection id, and routes everything else
/// to the sender that owns the connection id (only when it comes from that connection's
/// address). Transfers are bounded in total and per client address, and so are half-open
/// handshakes, and so are the datagrams waiting for one transfer; refusals and such drops are
/// counted and logged once per <c>log-interval</c>. A datagram for an
/// unknown connection gets an RST only when it is no smaller than the RST.
/// </summary>
public sealed class RudpServerActor : ReceiveActor, IWithTimers
{
    private sealed record Redeemed(object Answer, IPEndPoint From, string Ticket, uint ReceiverWindow);
    private sealed record Connection(uint Id, IPEndPoint Peer, string Ticket, IActorRef Sender, QueuedDatagrams Queued);
    private sealed record LogRefusals { public static readonly LogRefusals Instance = new(); }

    private readonly IActorRef _tickets;
    private readonly RudpSettings _settings;
    private readonly RudpServerLimits _limits;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _wire;
    private readonly Dictionary<uint, Connection> _byId = new();
    private readonly Dictionary<(IPEndPoint, string), Connection> _byTicket = new();
    private readonly Dictionary<IActorRef, Connection> _bySender = new();
    private readonly HashSet<(IPEndPoint, string)> _redeeming = new();
    private readonly HashSet<uint> _halfOpen = new();
    private readonly Dictionary<IPAddress, int> _perAddress = new(); // transfers and redemptions under way, by client address
    private readonly Dictionary<RstReason, long> _refused = new();
    private IPEndPoint? _lastRefused;
    private long _dropped, _overflowed;
    private readonly LogThrottle _droppedLog;

    public RudpServerActor(Socket socket, IActorRef tickets, RudpSettings settings, RudpServerLimits limits)
    {
        _tickets = tickets;
        _settings = settings;
        _limits = limits;
        _droppedLog = new LogThrottle(limits.LogInterval);
        _wire = Context.ActorOf(LossySocketActor.WireProps(socket, Self, settings.Impairment, settings.LossSeed, coalesce: false), "wire");
        if (!settings.Impairment.IsTransparent)
            _log.Warning("lossy socket on the UDP port: {0} (seed {1})", settings.Impairment, settings.LossSeed);

        Receive<DatagramsReceived>(batch =>
        {
            try
            {
                for (int i = 0; i < batch.Count; i++) OnDatagram(batch.Data(i), batch.From(i));
            }
            finally
            {
                batch.Release();
            }
        });
        Receive<DatagramReceived>(m => OnDatagram(m.Data, m.From)); // one at a time from a lossy socket
        Receive<Redeemed>(OnRedeemed);
        Receive<HandshakeCompleted>(m => _halfOpen.Remove(m.ConnectionId));
        Receive<Terminated>(t =>
        {
            if (!_bySender.Remove(t.ActorRef, out var c)) return;
            _byId.Remove(c.Id);
            _byTicket.Remove((c.Peer, c.Ticket));
            _halfOpen.Remove(c.Id);
            Release(c.Peer.Address);
        });
        Receive<LogRefusals>(_ => LogRefused());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart() =>
        Timers.StartPeriodicTimer(nameof(LogRefusals), LogRefusals.Instance, _limits.LogInterval);

    /// <summary>A transfer that throws is stopped, not restarted: a restart would replay its handshake to a client mid-transfer.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    public static Props Props(Socket socket, IActorRef tickets, RudpSettings settings, RudpServerLimits limits) =>
        Akka.Actor.Props.Create(() => new RudpServerActor(socket, tickets, settings, limits));

    /// <summary>One datagram; <paramref name="data"/> is only valid during the call (a sender gets its own copy).</summary>
    private void OnDatagram(ReadOnlySpan<byte> data, IPEndPoint from)
    {
        if (!RudpCodec.TryRead(data, out var header, out var error))
        {
            _dropped++;
            if (_droppedLog.ShouldLog(MonotonicClock.Now.Ticks, out _))
                _log.Info("udp: dropped a datagram from {0} ({1}); {2} so far", from, error, _dropped);
            return;
        }
        if (header.Kind == RudpPacketKind.Syn)
        {
            OnSyn(data, from, header);
            return;
        }
        if (_byId.TryGetValue(header.ConnectionId, out var connection) && connection.Peer.Equals(from))
        {
            Route(connection, data, header, from);
            return;
        }
        // Never answer with more than arrived: a FIN or FIN-ACK (12 bytes) is smaller than an RST.
        if (header.Kind != RudpPacketKind.Rst && data.Length >= RudpConstants.RstSize)
            Reset(from, header.ConnectionId, RstReason.UnknownConnection);
    }

    /// <summary>Hands a copy to the connection's sender, unless <c>max-queued-datagrams</c> wait for it already: then it is dropped, as UDP would.</summary>
    private void Route(Connection connection, ReadOnlySpan<byte> data, RudpHeader header, IPEndPoint from)
    {
        if (connection.Queued.TryAdd(_limits.MaxQueuedDatagrams))
            connection.Sender.Tell(new InboundDatagram(data.ToArray(), header, from));
        else
            _overflowed++;
    }

    private void OnSyn(ReadOnlySpan<byte> data, IPEndPoint from, RudpHeader header)
    {
        var syn = RudpCodec.ReadSyn(data);
        var ticket = Convert.ToHexStringLower(syn.Ticket);
        var key = (from, ticket);
        if (_byTicket.TryGetValue(key, out var existing))
        {
            Route(existing, data, header, from); // a retried SYN: the sender resends its SYN-ACK
            return;
        }
        if (_redeeming.Contains(key)) return;
        // Checked before the ticket is redeemed, so a refused client can try again with the same ticket.
        if (_halfOpen.Count + _redeeming.Count >= _limits.MaxHalfOpen
            || _byId.Count + _redeeming.Count >= _limits.MaxTransfers
            || _perAddress.GetValueOrDefault(from.Address) >= _limits.MaxTransfersPerAddress)
        {
            Refuse(from, RstReason.Busy);
            return;
        }
        _redeeming.Add(key);
        _perAddress[from.Address] = _perAddress.GetValueOrDefault(from.Address) + 1;
        uint window = syn.ReceiverWindow;
        _tickets.Ask(new RedeemTicket(ticket, TransferVia.Udp, from.Address), TimeSpan.FromSeconds(10))
            .PipeTo(Self, success: answer => new Redeemed(answer, from, ticket, window),
                failure: e => new Redeemed(new ErrorFrame(ErrorCodes.BadTicket, e.Message), from, ticket, window));
    }

    private void OnRedeemed(Redeemed r)
    {
        _redeeming.Remove((r.From, r.Ticket));
        if (r.Answer is not TicketRedeemed redeemed)
        {
            Release(r.From.Address);
            Refuse(r.From, RstReason.BadTicket);
            return;
        }
        uint id;
        do id = BitConverter.ToUInt32(RandomNumberGenerator.GetBytes(4)); while (id == 0 || _byId.ContainsKey(id));
        var queued = new QueuedDatagrams();
        var sender = Context.ActorOf(FileSenderActor.Props(id, r.From, redeemed.File, r.ReceiverWindow, _settings, _wire, queued), $"transfer-{id:x8}");
        Context.Watch(sender);
        var connection = new Connection(id, r.From, r.Ticket, sender, queued);
        _byId[id] = connection;
        _byTicket[(r.From, r.Ticket)] = connection;
        _bySender[sender] = connection;
        _halfOpen.Add(id);
        _log.Info("udp {0} to {1}: connection {2:x8}, {3} bytes", redeemed.File.Name, r.From, id, redeemed.File.Size);
    }

    private void Release(IPAddress address)
    {
        if (_perAddress.TryGetValue(address, out int n) && n > 1) _perAddress[address] = n - 1;
        else _perAddress.Remove(address);
    }

    /// <summary>Answers a SYN with an RST; refusals are logged as counts once per interval, never one line each.</summary>
    private void Refuse(IPEndPoint to, RstReason reason)
    {
        _refused[reason] = _refused.GetValueOrDefault(reason) + 1;
        _lastRefused = to;
        Reset(to, 0, reason);
    }

    private void LogRefused()
    {
        if (_overflowed > 0)
        {
            _log.Info("udp: dropped {0} datagram(s) in the last {1:0.#} s for transfers with {2} waiting already (max-queued-datagrams)",
                _overflowed, _limits.LogInterval.TotalSeconds, _limits.MaxQueuedDatagrams);
            _overflowed = 0;
        }
        if (_refused.Count == 0) return;
        _log.Info("udp: refused {0} SYN(s) in the last {1:0.#} s ({2}); the last from {3}",
            _refused.Values.Sum(), _limits.LogInterval.TotalSeconds,
            string.Join(", ", _refused.OrderBy(r => r.Key).Select(r => $"{r.Key}: {r.Value}")), _lastRefused);
        _refused.Clear();
    }

    private void Reset(IPEndPoint to, uint connectionId, RstReason reason)
    {
        var rst = new byte[RudpConstants.RstSize];
        RudpCodec.WriteRst(rst, connectionId, reason);
        _wire.Tell(new SendDatagram(rst, to));
    }
}
