using System.Net;
using Akka.Actor;
using Akka.Event;
using Messenger.Files;

namespace Messenger.Rudp.Actors;

/// <summary>A datagram that passed <see cref="RudpCodec.TryRead"/>, routed to the actor owning its connection.</summary>
public sealed record InboundDatagram(byte[] Data, RudpHeader Header, IPEndPoint From);

/// <summary>
/// Datagrams routed to one <see cref="FileSenderActor"/> and not yet handled: the
/// <see cref="RudpServerActor"/> counts them in (and drops one past the cap, as a full socket
/// buffer would), the sender counts them out. A client sending faster than its transfer can
/// handle so fills no more than the cap (<c>max-queued-datagrams</c>) of the server's memory.
/// </summary>
public sealed class QueuedDatagrams
{
    private int _count;

    /// <summary>Counts one in unless <paramref name="cap"/> are queued already (one thread counts in).</summary>
    public bool TryAdd(int cap)
    {
        if (Volatile.Read(ref _count) >= cap) return false;
        Interlocked.Increment(ref _count);
        return true;
    }

    /// <summary>The sender took one from its mailbox.</summary>
    public void Taken() => Interlocked.Decrement(ref _count);
}

/// <summary>Told to the parent once the client's handshake ACK arrived (the connection is no longer half-open).</summary>
public sealed record HandshakeCompleted(uint ConnectionId);

/// <summary>
/// Sends one file over reliable UDP: one actor per transfer, created by the
/// <see cref="RudpServerActor"/> after a valid SYN. Everything it does is a reaction to a
/// message: acks arriving, and scheduled messages for the retransmission timer, FIN retries and
/// the idle check. It gives up with an RST when the client goes silent, when the cumulative ack
/// stops moving (<c>stall-timeout</c>), when one segment was sent too often
/// (<c>max-retransmissions</c>) and when the file can no longer be read, or is no longer the one
/// the ticket was issued for (checked before the SYN-ACK, as the TCP channel does). The arithmetic lives in pure classes: <see cref="SendWindow"/>
/// (what is in flight, lost or acked), <see cref="ICongestionController"/> (how much may be in
/// flight), <see cref="RttEstimator"/> (when to give up waiting). Datagrams leave through the
/// <c>wire</c> actor (a <see cref="UdpSocketActor"/>, or a <see cref="LossySocketActor"/> in front of one).
/// </summary>
public sealed class FileSenderActor : ReceiveActor, IWithTimers
{
    private sealed record RetransmissionTimer { public static readonly RetransmissionTimer Instance = new(); }
    private sealed record FinTimer { public static readonly FinTimer Instance = new(); }

    private readonly uint _connectionId;
    private readonly CatalogEntry _file;
    private readonly byte[] _sha256;
    private readonly RudpSettings _settings;
    private readonly RudpLink _link;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly long _segmentCount;
    private SendWindow _window = null!; // from the handshake ACK on: a half-open transfer holds no per-segment state
    private readonly ICongestionController _congestion;
    private readonly RttEstimator _rtt;
    private readonly SackRange[] _ranges;
    private readonly QueuedDatagrams _queued;
    private FileStream? _stream;
    private SegmentReader? _reader;

    private uint _receiverWindow;
    private long _lastProgressMicros;
    private long _rtoDeadlineMicros = long.MaxValue;
    private long _timerDueMicros;
    private int _finTries;
    private long _transferStartMicros;

    // statistics
    private long _retransmitted, _timeouts, _duplicateAcks;
    private int _smallestWindow = int.MaxValue, _largestWindow;

