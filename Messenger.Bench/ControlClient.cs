using System.Net;
using System.Net.Sockets;
using Messenger.Client;
using Messenger.Protocol;

namespace Messenger.Bench;

/// <summary>A logged-in control channel that asks for download tickets (parsed with the real codec).</summary>
public sealed class ControlClient : IDisposable
{
    private Stream _stream = null!;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start, _end;

    public static async Task<ControlClient> LoginAsync(IPEndPoint chat, string user, CancellationToken cancel, ClientTls? tls = null)
    {
        var client = new ControlClient();
        try
        {
            client._stream = (await ClientTransport.ConnectAsync(chat.Address.ToString(), chat.Port, tls, 64 * 1024, cancel)).Stream;
            await client._stream.WriteAsync(ChatCodec.EncodeCommand(new HelloCommand(user)), cancel);
            var frame = await client.NextFrameAsync(f => f is WelcomeFrame or ErrorFrame, cancel);
            if (frame is ErrorFrame e) throw new InvalidOperationException($"login refused: {e.Code} {e.Message}");
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Waits until the server lists <paramref name="file"/> (its catalog hashes new files in the background).</summary>
    public async Task WaitUntilListedAsync(string file, CancellationToken cancel)
    {
        while (true)
        {
            await _stream.WriteAsync(ChatCodec.EncodeCommand(FilesCommand.Instance), cancel);
            var listing = (FilesFrame)await NextFrameAsync(f => f is FilesFrame, cancel);
            if (listing.Files.Any(f => f.Name == file)) return;
            await Task.Delay(50, cancel); // polling interval; the caller's token bounds the wait
        }
    }

    /// <summary>A ticket for <paramref name="file"/>, or the server's error frame.</summary>
    public async Task<ServerFrame> RequestTicketAsync(string file, TransferVia via, CancellationToken cancel)
    {
        await _stream.WriteAsync(ChatCodec.EncodeCommand(new GetCommand(file, via)), cancel);
        return await NextFrameAsync(f => f is TicketFrame or ErrorFrame, cancel);
    }

    private async Task<ServerFrame> NextFrameAsync(Func<ServerFrame, bool> wanted, CancellationToken cancel)
    {
        while (true)
        {
            int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                var parsed = ChatCodec.ParseFrame(_buffer.AsSpan(_start, newline - _start));
                _start = newline + 1;
                if (parsed.Value is { } frame && wanted(frame)) return frame;
                continue;
            }
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length) throw new InvalidOperationException("control line too long");
            int n = await _stream.ReadAsync(_buffer.AsMemory(_end), cancel);
            if (n == 0) throw new IOException("the server closed the control channel");
            _end += n;
        }
    }

    public void Dispose() => _stream?.Dispose();
}
