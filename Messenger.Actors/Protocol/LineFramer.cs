namespace Messenger.Protocol;

/// <summary>
/// Splits a TCP byte stream into lines. Pure and allocation-light: bytes are appended as they
/// arrive, complete lines come out without their <c>\n</c> or <c>\r\n</c>. A line longer than
/// the limit is refused as soon as it passes the limit, even before its newline arrives, so a
/// client cannot make the server buffer an endless line.
/// </summary>
public sealed class LineFramer
{
    private readonly int _maxLineBytes;
    private byte[] _buffer;
    private int _count;

    public LineFramer(int maxLineBytes)
    {
        if (maxLineBytes <= 0) throw new ArgumentOutOfRangeException(nameof(maxLineBytes));
        _maxLineBytes = maxLineBytes;
        _buffer = new byte[Math.Min(maxLineBytes + 2, 256)]; // grows on demand: most connections only ever see short lines
    }

    /// <summary>Bytes received that do not yet form a complete line.</summary>
    public int BufferedBytes => _count;

    /// <summary>
    /// Appends <paramref name="data"/> and hands every complete, non-blank line to
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
            Append(chunk);
            if (newline < 0) break;

            int length = _count;
            if (length > 0 && _buffer[length - 1] == (byte)'\r') length--;
            if (length > _maxLineBytes) return false;
            if (length > 0)
            {
                // The consumer gets its own copy: lines outlive the buffer they arrived in.
                onLine(_buffer.AsSpan(0, length).ToArray());
            }
            _count = 0;
            data = data[(newline + 1)..];
        }
        // An unterminated line that already passed the limit (a '\r' can only end a line).
        if (_count > _maxLineBytes && !(_count == _maxLineBytes + 1 && _buffer[_count - 1] == (byte)'\r'))
        {
            return false;
        }
        return true;
    }

    private void Append(ReadOnlySpan<byte> chunk)
    {
        if (chunk.IsEmpty) return;
        if (_count + chunk.Length > _buffer.Length)
        {
            int size = Math.Min(Math.Max(_buffer.Length * 2, _count + chunk.Length), _maxLineBytes + 2);
            Array.Resize(ref _buffer, size);
        }
        chunk.CopyTo(_buffer.AsSpan(_count));
        _count += chunk.Length;
    }
}
