using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using Microsoft.AspNetCore.Connections;

namespace Messenger.Net;

/// <summary>
/// One accepted TCP connection as its handler actor sees it: a pipe to read, a pipe to write,
/// the peer's address, and two ways to end it. Plain connections are Kestrel's socket transport
/// pipes as they are; TLS connections are pipes over an <see cref="SslStream"/> on top of them.
/// Either way no buffer is held while the peer is idle (the transport and the TLS reader both
/// wait for data before renting one).
/// </summary>
public sealed class ClientConnection
{
    private readonly ConnectionContext _transport;
    private readonly SslStream? _tls;
    private readonly CancellationTokenSource _closing = new();
    private Task _reader = Task.CompletedTask;
    private int _ended;

    private ClientConnection(ConnectionContext transport, PipeReader input, PipeWriter output, SslStream? tls)
    {
        _transport = transport;
        _tls = tls;
        Input = input;
        Output = output;
        Remote = transport.RemoteEndPoint as IPEndPoint ?? new IPEndPoint(IPAddress.None, 0);
    }

    public PipeReader Input { get; }
    public PipeWriter Output { get; }
    public IPEndPoint Remote { get; }
    public bool IsTls => _tls is not null;

    /// <summary>Cancelled when the connection starts closing: whoever reads <see cref="Input"/> stops.</summary>
    public CancellationToken Closing => _closing.Token;

    /// <summary>The loop that reads <see cref="Input"/>, just started; closing waits for it to stop before draining what is left.</summary>
    public void StartReading(Task reader) => _reader = reader;

    public static ClientConnection Plain(ConnectionContext transport) =>
        new(transport, transport.Transport.Input, transport.Transport.Output, null);

    /// <summary>Runs the TLS handshake as the server; the caller bounds it with <paramref name="cancel"/>.</summary>
    public static async Task<ClientConnection> AcceptTlsAsync(ConnectionContext transport, SslServerAuthenticationOptions options, CancellationToken cancel)
    {
        var tls = new SslStream(new DuplexPipeStream(transport.Transport), leaveInnerStreamOpen: true);
        try
        {
            await tls.AuthenticateAsServerAsync(options, cancel);
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
        var input = PipeReader.Create(tls, new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 1024, leaveOpen: true, useZeroByteReads: true));
        var output = PipeWriter.Create(tls, new StreamPipeWriterOptions(minimumBufferSize: 4096, leaveOpen: true));
        return new ClientConnection(transport, input, output, tls);
    }

    /// <summary>
    /// Ends the connection gracefully: what was flushed is sent, then (over TLS) a close_notify,
    /// then FIN. A peer that does not take the rest within <paramref name="deadline"/> is cut off.
    /// Safe to call more than once and together with <see cref="Abort"/>.
    /// </summary>
    public async Task CloseAsync(TimeSpan deadline)
    {
        if (Interlocked.Exchange(ref _ended, 1) == 1) return;
        var cut = new CancellationTokenSource(deadline);
        _closing.Cancel();
        Input.CancelPendingRead();
        var close = Task.Run(async () =>
        {
            try
            {
                await _reader.WaitAsync(cut.Token);
                await DrainInputAsync(cut.Token);
                await Output.CompleteAsync();
                if (_tls is not null)
                {
                    await _tls.ShutdownAsync().WaitAsync(cut.Token);
                    await _tls.DisposeAsync();
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or NotSupportedException or OperationCanceledException)
            {
            }
            await _transport.DisposeAsync();
        });
        if (await Task.WhenAny(close, Task.Delay(deadline)) != close) _transport.Abort(new ConnectionAbortedException("the peer did not read what was left"));
        try { await close; }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException) { }
        cut.Dispose();
    }

    /// <summary>
    /// Reads and drops what the peer sent that nobody will act on, until it has been quiet for a
    /// moment. Closing a socket with unread bytes makes the kernel send a reset instead of a FIN,
    /// and a reset can destroy the last lines we sent before the peer reads them.
    /// </summary>
    private async Task DrainInputAsync(CancellationToken cut)
    {
        while (!cut.IsCancellationRequested)
        {
            using var quiet = CancellationTokenSource.CreateLinkedTokenSource(cut);
            quiet.CancelAfter(QuietBeforeClose);
            ReadResult result;
            try { result = await Input.ReadAsync(quiet.Token); }
            catch (OperationCanceledException) { return; }
            Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) return;
        }
    }

    /// <summary>How long the peer must have sent nothing before a graceful close goes ahead.</summary>
    private static readonly TimeSpan QuietBeforeClose = TimeSpan.FromMilliseconds(20);

    /// <summary>Ends the connection now, dropping whatever has not been sent.</summary>
    public void Abort()
    {
        _transport.Abort(new ConnectionAbortedException("closed by the server"));
        _ = CloseAsync(TimeSpan.Zero);
    }

    /// <summary>The transport's two pipes as one <see cref="Stream"/>, for <see cref="SslStream"/> to sit on.</summary>
    private sealed class DuplexPipeStream(IDuplexPipe pipe) : Stream
    {
        private readonly Stream _read = pipe.Input.AsStream(leaveOpen: true);
        private readonly Stream _write = pipe.Output.AsStream(leaveOpen: true);

        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancel = default) => _read.ReadAsync(buffer, cancel);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancel) => _read.ReadAsync(buffer, offset, count, cancel);
        public override int Read(byte[] buffer, int offset, int count) => _read.Read(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancel = default) => _write.WriteAsync(buffer, cancel);
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancel) => _write.WriteAsync(buffer, offset, count, cancel);
        public override void Write(byte[] buffer, int offset, int count) => _write.Write(buffer, offset, count);
        public override Task FlushAsync(CancellationToken cancel) => _write.FlushAsync(cancel);
        public override void Flush() => _write.Flush();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
