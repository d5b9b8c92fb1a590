using System.Diagnostics;
using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Messenger.Net;
using Messenger.Protocol;

namespace Messenger.Files;

/// <summary>
/// Serves one TCP file-channel connection: reads the ticket line, redeems it at the
/// <see cref="TicketOffice"/>, then streams the file from disk with backpressure — one chunk
/// is read only when the socket has taken the previous one, so memory per download is one
/// chunk no matter the file's size. The file handle is closed when the actor stops, however
/// the connection ends.
/// </summary>
public sealed class FileUploadActor : ReceiveActor, IWithTimers
{
    private sealed record TicketLineTimeout { public static readonly TicketLineTimeout Instance = new(); }
    private sealed class ChunkWritten : Tcp.Event { public static readonly ChunkWritten Instance = new(); }

    /// <summary>The ticket line is small; anything longer is not a ticket.</summary>
    private const int MaxTicketLineBytes = 1024;

    private readonly IActorRef _tcp;
    private readonly EndPoint _remote;
    private readonly IActorRef _tickets;
    private readonly FileSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LineFramer _framer = new(MaxTicketLineBytes);
    private readonly Stopwatch _clock = new();
    private FileStream? _file;
    private byte[]? _chunk;
    private CatalogEntry? _entry;
    private long _remaining;
    private long _sent;
    private bool _lineSeen;

    public FileUploadActor(IActorRef tcp, EndPoint remote, IActorRef tickets, FileSettings settings)
    {
        _tcp = tcp;
        _remote = remote;
        _tickets = tickets;
        _settings = settings;
        Context.Watch(tcp);
        AwaitingTicket();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef tcp, EndPoint remote, IActorRef tickets, FileSettings settings) =>
        Akka.Actor.Props.Create(() => new FileUploadActor(tcp, remote, tickets, settings));

    protected override void PreStart() =>
        Timers.StartSingleTimer(nameof(TicketLineTimeout), TicketLineTimeout.Instance, _settings.TicketLineTimeout);

    private void AwaitingTicket()
    {
        Receive<Tcp.Received>(received =>
        {
            if (_lineSeen) return; // one line only; anything after it is ignored
            byte[]? line = null;
            if (!_framer.Feed(received.Data.ToReadOnlySpan(), l => line ??= l))
            {
                Refuse(new ErrorFrame(ErrorCodes.LineTooLong, $"the ticket line is limited to {MaxTicketLineBytes} bytes"));
                return;
            }
            if (line is null) return;
            _lineSeen = true;
            var parsed = ChatCodec.ParseTicketRequest(line);
            if (parsed.Error is { } error) { Refuse(ErrorFrame.From(error)); return; }
            _tickets.Tell(new RedeemTicket(parsed.Value!.Ticket, TransferVia.Tcp, ((IPEndPoint)_remote).Address, parsed.Value.Offset));
        });
        Receive<TicketRedeemed>(StartSending);
        Receive<ErrorFrame>(Refuse);
        Receive<TicketLineTimeout>(_ => Refuse(new ErrorFrame(ErrorCodes.BadRequest, "no ticket line received in time")));
        ConnectionEvents();
    }

    private void Sending()
    {
        Receive<ChunkWritten>(_ => SendNextChunk());
        Receive<Tcp.Received>(_ => { });
        Receive<ServerStopping>(_ => _tcp.Tell(Tcp.Abort.Instance));
        ConnectionEvents();
    }

    private void ConnectionEvents()
    {
        Receive<Tcp.ConnectionClosed>(closed =>
        {
            if (_remaining > 0 && _entry is not null)
                _log.Info("file {0} to {1}: cut after {2} of {3} bytes ({4})", _entry.Name, _remote, _sent, _entry.Size, closed.GetType().Name);
            Context.Stop(Self);
        });
        Receive<Terminated>(_ => Context.Stop(Self));
        Receive<Tcp.CommandFailed>(_ => { _tcp.Tell(Tcp.Abort.Instance); Context.Stop(Self); });
        Receive<ServerStopping>(_ => _tcp.Tell(Tcp.Close.Instance));
    }

    private void StartSending(TicketRedeemed redeemed)
    {
        Timers.Cancel(nameof(TicketLineTimeout));
        var entry = redeemed.File;
        try
        {
            _file = new FileStream(entry.FullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
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
        _entry = entry;
        _file.Position = redeemed.Offset;
        _remaining = entry.Size - redeemed.Offset;
        _clock.Start();
        _log.Info("file {0} to {1}: sending {2} bytes from offset {3}", entry.Name, _remote, _remaining, redeemed.Offset);
        Become(Sending);
        var header = new FileHeaderFrame(entry.Name, entry.Size, redeemed.Offset, entry.Sha256);
        _tcp.Tell(Tcp.Write.Create(ByteString.FromBytes(header.Line), ChunkWritten.Instance));
    }

    private void SendNextChunk()
    {
        if (_remaining == 0)
        {
            if (_entry is not null)
            {
                double seconds = Math.Max(_clock.Elapsed.TotalSeconds, 1e-6);
                _log.Info("file {0} to {1}: done, {2} bytes in {3:0.000} s ({4:0.0} MB/s)",
                    _entry.Name, _remote, _sent, seconds, _sent / seconds / 1e6);
                _entry = null;
                _tcp.Tell(Tcp.Close.Instance);
            }
            return;
        }
        // One buffer per download, reused: the previous write has completed (this is its ack),
        // so Akka.IO no longer needs its bytes. A fresh 256 KiB array per chunk would land on the
        // large-object heap and grow the server's memory with every download.
        _chunk ??= new byte[_settings.ChunkBytes];
        int wanted = (int)Math.Min(_chunk.Length, _remaining);
        int read = _file!.ReadAtLeast(_chunk.AsSpan(0, wanted), wanted, throwOnEndOfStream: false);
        if (read < wanted)
        {
            _log.Warning("file {0} to {1}: file shrank while sending; aborting", _entry?.Name, _remote);
            _tcp.Tell(Tcp.Abort.Instance);
            return;
        }
        _remaining -= read;
        _sent += read;
        _tcp.Tell(Tcp.Write.Create(ByteString.FromBytes(_chunk, 0, read), ChunkWritten.Instance));
    }

    private void Refuse(ErrorFrame error)
    {
        _log.Info("file channel {0}: refused ({1}: {2})", _remote, error.Code, error.Message);
        Become(Refused);
        _tcp.Tell(Tcp.Write.Create(ByteString.FromBytes(error.Line)));
        _tcp.Tell(Tcp.Close.Instance);
    }

    private void Refused()
    {
        Receive<Tcp.Received>(_ => { });
        Receive<TicketRedeemed>(_ => { });
        Receive<ErrorFrame>(_ => { });
        Receive<TicketLineTimeout>(_ => { });
        ConnectionEvents();
    }

    protected override void PostStop() => _file?.Dispose();
}
