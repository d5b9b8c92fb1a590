using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Messenger.Protocol;
using Messenger.Rudp;
using Messenger.Rudp.Actors;

namespace Messenger.Client;

/// <summary>Stop the download: the server gets an RST and the result is a failure.</summary>
public sealed record CancelDownload { public static readonly CancelDownload Instance = new(); }

/// <summary>
/// The client side of one reliable-UDP download: handshake (SYN with the ticket, retried with
/// backoff), then every DATA segment is written straight to its place in <c>NAME.udp-part</c>
/// (<see cref="ReceiveWindow"/> keeps the bitmap of what has arrived) and acknowledged with a
/// cumulative ack plus SACK ranges. On FIN with every segment in hand, the file's SHA-256 is
/// checked and the part file renamed into place. The outcome completes a task the caller awaits;
/// progress is reported every 100 ms. A disk error (writing the part file, moving it into place)
/// sends the server an RST and fails the download with that error.
/// </summary>
public sealed class FileReceiverActor : UntypedActor, IWithTimers
{
    private sealed record SynTimer { public static readonly SynTimer Instance = new(); }
    private sealed record HandshakeAckTimer { public static readonly HandshakeAckTimer Instance = new(); }
    private sealed record DelayedAck { public static readonly DelayedAck Instance = new(); }
    private sealed record ProgressTick { public static readonly ProgressTick Instance = new(); }
    private sealed record Linger { public static readonly Linger Instance = new(); }

    private readonly TicketFrame _ticket;
    private readonly string _target;
    private readonly string _partPath;
    private readonly RudpSettings _settings;
    private readonly IProgress<DownloadProgress>? _progress;
    private readonly TaskCompletionSource<DownloadResult> _done;
    private readonly RudpLink _link;
    private readonly SackRange[] _ranges = new SackRange[RudpConstants.MaxSackRanges];

    private delegate void DatagramHandler(ReadOnlySpan<byte> data, IPEndPoint from);

    private DatagramHandler _onDatagram;
    private uint _connectionId;
    private ReceiveWindow? _window;
    private PartFile? _part;
    private int _payloadBytes;
    private long _size;
    private int _synTries;
    private int _handshakeAckTries;
    private bool _dataSeen;
    private bool _lastWasOutOfOrder;
    private int _unacked;
    private bool _inBatch, _ackDue;
    private uint _echoTimestamp, _echoSequence;
    private bool _echoRetransmission;

    // statistics
    private long _retransmitsSeen, _duplicates, _dropped;
    private int _smallestWindow = int.MaxValue, _largestWindow;
    private long _transferStartMicros;
    private TimeSpan? _firstByte;

