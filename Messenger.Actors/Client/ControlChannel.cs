using System.Net;
using System.Threading.Channels;
using Messenger.Protocol;

namespace Messenger.Client;

/// <summary>
/// The control channel as plain async code, for the short-lived headless commands: logging in and
/// asking for a ticket need no actor system, so a reliable-UDP download logs in while its actor
/// system starts, and <c>say</c> or a TCP download start none. One loop reads the server's frames
/// into a queue that <see cref="ExpectAsync{T}"/> takes them from (the server never waits on this
/// client), and a ping goes out every ping interval so the server keeps the connection through a
/// long download. The full-screen client talks through a <see cref="ChatSessionActor"/> instead.
/// </summary>
public sealed class ControlChannel : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly Channel<ServerFrame> _frames = Channel.CreateUnbounded<ServerFrame>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly SemaphoreSlim _writing = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reading;
    private readonly Timer _pinger;

    private ControlChannel(ClientConnection connection, TimeSpan pingInterval)
    {
        _stream = connection.Stream;
        Remote = connection.Remote;
        _reading = Task.Run(ReadAsync);
        _pinger = new Timer(_ => _ = SendAsync(PingCommand.Instance), null, pingInterval, pingInterval);
    }

    /// <summary>The server's address this connection reached: where a reliable-UDP download of a ticket asked for on it goes.</summary>
    public IPEndPoint Remote { get; }

    /// <summary>Connects to <paramref name="host"/>:<paramref name="port"/> (plain or TLS); throws <see cref="SessionEndedException"/> when it cannot.</summary>
    public static async Task<ControlChannel> ConnectAsync(string host, int port, ChatSessionSettings settings, ClientTls? tls, CancellationToken cancel)
    {
        using var connect = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        connect.CancelAfter(settings.ConnectTimeout);
        try
        {
            return new ControlChannel(await ClientTransport.ConnectAsync(host, port, tls, 64 * 1024, connect.Token), settings.PingInterval);
        }
        catch (Exception e) when (!cancel.IsCancellationRequested && e is not OutOfMemoryException)
        {
            string reason = e is OperationCanceledException ? "timed out" : ChatSessionActor.DescribeConnectFailure(e);
            throw new SessionEndedException($"cannot connect to {host}:{port}: {reason}");
        }
    }

    /// <summary>Sends one command (commands from several threads go out whole, one after another).</summary>
    public async Task SendAsync(ClientCommand command, CancellationToken cancel = default)
    {
        var line = ChatCodec.EncodeCommand(command);
        await _writing.WaitAsync(cancel);
        try
        {
            await _stream.WriteAsync(line, cancel);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The connection is gone: the reader reports it to whoever waits for a frame.
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>
    /// Waits for the next frame of type <typeparamref name="T"/> (others are skipped). Throws
    /// <see cref="ServerErrorException"/> on an error frame and <see cref="SessionEndedException"/>
    /// if the connection ends first.
    /// </summary>
    public async Task<T> ExpectAsync<T>(Func<T, bool>? match = null, CancellationToken cancel = default) where T : ServerFrame
    {
        while (true)
        {
            ServerFrame frame;
            try
            {
                frame = await _frames.Reader.ReadAsync(cancel);
            }
            catch (ChannelClosedException closed)
            {
                throw closed.InnerException as SessionEndedException ?? new SessionEndedException("the session ended");
            }
            switch (frame)
            {
                case T wanted when match is null || match(wanted): return wanted;
                case ErrorFrame error: throw new ServerErrorException(error.Code, error.Message);
            }
        }
    }

    /// <summary>Says bye and waits (within <paramref name="cancel"/>) for the server to close the connection.</summary>
    public async Task QuitAsync(CancellationToken cancel)
    {
        await SendAsync(ByeCommand.Instance, cancel);
        try
        {
            await _reading.WaitAsync(cancel);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _pinger.DisposeAsync();
        _stop.Cancel();
        await _reading;
        await _stream.DisposeAsync();
        _stop.Dispose();
    }

    private async Task ReadAsync()
    {
        var framer = new LineFramer(ProtocolLimits.MaxLineBytes);
        var buffer = new byte[16 * 1024];
        string reason = "the server closed the connection";
        bool heardAnything = false;
        try
        {
            while (true)
            {
                int n = await _stream.ReadAsync(buffer, _stop.Token);
                if (n == 0) break;
                heardAnything = true;
                if (!framer.Feed(buffer.AsSpan(0, n), Queue))
                {
                    reason = "the server sent a line longer than the protocol allows";
                    break;
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            reason = $"the connection broke: {e.GetBaseException().Message}";
        }
        if (!heardAnything && !_stop.IsCancellationRequested && _stream is not System.Net.Security.SslStream) reason = ClientTransport.ClosedBeforeAnswering;
        _frames.Writer.TryComplete(new SessionEndedException(reason));
    }

    private void Queue(byte[] line)
    {
        var parsed = ChatCodec.ParseFrame(line);
        _frames.Writer.TryWrite(parsed.Value ?? new ErrorFrame(ChatSessionActor.UnreadableFrameCode, parsed.Error!.Message));
    }
}
