namespace Messenger.Protocol;

/// <summary>
/// Splits a TCP byte stream into lines. Pure and allocation-light: complete lines come out
/// without their <c>\n</c> or <c>\r\n</c>, copied straight from the bytes fed; only the start of
/// a line whose end has not arrived yet is kept, in a buffer that exists only while it does (an
/// idle connection, whose pings arrive whole, holds none). A line longer than the limit is
/// refused as soon as it passes the limit, even before its newline arrives, so a client cannot
/// make the server buffer an endless line.
/// </summary>
public sealed class LineFramer
{
    /// <summary>The first buffer for a partial line; it doubles up to the limit as needed.</summary>
    private const int FirstBufferBytes = 256;
    private readonly int _maxLineBytes;
    private byte[]? _buffer;
    private int _count;

    public LineFramer(int maxLineBytes)
    {
        if (maxLineBytes <= 0) throw new ArgumentOutOfRangeException(nameof(maxLineBytes));
        _maxLineBytes = maxLineBytes;
    }

    /// <summary>Bytes received that do not yet form a complete line.</summary>
    public int BufferedBytes => _count;

    /// <summary>True while part of a line is kept (and with it a buffer).</summary>
    public bool HoldsBuffer => _buffer is not null;

    /// <summary>
    /// Appends <paramref name="data"/> and hands every complete line that is not blank (empty, or only spaces and tabs) to
    /// <paramref name="onLine"/>. Returns false (and stops) once a line exceeds the limit;
    /// the framer is then unusable, as the connection is about to be closed.
    /// </summary>
    public bool Feed(ReadOnlySpan<byte> data, Action<byte[]> onLine)
    {
        while (!data.IsEmpty)
        {
            int newline = data.IndexOf((byte)'\n');
            var chunk = newline < 0 ? data : data[..newline];
            if (_count + chunk.Length > _maxLineBytes + 1) // +1 leaves room for a trailing '\r'
            {
                return false;
            }
            if (newline < 0)
            {
                Append(chunk);
                break;
            }
            // The line is the kept start plus this chunk, or (usually) the chunk alone.
            ReadOnlySpan<byte> line = chunk;
            if (_count > 0)
            {
                Append(chunk);
                line = _buffer.AsSpan(0, _count);
            }
            if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
            if (line.Length > _maxLineBytes) return false;
            // The consumer gets its own copy: lines outlive the bytes they arrived in.
            if (line.IndexOfAnyExcept((byte)' ', (byte)'\t') >= 0) onLine(line.ToArray());
            _count = 0;
            _buffer = null;
            data = data[(newline + 1)..];
        }
        // An unterminated line that already passed the limit (a '\r' can only end a line).
        if (_count > _maxLineBytes && !(_count == _maxLineBytes + 1 && _buffer![_count - 1] == (byte)'\r'))
        {
            return false;
        }
        return true;
    }

    private void Append(ReadOnlySpan<byte> chunk)
    {
        if (chunk.IsEmpty) return;
        if (_count + chunk.Length > (_buffer?.Length ?? 0))
        {
            int size = Math.Min(Math.Max(Math.Max(_buffer?.Length * 2 ?? 0, FirstBufferBytes), _count + chunk.Length), _maxLineBytes + 2);
            Array.Resize(ref _buffer, size);
        }
        chunk.CopyTo(_buffer.AsSpan(_count));
        _count += chunk.Length;
    }
}