    /// <param name="openWire">Creates the wire this download talks through (a socket actor, as a child; a probe in tests).</param>
    public FileReceiverActor(Func<IActorContext, IActorRef> openWire, IPEndPoint server, TicketFrame ticket, string outputFolder, RudpSettings settings,
        IProgress<DownloadProgress>? progress, TaskCompletionSource<DownloadResult> done)
    {
        _ticket = ticket;
        _target = Path.Combine(outputFolder, ticket.File);
        _partPath = PartFile.PathFor(_target);
        _settings = settings;
        _progress = progress;
        _done = done;
        _link = new RudpLink(openWire(Context), server, settings.IdleTimeout);
        _onDatagram = ConnectingDatagram;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>A download through <paramref name="socket"/> (behind a lossy socket when <paramref name="settings"/> say so).</summary>
    public static Props Props(Socket socket, IPEndPoint server, TicketFrame ticket, string outputFolder, RudpSettings settings,
        IProgress<DownloadProgress>? progress, TaskCompletionSource<DownloadResult> done) =>
        Props(context => context.ActorOf(LossySocketActor.WireProps(socket, context.Self, settings.Impairment, settings.LossSeed, coalesce: true), "wire"),
            server, ticket, outputFolder, settings, progress, done);

    /// <summary>A download through whatever <paramref name="openWire"/> creates.</summary>
    public static Props Props(Func<IActorContext, IActorRef> openWire, IPEndPoint server, TicketFrame ticket, string outputFolder, RudpSettings settings,
        IProgress<DownloadProgress>? progress, TaskCompletionSource<DownloadResult> done) =>
        Akka.Actor.Props.Create(() => new FileReceiverActor(openWire, server, ticket, outputFolder, settings, progress, done));

    private long NowMicros => _link.NowMicros;

    protected override void PreStart()
    {
        SendSyn();
        _link.StartIdleCheck(Timers);
    }

    protected override void PostStop()
    {
        Fail(new DownloadFailedException("stopped", "the download stopped unexpectedly"));
    }

    // ------------------------------------------------------------------ behaviours
    // Plain switches, not ReceiveActor's typed handlers: the client runs without run-time code
    // generation, where ReceiveActor's matchers are expression trees built at every Become and
    // interpreted for every message.

    protected override void OnReceive(object message) => Connecting(message);

    private void Connecting(object message)
    {
        switch (message)
        {
            case SynTimer:
                if (++_synTries > _settings.HandshakeRetries)
                    Fail("no_answer", $"the server at {_link.Peer} did not answer the handshake after {_synTries} tries");
                else SendSyn();
                break;
            default:
                Common(message);
                break;
        }
    }

    private void ConnectingDatagram(ReadOnlySpan<byte> data, IPEndPoint from)
    {
        if (!Accept(data, from, out var header)) return;
        switch (header.Kind)
        {
            case RudpPacketKind.SynAck: OnSynAck(data, header); break;
            case RudpPacketKind.Rst: Fail(RudpCodec.ReadRst(data)); break;
        }
    }

    private void Receiving(object message)
    {
        switch (message)
        {
            case DelayedAck:
                if (_unacked > 0) SendAck();
                break;
            case HandshakeAckTimer:
                if (_dataSeen) return;
                if (++_handshakeAckTries > _settings.HandshakeRetries)
                {
                    SendRst();
                    Fail("no_answer", $"the server sent nothing after the handshake ({_handshakeAckTries} tries)");
                }
                else SendHandshakeAck();
                break;
            case ProgressTick:
                ReportProgress();
                break;
            default:
                Common(message);
                break;
        }
    }

    private void ReceivingDatagram(ReadOnlySpan<byte> data, IPEndPoint from)
    {
        if (!Accept(data, from, out var header) || header.ConnectionId != _connectionId) return;
        switch (header.Kind)
        {
            case RudpPacketKind.Data:
                _dataSeen = true;
                _firstByte ??= _link.Elapsed;
                OnData(data);
                break;
            case RudpPacketKind.SynAck: SendHandshakeAck(); break; // our handshake ACK was lost
            case RudpPacketKind.Fin:
                _dataSeen = true;
                OnFin();
                break;
            case RudpPacketKind.Rst: Fail(RudpCodec.ReadRst(data)); break;
        }
    }

    /// <summary>Done: stay a moment to answer a retried FIN (our FIN-ACK may be lost), then stop; anything else is ignored.</summary>
    private void Lingering(object message)
    {
        switch (message)
        {
            case DatagramReceived or DatagramsReceived: OnDatagrams(message); break;
            case Linger or CancelDownload: Context.Stop(Self); break;
        }
    }

    private void LingeringDatagram(ReadOnlySpan<byte> data, IPEndPoint from)
    {
        if (Accept(data, from, out var header) && header.ConnectionId == _connectionId && header.Kind == RudpPacketKind.Fin) SendFinAck();
    }

    /// <summary>Moves to <paramref name="behaviour"/>, whose datagrams <paramref name="onDatagram"/> handles.</summary>
    private void Enter(UntypedReceive behaviour, DatagramHandler onDatagram)
    {
        _onDatagram = onDatagram;
        Become(behaviour);
    }

    /// <summary>What every state but the last handles alike: datagrams (through the state's handler), the idle check, a cancel.</summary>
    private void Common(object message)
    {
        switch (message)
        {
            case DatagramReceived or DatagramsReceived:
                OnDatagrams(message);
                break;
            case RudpLink.IdleCheck:
                if (_link.Silent)
                {
                    SendRst();
                    Fail("timeout", $"the server went silent for {_settings.IdleTimeout.TotalSeconds:0.#} s");
                }
                break;
            case CancelDownload:
                SendRst();
                Fail("cancelled", "the download was cancelled");
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>
    /// Hands a single datagram or a batch to the current state's handler. A batch is handled one
    /// datagram at a time through whichever handler is current, so the datagrams after one that
    /// changed the state (a SYN-ACK, a FIN, an RST) meet the new state's handler. A batch's buffer
    /// goes back to the socket once every datagram in it was handled.
    /// </summary>
    private void OnDatagrams(object message)
    {
        if (message is DatagramReceived single)
        {
            _onDatagram(single.Data, single.From);
            return;
        }
        var batch = (DatagramsReceived)message;
        _inBatch = true;
        try
        {
            for (int i = 0; i < batch.Count; i++) _onDatagram(batch.Data(i), batch.From(i));
        }
        finally
        {
            _inBatch = false;
            batch.Release();
        }
        if (_ackDue) SendAck();
    }

    // ------------------------------------------------------------------ handshake

    private void SendSyn()
    {
        var datagram = new byte[RudpConstants.SynSize];
        RudpCodec.WriteSyn(datagram, Convert.FromHexString(_ticket.Ticket), (uint)_settings.ReceiveCapacity);
        _link.Put(datagram);
        Timers.StartSingleTimer(nameof(SynTimer), SynTimer.Instance, RudpLink.Backoff(_settings.HandshakeRetryInterval, _synTries));
    }

    private void OnSynAck(ReadOnlySpan<byte> datagram, RudpHeader header)
    {
        var synAck = RudpCodec.ReadSynAck(datagram);
        if (synAck.FileSize != _ticket.Size || Convert.ToHexStringLower(synAck.Sha256) != _ticket.Sha256)
        {
            SendRst();
            Fail(ErrorCodes.BadRequest, "the server's handshake does not match the ticket (size or SHA-256)");
            return;
        }
        Timers.Cancel(nameof(SynTimer));
        _connectionId = header.ConnectionId;
        _payloadBytes = synAck.SegmentPayloadSize;
        _size = synAck.FileSize;
        _window = new ReceiveWindow(synAck.SegmentCount, _settings.ReceiveCapacity);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_target)!);
            _part = new PartFile(_partPath, _size);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            FailOnDisk($"cannot write {_partPath}", e);
            return;
        }
        _transferStartMicros = NowMicros;
        SendHandshakeAck();
        Timers.StartPeriodicTimer(nameof(ProgressTick), ProgressTick.Instance, TimeSpan.FromMilliseconds(100));
        Enter(Receiving, ReceivingDatagram);
    }