    public FileSenderActor(uint connectionId, IPEndPoint peer, CatalogEntry file, uint receiverWindow, RudpSettings settings, IActorRef wire, QueuedDatagrams queued)
    {
        _queued = queued;
        _connectionId = connectionId;
        _file = file;
        _sha256 = Convert.FromHexString(file.Sha256);
        _settings = settings;
        _link = new RudpLink(wire, peer, settings.IdleTimeout);
        _receiverWindow = receiverWindow;
        _segmentCount = RudpCodec.ExpectedSegmentCount(file.Size, settings.SegmentPayloadBytes);
        _congestion = settings.NewCongestionController();
        _rtt = settings.NewRttEstimator();
        _ranges = new SackRange[settings.MaxSackRanges];
        Handshaking();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(uint connectionId, IPEndPoint peer, CatalogEntry file, uint receiverWindow, RudpSettings settings, IActorRef wire, QueuedDatagrams queued) =>
        Akka.Actor.Props.Create(() => new FileSenderActor(connectionId, peer, file, receiverWindow, settings, wire, queued));

    private long NowMicros => _link.NowMicros;

    protected override void PreStart()
    {
        var problem = _segmentCount > int.MaxValue
            ? $"{_segmentCount} segments are more than sequence numbers can count (2^31 - 1)"
            : OpenFile();
        if (problem is not null)
        {
            // One RST (13 bytes, smaller than the SYN) instead of the SYN-ACK; the ticket is spent.
            _link.Reset(_connectionId, RstReason.InternalError);
            _log.Warning("udp {0} to {1}: refused, {2}", _file.Name, _link.Peer, problem);
            Context.Stop(Self);
            return;
        }
        SendSynAck();
        _link.StartIdleCheck(Timers);
    }

    protected override void PostStop() => _stream?.Dispose();

    /// <summary>Opens the file and checks it against the ticket's size and time; returns why it cannot be sent, or null.</summary>
    private string? OpenFile()
    {
        try
        {
            _stream = RegularFiles.OpenRead(_file.FullPath, bufferSize: 0); // never blocks on a FIFO swapped in for the file
            if (_stream.Length != _file.Size || File.GetLastWriteTimeUtc(_stream.SafeFileHandle) != _file.LastWriteUtc)
                return "the file changed since the ticket was issued";
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"the file can no longer be read ({e.Message})";
        }
    }

    // ------------------------------------------------------------------ behaviours

    /// <summary>
    /// SYN-ACK sent; waiting for the client's ACK. No data goes out before it, and the SYN-ACK is
    /// sent once per SYN, never on a timer (anti-amplification: the client's retried SYN is the
    /// retry). A handshake never completed is forgotten silently after <c>idle-timeout</c>.
    /// </summary>
    private void Handshaking()
    {
        Receive<InboundDatagram>(m =>
        {
            _queued.Taken();
            _link.Heard();
            switch (m.Header.Kind)
            {
                case RudpPacketKind.Syn: SendSynAck(); break; // our SYN-ACK was lost
                case RudpPacketKind.HandshakeAck:
                    _receiverWindow = RudpCodec.ReadHandshakeAck(m.Data);
                    Context.Parent.Tell(new HandshakeCompleted(_connectionId));
                    // Only now the memory a transfer needs: per-segment state for what the receiver
                    // can hold beyond its cumulative ack (at least max-window, at most what one ack
                    // can describe), and the read-ahead block.
                    int capacity = Math.Max(_settings.MaxWindow, (int)Math.Min(_receiverWindow, (uint)RudpConstants.MaxReceiveCapacity));
                    _window = new SendWindow((int)_segmentCount, capacity);
                    _reader = new SegmentReader(_stream!.SafeFileHandle, _file.Size, _settings.SegmentPayloadBytes);
                    _transferStartMicros = _lastProgressMicros = NowMicros;
                    if (_window.AllAcked) // an empty file: nothing to send but the FIN
                    {
                        Become(Closing);
                        SendFin();
                    }
                    else
                    {
                        Become(Transferring);
                        SendWhatTheWindowAllows();
                    }
                    break;
                case RudpPacketKind.Rst: Abort("the client reset the connection", reset: null); break;
            }
        });
        Receive<RudpLink.IdleCheck>(_ =>
        {
            if (_link.Silent) Abort("no handshake ACK", reset: null);
        });
    }

    private void Transferring()
    {
        Receive<InboundDatagram>(m =>
        {
            _queued.Taken();
            _link.Heard();
            switch (m.Header.Kind)
            {
                case RudpPacketKind.Ack: OnAck(m.Data); break;
                case RudpPacketKind.Rst: Abort("the client reset the connection", reset: null); break;
                // A late duplicate SYN or handshake ACK needs nothing: data is already flowing.
            }
        });
        Receive<RetransmissionTimer>(_ => OnRetransmissionTimer());
        Receive<RudpLink.IdleCheck>(_ =>
        {
            if (CheckIdle()) return;
            if (NowMicros - _lastProgressMicros > (long)_settings.StallTimeout.TotalMicroseconds)
                Abort($"nothing new acknowledged for {_settings.StallTimeout.TotalSeconds:0.#} s (window shut: {_receiverWindow == 0})", RstReason.Aborted);
        });
    }

    /// <summary>Everything is acknowledged; FIN sent, waiting for FIN-ACK.</summary>
    private void Closing()
    {
        Receive<InboundDatagram>(m =>
        {
            _queued.Taken();
            _link.Heard();
            switch (m.Header.Kind)
            {
                case RudpPacketKind.FinAck: Finish(); break;
                case RudpPacketKind.Rst: Finish(); break; // the client is gone but had everything
            }
        });
        Receive<FinTimer>(_ =>
        {
            if (++_finTries > _settings.FinRetries)
            {
                _log.Warning("udp {0} to {1}: no FIN-ACK after {2} tries; the client had every byte", _file.Name, _link.Peer, _finTries - 1);
                Finish();
            }
            else SendFin();
        });
        Receive<RudpLink.IdleCheck>(_ => CheckIdle());
    }

    // ------------------------------------------------------------------ handshake and closing

    private void SendSynAck()
    {
        var datagram = new byte[RudpConstants.SynAckSize];
        RudpCodec.WriteSynAck(datagram, _connectionId, _file.Size, _sha256, _settings.SegmentPayloadBytes, (int)_segmentCount);
        _link.Put(datagram);
    }

    private void SendFin()
    {
        var datagram = new byte[RudpConstants.FinSize];
        RudpCodec.WriteFin(datagram, _connectionId);
        _link.Put(datagram);
        Timers.StartSingleTimer(nameof(FinTimer), FinTimer.Instance, RudpLink.Backoff(TimeSpan.FromMicroseconds(_rtt.RtoMicros), _finTries));
    }

    private void Finish()
    {
        double seconds = (NowMicros - _transferStartMicros) / 1e6;
        var stats = Stats(seconds);
        _log.Info("udp {0} to {1}: done, {2}", _file.Name, _link.Peer, stats);
        Context.Stop(Self);
    }

    private TransferStats Stats(double seconds) => new(_file.Size, seconds, _link.Sent, _link.Received, _retransmitted, _timeouts, _duplicateAcks, 0,
        _smallestWindow == int.MaxValue ? 0 : _smallestWindow, _largestWindow, _rtt.SmoothedRttMicros / 1000);

    /// <summary>Ends the transfer, telling the client why with an RST of <paramref name="reset"/> (none when the client reset it, or never finished its handshake).</summary>
    private void Abort(string why, RstReason? reset)
    {
        if (reset is { } reason) _link.Reset(_connectionId, reason);
        _log.Warning("udp {0} to {1}: aborted ({2}) after {3} of {4} segments; {5}", _file.Name, _link.Peer, why,
            _window?.AckedCount ?? 0, _segmentCount, Stats((NowMicros - _transferStartMicros) / 1e6));
        Context.Stop(Self);
    }

    /// <summary>Aborts (and returns true) when the client has been silent for the idle timeout.</summary>
    private bool CheckIdle()
    {
        if (!_link.Silent) return false;
        Abort($"the client was silent for {_settings.IdleTimeout.TotalSeconds:0.#} s", RstReason.Aborted);
        return true;
    }

    // ------------------------------------------------------------------ data

    private void OnAck(byte[] datagram)
    {
        var ack = RudpCodec.ReadAck(datagram, _ranges);
        long now = NowMicros;
        var outcome = _window.ApplyAck(ack.CumulativeAck, _ranges.AsSpan(0, ack.SackRangeCount));
        if (!outcome.Accepted) return; // acknowledges data never sent: ignore it whole
        _receiverWindow = ack.ReceiveWindow;

        long? rttSample = null;
        if (!ack.EchoedRetransmission) // Karn's rule: a retransmitted segment's ack says nothing about RTT
        {
            long sample = WireTimestamp.Age(now, ack.EchoedTimestamp);
            if (sample < 60_000_000) // a wrapped or forged echo would look absurd
            {
                rttSample = sample;
                _rtt.AddSample(sample);
            }
        }
        _window.ConfirmDelivery(ack.EchoedSequence, ack.EchoedTimestamp);
        if (outcome.NewlyAcked == 0) _duplicateAcks++;
        _congestion.OnAck(now, outcome.NewlyAcked, rttSample, _window.InFlight);

        int lost = _window.DetectLosses(_settings.ReorderThreshold, out long highestLost);
        if (lost > 0) _congestion.OnLoss(highestLost, _window.NextTransmissionNumber);

        if (_window.AllAcked)
        {
            Timers.Cancel(nameof(RetransmissionTimer));
            Become(Closing);
            SendFin();
            return;
        }
        if (outcome.NewlyAcked > 0)
        {
            _rtoDeadlineMicros = now + _rtt.RtoMicros; // RFC 6298 5.3
            _lastProgressMicros = now;
        }
        SendWhatTheWindowAllows();
    }

    private void SendWhatTheWindowAllows()
    {
        int allowed = _congestion.AllowedInFlight((int)Math.Min(_receiverWindow, int.MaxValue));
        _smallestWindow = Math.Min(_smallestWindow, allowed);
        _largestWindow = Math.Max(_largestWindow, allowed);
        // The receiver takes any segment below its cumulative ack + its capacity, and advertises that
        // capacity less what it holds above the cumulative ack, which is what it SACKed: so the last
        // segment it can take is acked + advertised - 1. (Counting from the cumulative ack stopped
        // the sender behind a hole whose retransmission was lost too, for 5-15 ms at 10 % loss.)
        int sequenceLimit = (int)Math.Min((long)_window.AckedCount + _receiverWindow, int.MaxValue);
        long now = NowMicros;
        // The hole at the cumulative ack holds everything else back: once it is known lost it is
        // resent even when the window is full (RFC 6675 lets the first retransmission ignore the pipe).
        // Datagrams are written straight into pooled bursts (one send each where the kernel segments them).
        DatagramBurst? burst = null;
        int una = _window.CumulativeAck;
        int sequence = una < _window.SegmentCount && _window.GetState(una) == SegmentState.Lost ? una : _window.NextToSend(allowed, sequenceLimit);
        for (; sequence >= 0; sequence = _window.NextToSend(allowed, sequenceLimit))
        {
            if (_window.GetTransmissionCount(sequence) > _settings.MaxRetransmissions)
            {
                burst?.Release();
                Abort($"segment {sequence} was sent {_window.GetTransmissionCount(sequence)} times", RstReason.Aborted);
                return;
            }
            // In the tail a retransmission goes out tail-copies times (see hocon/rudp.hocon).
            int copies = _window.EverySegmentSent && _window.GetTransmissionCount(sequence) > 0 ? _settings.TailCopies : 1;
            for (int copy = 0; copy < copies; copy++)
            {
                if (burst is { IsFull: true })
                {
                    _link.Put(burst);
                    burst = null;
                }
                burst ??= new DatagramBurst(RudpConstants.DataHeaderSize + _settings.SegmentPayloadBytes);
                try
                {
                    burst.Commit(Segment(sequence, now, burst.Next()));
                }
                catch (IOException e)
                {
                    burst.Release();
                    Abort($"cannot read the file: {e.Message}", RstReason.InternalError);
                    return;
                }
            }
        }
        if (burst is not null) _link.Put(burst);
        ArmRetransmissionTimer(now);
    }

    /// <summary>Writes the DATA datagram for <paramref name="sequence"/> into <paramref name="destination"/>, recorded as sent at <paramref name="now"/>; returns its length.</summary>
    private int Segment(int sequence, long now, Span<byte> destination)
    {
        bool retransmission = _window.GetTransmissionCount(sequence) > 0;
        int length = _reader!.PayloadLength(sequence);
        var payload = destination.Slice(RudpConstants.DataHeaderSize, length);
        _reader.Read(sequence, payload);
        int written = RudpCodec.WriteData(destination, _connectionId, (uint)sequence, WireTimestamp.Of(now), retransmission, payload);
        _window.MarkSent(sequence, now);
        if (retransmission) _retransmitted++;
        return written;
    }

    private void ArmRetransmissionTimer(long now)
    {
        if (_window.InFlight == 0) return;
        if (_rtoDeadlineMicros == long.MaxValue || _rtoDeadlineMicros < now) _rtoDeadlineMicros = now + _rtt.RtoMicros;
        // Set again when the deadline moved well before the timer's (a timer armed with a
        // backed-off RTO would otherwise fire that long after a fresh RTT sample's deadline).
        if (!Timers.IsTimerActive(nameof(RetransmissionTimer)) || _rtoDeadlineMicros < _timerDueMicros - (long)_settings.MinRto.TotalMicroseconds)
            StartRetransmissionTimer(now);
    }

    private void StartRetransmissionTimer(long now)
    {
        _timerDueMicros = Math.Max(_rtoDeadlineMicros, now + 100);
        Timers.StartSingleTimer(nameof(RetransmissionTimer), RetransmissionTimer.Instance, TimeSpan.FromMicroseconds(_timerDueMicros - now));
    }

    /// <summary>
    /// The timer is lazy: acks only move <see cref="_rtoDeadlineMicros"/>; when the timer fires
    /// early it is set again for the rest. When the deadline has really passed, the oldest
    /// segment in flight is declared lost and resent, and the RTO backs off.
    /// </summary>
    private void OnRetransmissionTimer()
    {
        long now = NowMicros;
        if (_window.InFlight == 0) { _rtoDeadlineMicros = long.MaxValue; return; }
        if (now < _rtoDeadlineMicros)
        {
            StartRetransmissionTimer(now);
            return;
        }
        _timeouts++;
        _rtt.Backoff();
        _congestion.OnRetransmissionTimeout(_window.NextTransmissionNumber);
        _rtoDeadlineMicros = now + _rtt.RtoMicros;
        // The earliest unacknowledged segment is declared lost; being the hole at the cumulative
        // ack, it goes out at once, whatever the collapsed window says: that retransmission is
        // what the timer is for.
        _window.OnTimeout();
        SendWhatTheWindowAllows();
    }
}
