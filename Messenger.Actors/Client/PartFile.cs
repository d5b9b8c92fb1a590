using System.Buffers;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Messenger.Client;

/// <summary>
/// The <c>NAME.udp-part</c> file a reliable-UDP download writes into, created at its full size up
/// front. Segments arrive in any order; each is copied into a memory window over the bytes just
/// past the in-order prefix (a ring of <see cref="DefaultWindowBytes"/>), and the prefix goes to
/// the file in order as it grows (<see cref="HashUpTo"/>), in positioned writes of at least
/// <see cref="FlushBytes"/>, hashed (SHA-256) from memory on the way. So a lost segment costs
/// neither a write of its own nor a read back of what arrived after it: a hole only waits in the
/// window until its retransmission fills it. A segment beyond the window (a hole that stays open
/// longer than the window) is written to the file at once and read back when the prefix reaches
/// it. (Writing through a memory map instead cost a page fault per 4 KiB, three times the time.)
/// Like the TCP download, the file is left to the page cache: nothing waits for the disk.
/// </summary>
public sealed class PartFile : IDisposable
{
    /// <summary>
    /// Bytes the window holds beyond the in-order prefix: 5,777 segments of 1,452 bytes, more than
    /// the sender's 2,048-segment window plus what arrives while a hole lost twice stays open.
    /// </summary>
    public const int DefaultWindowBytes = 8 * 1024 * 1024;

    /// <summary>The in-order prefix goes to the file once this much of it is waiting (and at the end).</summary>
    private const int FlushBytes = 256 * 1024;

    private const int ReadBackBytes = 1 << 20;

    /// <summary>
    /// Where the download of <paramref name="target"/> is written: <c>NAME.udp-part</c>, never the TCP
    /// download's <c>NAME.part</c>. This file has the full size from the start and fills out of order,
    /// so its length says nothing of what arrived: a TCP download that resumed from it (one killed
    /// mid-transfer leaves it behind) would hash the zeros of its holes, and a UDP download must not
    /// truncate a TCP download's part that could still be resumed.
    /// </summary>
    public static string PathFor(string target) => target + ".udp-part";

    private readonly SafeFileHandle _file;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly long _size;
    private readonly byte[] _window;
    private readonly List<(long Start, long End)> _spilled = []; // written to the file past the window, ascending
    private long _flushed; // bytes below this are in the file and in the hash
    private long _complete; // bytes below this have all arrived
    private byte[]? _readBack;
    private bool _disposed;

    /// <summary>Creates (or truncates) the file at <paramref name="path"/> at its full <paramref name="size"/>.</summary>
    public PartFile(string path, long size, int windowBytes = DefaultWindowBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(windowBytes);
        _size = size;
        _file = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite);
        try
        {
            RandomAccess.SetLength(_file, size);
        }
        catch
        {
            _file.Dispose();
            throw;
        }
        // Pooled: a fresh 8 MiB array costs a page fault per 4 KiB on first touch, for every download.
        _window = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(size, 1, windowBytes));
    }

    /// <summary>Takes <paramref name="data"/> for bytes <paramref name="offset"/>.. of the file (each byte once, in any order).</summary>
    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        if ((ulong)offset > (ulong)_size || data.Length > _size - offset || offset < _flushed) throw new ArgumentOutOfRangeException(nameof(offset));
        ObjectDisposedException.ThrowIf(_file.IsClosed, this);
        long end = offset + data.Length;
        if (end > _flushed + _window.Length && _complete > _flushed) Flush(); // make room
        if (end > _flushed + _window.Length)
        {
            RandomAccess.Write(_file, data, offset);
            int at = _spilled.Count;
            while (at > 0 && _spilled[at - 1].Start > offset) at--;
            _spilled.Insert(at, (offset, end));
            return;
        }
        int position = (int)(offset % _window.Length);
        int first = Math.Min(data.Length, _window.Length - position);
        data[..first].CopyTo(_window.AsSpan(position));
        data[first..].CopyTo(_window);
    }

    /// <summary>Every byte below <paramref name="offset"/> has arrived: the prefix goes to the file and the hash once enough of it waits.</summary>
    public void HashUpTo(long offset)
    {
        ObjectDisposedException.ThrowIf(_file.IsClosed, this);
        _complete = Math.Max(_complete, offset);
        if (_complete - _flushed >= FlushBytes || (_complete == _size && _flushed < _size)) Flush();
    }

    /// <summary>Writes and hashes what is left, closes the file and returns its SHA-256 (lowercase hex).</summary>
    public string Complete()
    {
        _complete = _size;
        Flush();
        Dispose();
        return Convert.ToHexStringLower(_hash.GetHashAndReset());
    }

    public void Dispose()
    {
        _file.Dispose();
        if (_disposed) return;
        _disposed = true;
        ArrayPool<byte>.Shared.Return(_window);
    }

    /// <summary>Writes and hashes the complete prefix: from the window, or read back where it was spilled to the file.</summary>
    private void Flush()
    {
        while (_flushed < _complete)
        {
            if (_spilled.Count > 0 && _spilled[0].Start <= _flushed)
            {
                long spillEnd = Math.Min(_spilled[0].End, _complete);
                if (spillEnd == _spilled[0].End) _spilled.RemoveAt(0);
                while (_flushed < spillEnd)
                {
                    _readBack ??= new byte[ReadBackBytes];
                    int count = (int)Math.Min(ReadBackBytes, spillEnd - _flushed);
                    int read = RandomAccess.Read(_file, _readBack.AsSpan(0, count), _flushed);
                    if (read != count) throw new IOException($"the part file is shorter than the {spillEnd} bytes written to it");
                    _hash.AppendData(_readBack, 0, count);
                    _flushed += count;
                }
                continue;
            }
            int position = (int)(_flushed % _window.Length);
            long end = Math.Min(_complete, _flushed + (_window.Length - position)); // up to the ring's end
            if (_spilled.Count > 0) end = Math.Min(end, _spilled[0].Start);
            var run = _window.AsSpan(position, (int)(end - _flushed));
            RandomAccess.Write(_file, run, _flushed);
            _hash.AppendData(run);
            _flushed = end;
        }
    }
}