    /// <summary>Sent after the SYN-ACK, and again (with backoff) until the server's first segment shows it arrived.</summary>
    private void SendHandshakeAck()
    {
        var datagram = new byte[RudpConstants.HandshakeAckSize];
        RudpCodec.WriteHandshakeAck(datagram, _connectionId, (uint)_window!.AdvertisedWindow);
        _link.Put(datagram);
        if (!_dataSeen)
            Timers.StartSingleTimer(nameof(HandshakeAckTimer), HandshakeAckTimer.Instance, RudpLink.Backoff(_settings.HandshakeRetryInterval, _handshakeAckTries));
    }

    // ------------------------------------------------------------------ data

    private void OnData(ReadOnlySpan<byte> datagram)
    {
        var data = RudpCodec.ReadData(datagram);
        var window = _window!;
        if (data.IsRetransmission) _retransmitsSeen++;
        int cumulativeBefore = window.CumulativeAck;
        var result = window.Accept(data.Sequence);
        switch (result)
        {
            case AcceptResult.Delivered:
            case AcceptResult.Buffered:
                long offset = (long)data.Sequence * _payloadBytes;
                int expected = (int)Math.Min(_payloadBytes, _size - offset);
                if (data.Payload.Length != expected)
                {
                    SendRst();
                    Fail(ErrorCodes.BadRequest, $"segment {data.Sequence} has {data.Payload.Length} bytes, expected {expected}");
                    return;
                }
                try
                {
                    _part!.Write(offset, data.Payload);
                    if (window.CumulativeAck != cumulativeBefore)
                        _part.HashUpTo(Math.Min((long)window.CumulativeAck * _payloadBytes, _size));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    FailOnDisk($"cannot write {_partPath}", e);
                    return;
                }
                break;
            case AcceptResult.Duplicate:
                _duplicates++;
                break;
            default:
                return; // beyond what we said we could take: the sender will resend it
        }
        _echoTimestamp = data.Timestamp;
        _echoSequence = data.Sequence;
        _echoRetransmission = data.IsRetransmission;
        // Ack at once when the picture changed (a new hole opened, a hole was filled, a
        // retransmission or a duplicate came: the sender is recovering and must hear of it
        // quickly), else every few segments, with a timer for the tail.
        bool newHole = result == AcceptResult.Buffered && !_lastWasOutOfOrder;
        bool holeFilled = window.CumulativeAck - cumulativeBefore > 1;
        _lastWasOutOfOrder = result == AcceptResult.Buffered;
        if (++_unacked >= _settings.AckEvery || newHole || holeFilled || data.IsRetransmission
            || result == AcceptResult.Duplicate || window.IsComplete)
            AckNow();
        else if (!Timers.IsTimerActive(nameof(DelayedAck)))
            Timers.StartSingleTimer(nameof(DelayedAck), DelayedAck.Instance, _settings.DelayedAck);
    }

    /// <summary>
    /// An ack is due now; inside a batch of datagrams that arrived together it goes out at the end
    /// of the batch, describing all of them (one ack per burst, not one per four segments), and
    /// also every <c>batch-ack-every</c> segments of a long batch: a sender whose whole window
    /// arrived in one batch would otherwise hear of it in one ack, and if that one were lost it
    /// could do nothing but wait for its retransmission timer.
    /// </summary>
    private void AckNow()
    {
        if (_inBatch && _unacked < _settings.BatchAckEvery) _ackDue = true;
        else SendAck();
    }

