using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using Akka.Actor;
using Akka.Event;
using Messenger.Net;
using Messenger.Protocol;

namespace Messenger.Files;

/// <summary>
/// Serves one TCP file-channel connection: reads the ticket line, redeems it at the
/// <see cref="TicketOffice"/>, then streams the file from disk into the connection's pipe with
/// backpressure: the next chunk is read only when the transport has room for it, so memory per
/// download is bounded no matter the file's size. A download that makes no progress for the
/// stall timeout (the client stopped reading) is cut. The file handle is closed when the actor
/// stops, however the connection ends.
/// </summary>
public sealed class FileUploadActor : ReceiveActor, IWithTimers
{
    private sealed record TicketLineTimeout { public static readonly TicketLineTimeout Instance = new(); }
    private sealed record TicketLineRead(byte[]? Line, ErrorFrame? Error);
    private sealed record ChunkWritten(bool PeerGone);
    private sealed record StallCheck { public static readonly StallCheck Instance = new(); }
    private sealed record CloseDeadline { public static readonly CloseDeadline Instance = new(); }

    /// <summary>The ticket line is small; anything longer is not a ticket.</summary>
    private const int MaxTicketLineBytes = 1024;

    private readonly ClientConnection _connection;
    private readonly IActorRef _tickets;
    private readonly FileSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Stopwatch _clock = new();
    private FileStream? _file;
    private CatalogEntry? _entry;
    private long _remaining;
    private long _sent;
    private long _sentAtLastCheck;
    private TimeSpan _lastProgress;
    private bool _ended;

