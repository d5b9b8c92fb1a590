using System.Net;
using System.Net.Sockets;
using System.Text;
using Messenger.Client;

namespace Messenger.Bench;

/// <summary>
/// A raw control-channel socket for load generation: writes pre-encoded lines, and reads with one
/// large buffer, handing each complete line (without its newline) to a callback as a span, with
/// no allocation per line. Parsing is left to the caller, who looks only at what it needs.
/// </summary>
public sealed class LineSocket : IDisposable
{
    private readonly Stream _stream;
    private byte[] _buffer;

    private LineSocket(Stream stream, int bufferBytes)
    {
        _stream = stream;
        // On the pinned heap, which only full collections visit: a burst's thousands of clients each
        // hold a buffer for their whole life, and on the normal heap every gen0 and gen1 collection of
        // this process copied the newest of them (6,000 x 64 KiB in a presence burst: pauses of
        // 15-127 ms that stopped the probes' threads too, and counted in their round trips).
        _buffer = GC.AllocateUninitializedArray<byte>(bufferBytes, pinned: true);
    }

    /// <summary>Connects, over TLS when <paramref name="tls"/> is given (the server's <see cref="ServerProcess.ClientTls"/>).</summary>
    public static async Task<LineSocket> ConnectAsync(IPEndPoint endpoint, int bufferBytes, CancellationToken cancel, ClientTls? tls = null) =>
        new((await ClientTransport.ConnectAsync(endpoint.Address.ToString(), endpoint.Port, tls, bufferBytes, cancel)).Stream, bufferBytes);

    public static byte[] Hello(string user) => Encoding.UTF8.GetBytes($"{{\"type\":\"hello\",\"user\":\"{user}\"}}\n");

    public async ValueTask SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancel)
    {
        await _stream.WriteAsync(bytes, cancel);
    }

    /// <summary>Called for each line with the <see cref="System.Diagnostics.Stopwatch"/> timestamp of the read that completed it; return false to stop reading.</summary>
    public delegate bool LineHandler(ReadOnlySpan<byte> line, long receivedTimestamp);

    /// <summary>
    /// Reads until the peer closes, <paramref name="onLine"/> returns false, or <paramref name="cancel"/> fires
    /// (then it returns quietly). A connection reset also just ends the loop.
    /// </summary>
    public async Task ReadLinesAsync(LineHandler onLine, CancellationToken cancel)
    {
        int start = 0, end = 0;
        try
        {
            while (true)
            {
                MakeRoom(ref start, ref end);
                int n = await _stream.ReadAsync(_buffer.AsMemory(end), cancel);
                if (n == 0 || !Dispatch(onLine, System.Diagnostics.Stopwatch.GetTimestamp(), ref start, ref end, n)) return;
            }
        }
        catch (OperationCanceledException) { }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
    }

    /// <summary>
    /// Reads as <see cref="ReadLinesAsync"/> does, with blocking reads on a thread of its own: a probe's
    /// clock then does not wait for the thread pool, which thousands of load sockets keep busy in
    /// this process. Ends when the peer closes, <paramref name="onLine"/> returns false or the socket is disposed.
    /// </summary>
    public Thread ReadLinesOnOwnThread(LineHandler onLine, string name)
    {
        var thread = new Thread(() =>
        {
            int start = 0, end = 0;
            try
            {
                while (true)
                {
                    MakeRoom(ref start, ref end);
                    int n = _stream.Read(_buffer.AsSpan(end));
                    if (n == 0 || !Dispatch(onLine, System.Diagnostics.Stopwatch.GetTimestamp(), ref start, ref end, n)) return;
                }
            }
            catch (IOException) { }
            catch (ObjectDisposedException) { }
        }) { IsBackground = true, Name = name };
        thread.Start();
        return thread;
    }

    /// <summary>Writes on the calling thread (see <see cref="ReadLinesOnOwnThread"/>).</summary>
    public void Send(ReadOnlySpan<byte> bytes) => _stream.Write(bytes);

    /// <summary>Makes room after <paramref name="end"/>: moves the unfinished line to the front, or grows the buffer for a line longer than it.</summary>
    private void MakeRoom(ref int start, ref int end)
    {
        if (end < _buffer.Length) return;
        if (start > 0)
        {
            Buffer.BlockCopy(_buffer, start, _buffer, 0, end - start);
            end -= start;
            start = 0;
        }
        else
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
    }

    /// <summary>Hands <paramref name="onLine"/> each line completed by the <paramref name="read"/> bytes just read after <paramref name="end"/>.</summary>
    private bool Dispatch(LineHandler onLine, long now, ref int start, ref int end, int read)
    {
        int scanFrom = end;
        end += read;
        if (!DispatchLines(onLine, now, ref start, scanFrom, end)) return false;
        if (start == end) start = end = 0;
        return true;
    }

    private bool DispatchLines(LineHandler onLine, long now, ref int start, int scanFrom, int end)
    {
        var span = _buffer.AsSpan();
        while (true)
        {
            int newline = span[scanFrom..end].IndexOf((byte)'\n');
            if (newline < 0) return true;
            int lineEnd = scanFrom + newline;
            if (!onLine(span[start..lineEnd], now)) return false;
            start = scanFrom = lineEnd + 1;
        }
    }

    public void Dispose() => _stream.Dispose();
}

/// <summary>Minimal, allocation-free looks into server lines: the encoder always writes "type" first.</summary>
public static class Lines
{
    public static ReadOnlySpan<byte> Msg => "{\"type\":\"msg\""u8;
    public static ReadOnlySpan<byte> Pm => "{\"type\":\"pm\""u8;
    public static ReadOnlySpan<byte> Welcome => "{\"type\":\"welcome\""u8;
    public static ReadOnlySpan<byte> Joined => "{\"type\":\"joined\""u8;
    public static ReadOnlySpan<byte> Left => "{\"type\":\"left\""u8;
    public static ReadOnlySpan<byte> Users => "{\"type\":\"users\""u8;
    public static ReadOnlySpan<byte> Error => "{\"type\":\"error\""u8;

    /// <summary>The raw value of a string field (escapes left as they are), or empty when absent.</summary>
    public static ReadOnlySpan<byte> StringField(ReadOnlySpan<byte> line, ReadOnlySpan<byte> quotedNameColonQuote)
    {
        int at = line.IndexOf(quotedNameColonQuote);
        if (at < 0) return default;
        var rest = line[(at + quotedNameColonQuote.Length)..];
        int close = rest.IndexOf((byte)'"');
        return close < 0 ? default : rest[..close];
    }

    /// <summary>How many names the <c>users</c> array of a welcome or users line holds (names never contain quotes).</summary>
    public static int ListedUsers(ReadOnlySpan<byte> line)
    {
        int at = line.IndexOf("\"users\":["u8);
        if (at < 0) return 0;
        var list = line[(at + 9)..];
        int close = list.IndexOf((byte)']');
        return (close < 0 ? list : list[..close]).Count((byte)'"') / 2;
    }
}