    private void SendAck()
    {
        _ackDue = false;
        var window = _window!;
        int rangeCount = window.WriteSackRanges(_ranges);
        var buffer = new byte[RudpConstants.MaxAckSize];
        int length = RudpCodec.WriteAck(buffer, _connectionId, (uint)window.CumulativeAck, (uint)window.AdvertisedWindow,
            _echoTimestamp, _echoSequence, _echoRetransmission, _ranges.AsSpan(0, rangeCount));
        _link.Put(buffer.AsSpan(0, length).ToArray());
        _unacked = 0;
        _smallestWindow = Math.Min(_smallestWindow, window.AdvertisedWindow);
        _largestWindow = Math.Max(_largestWindow, window.AdvertisedWindow);
    }

    private void OnFin()
    {
        if (!_window!.IsComplete) return; // cannot happen with an honest server: it waits for every ack
        _ackDue = false; // the server had every ack: it sent the FIN
        Timers.Cancel(nameof(ProgressTick));
        string sha;
        bool verified;
        try
        {
            sha = _part!.Complete();
            verified = sha == _ticket.Sha256;
            if (verified) File.Move(_partPath, _target, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            FailOnDisk($"cannot finish {_target}", e);
            return;
        }
        if (!verified) TryDelete(_partPath);
        SendFinAck();
        ReportProgress();
        var stats = new TransferStats(_size, (NowMicros - _transferStartMicros) / 1e6, _link.Sent, _link.Received, _retransmitsSeen, 0,
            _duplicates, _dropped, _smallestWindow == int.MaxValue ? 0 : _smallestWindow, _largestWindow, SmoothedRttMs: null);
        _done.TrySetResult(new DownloadResult(_ticket.File, _target, _size, _link.Elapsed, verified, sha,
            _link.Received, _retransmitsSeen, verified ? null : "SHA-256 mismatch", stats, _firstByte));
        Timers.Cancel(nameof(RudpLink.IdleCheck));
        Timers.StartSingleTimer(nameof(Linger), Linger.Instance, TimeSpan.FromSeconds(1));
        Enter(Lingering, LingeringDatagram);
    }

    private void SendFinAck()
    {
        var datagram = new byte[RudpConstants.FinSize];
        RudpCodec.WriteFinAck(datagram, _connectionId);
        _link.Put(datagram);
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>Validates a datagram from the server; anything else (or anything damaged) is dropped.</summary>
    private bool Accept(ReadOnlySpan<byte> datagram, IPEndPoint from, out RudpHeader header)
    {
        header = default;
        if (!from.Equals(_link.Peer)) return false; // not our server: not even worth counting
        if (!RudpCodec.TryRead(datagram, out header, out _))
        {
            _dropped++; // damaged (checksum) or malformed
            return false;
        }
        _link.Heard();
        return true;
    }

    private void ReportProgress()
    {
        if (_progress is null || _window is null) return;
        double seconds = Math.Max(_link.Elapsed.TotalSeconds, 1e-6);
        long done = Math.Min((long)_window.CumulativeAck * _payloadBytes, _size);
        _progress.Report(new DownloadProgress(_ticket.File, done, _size, done / seconds, _link.Elapsed, _retransmitsSeen, _window.AdvertisedWindow));
    }

    private void SendRst() => _link.Reset(_connectionId, RstReason.Aborted);

    /// <summary>A disk error (a full disk, a folder that refuses the file) ends the download: the server hears an RST, the caller the error.</summary>
    private void FailOnDisk(string what, Exception e)
    {
        SendRst();
        Fail("io", $"{what}: {e.Message}");
    }

    private void Fail(RstReason reason) => Fail(reason == RstReason.BadTicket ? ErrorCodes.BadTicket : "reset", reason switch
    {
        RstReason.BadTicket => "the server refused the ticket (unknown, used or expired); ask for a new one",
        RstReason.Busy => "the server is busy (too many transfers or handshakes); try again later",
        RstReason.UnknownConnection => "the server does not know this transfer any more",
        RstReason.InternalError => "the server could not read the file (it changed or vanished since it was listed); ask for it again",
        RstReason.Aborted => "the server gave up on the transfer (no progress, or a segment resent too often)",
        _ => $"the server reset the transfer ({reason})",
    });

    private void Fail(string code, string message)
    {
        _onDatagram = (_, _) => { }; // the rest of a batch, if any, finds the download over
        _ackDue = false;
        Fail(new DownloadFailedException(code, message));
        Context.Stop(Self);
    }

    /// <summary>The part file is gone before the caller hears of the failure.</summary>
    private void Fail(DownloadFailedException failure)
    {
        _part?.Dispose();
        if (_done.Task.IsCompleted) return;
        TryDelete(_partPath);
        _done.TrySetException(failure);
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