    public FileUploadActor(ClientConnection connection, IActorRef tickets, FileSettings settings)
    {
        _connection = connection;
        _tickets = tickets;
        _settings = settings;
        AwaitingTicket();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(ClientConnection connection, IActorRef tickets, FileSettings settings) =>
        Akka.Actor.Props.Create(() => new FileUploadActor(connection, tickets, settings));

    protected override void PreStart()
    {
        Timers.StartSingleTimer(nameof(TicketLineTimeout), TicketLineTimeout.Instance, _settings.TicketLineTimeout);
        _connection.StartReading(ReadTicketLineAsync(_connection.Input, _connection.Closing).PipeTo(Self));
    }

    // ------------------------------------------------------------------ states

    private void AwaitingTicket()
    {
        Receive<TicketLineRead>(read =>
        {
            if (read.Error is not null) { Refuse(read.Error); return; }
            var parsed = ChatCodec.ParseTicketRequest(read.Line!);
            if (parsed.Error is { } error) { Refuse(ErrorFrame.From(error)); return; }
            _tickets.Tell(new RedeemTicket(parsed.Value!.Ticket, TransferVia.Tcp, _connection.Remote.Address, parsed.Value.Offset));
        });
        Receive<TicketRedeemed>(StartSending);
        Receive<ErrorFrame>(Refuse);
        Receive<TicketLineTimeout>(_ => Refuse(new ErrorFrame(ErrorCodes.BadRequest, "no ticket line received in time")));
        Receive<ServerStopping>(_ => Refuse(new ErrorFrame(ErrorCodes.ServerShutdown, "the server is shutting down")));
        Receive<DisplacedBeforeLogin>(displaced => Refuse(displaced.Error));
    }

    private void Sending()
    {
        Receive<ChunkWritten>(written =>
        {
            if (written.PeerGone) { Cut("the client went away"); return; }
            _lastProgress = _clock.Elapsed;
            SendNextChunk();
        });
        Receive<StallCheck>(_ =>
        {
            if (_sent != _sentAtLastCheck) { _sentAtLastCheck = _sent; return; }
            if (_clock.Elapsed - _lastProgress >= _settings.StallTimeout)
                Cut($"no progress for {_settings.StallTimeout.TotalSeconds:0.#} s");
        });
        // A download in progress may finish during shutdown; one that is still running at the deadline is cut.
        Receive<ServerStopping>(_ => Timers.StartSingleTimer(nameof(CloseDeadline), CloseDeadline.Instance, _settings.CloseDeadline));
        Receive<CloseDeadline>(_ => Cut("the server is shutting down"));
        ReceiveAny(_ => { });
    }

    private void Refused() => ReceiveAny(_ => { });

    // ------------------------------------------------------------------ sending

    private void StartSending(TicketRedeemed redeemed)
    {
        Timers.Cancel(nameof(TicketLineTimeout));
        var entry = redeemed.File;
        try
        {
            _file = RegularFiles.OpenRead(entry.FullPath, bufferSize: 0); // never blocks on a FIFO swapped in for the file
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Refuse(new ErrorFrame(ErrorCodes.NoSuchFile, $"\"{entry.Name}\" can no longer be read"));
            return;
        }
        if (_file.Length != entry.Size || File.GetLastWriteTimeUtc(entry.FullPath) != entry.LastWriteUtc)
        {
            Refuse(new ErrorFrame(ErrorCodes.NoSuchFile, $"\"{entry.Name}\" changed since the ticket was issued; ask again"));
            return;
        }
        Context.Parent.Tell(PastPreLogin.Instance);
        _entry = entry;
        _file.Position = redeemed.Offset;
        _remaining = entry.Size - redeemed.Offset;
        _clock.Start();
        _log.Info("file {0} to {1}: sending {2} bytes from offset {3}", entry.Name, _connection.Remote, _remaining, redeemed.Offset);
        Become(Sending);
        Timers.StartPeriodicTimer(nameof(StallCheck), StallCheck.Instance, _settings.StallTimeout / 4);
        _connection.Output.Write(new FileHeaderFrame(entry.Name, entry.Size, redeemed.Offset, entry.Sha256).Line);
        SendNextChunk();
    }

    /// <summary>Reads the next chunk from disk straight into the pipe's buffer and flushes it.</summary>
    private void SendNextChunk()
    {
        if (_remaining == 0)
        {
            double seconds = Math.Max(_clock.Elapsed.TotalSeconds, 1e-6);
            _log.Info("file {0} to {1}: done, {2} bytes in {3:0.000} s ({4:0.0} MB/s)",
                _entry!.Name, _connection.Remote, _sent, seconds, _sent / seconds / 1e6);
            Finish();
            return;
        }
        var output = _connection.Output;
        int wanted = (int)Math.Min(_settings.ChunkBytes, _remaining);
        var memory = output.GetMemory(wanted)[..wanted];
        int read = _file!.ReadAtLeast(memory.Span, wanted, throwOnEndOfStream: false);
        if (read < wanted)
        {
            _log.Warning("file {0} to {1}: the file shrank while it was being sent; cutting the connection", _entry?.Name, _connection.Remote);
            Cut("file shrank");
            return;
        }
        output.Advance(read);
        _remaining -= read;
        _sent += read;
        var flush = output.FlushAsync();
        if (flush.IsCompleted) Self.Tell(new ChunkWritten(flush.Result.IsCompleted)); // let other messages in between chunks
        else flush.AsTask().PipeTo(Self, success: r => new ChunkWritten(r.IsCompleted), failure: _ => new ChunkWritten(PeerGone: true));
    }

    private void Refuse(ErrorFrame error)
    {
        _log.Info("file channel {0}: refused ({1}: {2})", _connection.Remote, error.Code, error.Message);
        Become(Refused);
        try { _connection.Output.Write(error.Line); }
        catch (InvalidOperationException) { }
        Finish();
    }

    private void Cut(string why)
    {
        if (_remaining > 0 && _entry is not null)
            _log.Info("file {0} to {1}: cut after {2} of {3} bytes ({4})", _entry.Name, _connection.Remote, _sent, _remaining + _sent, why);
        _ended = true;
        _connection.Abort();
        Context.Stop(Self);
    }

    private void Finish()
    {
        _ended = true;
        _ = _connection.CloseAsync(_settings.CloseDeadline);
        Context.Stop(Self);
    }

    /// <summary>Reads up to the first newline; the reply is a <see cref="TicketLineRead"/>.</summary>
    private static async Task<TicketLineRead> ReadTicketLineAsync(PipeReader input, CancellationToken closing)
    {
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(closing);
                var buffer = result.Buffer;
                var newline = buffer.PositionOf((byte)'\n');
                if (newline is { } end)
                {
                    var line = buffer.Slice(0, end).ToArray();
                    input.AdvanceTo(buffer.GetPosition(1, end));
                    if (line.Length > MaxTicketLineBytes) break;
                    int length = line.Length > 0 && line[^1] == '\r' ? line.Length - 1 : line.Length;
                    return new TicketLineRead(line[..length], null);
                }
                if (buffer.Length > MaxTicketLineBytes) break;
                if (result.IsCompleted || result.IsCanceled)
                    return new TicketLineRead(null, new ErrorFrame(ErrorCodes.BadRequest, "the connection ended before the ticket line"));
                input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
        {
            return new TicketLineRead(null, new ErrorFrame(ErrorCodes.BadRequest, "the connection ended before the ticket line"));
        }
        return new TicketLineRead(null, new ErrorFrame(ErrorCodes.LineTooLong, $"the ticket line is limited to {MaxTicketLineBytes} bytes"));
    }

    protected override void PostStop()
    {
        _file?.Dispose();
        if (!_ended) _connection.Abort();
    }
}
