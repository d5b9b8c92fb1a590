using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Messenger.Client;

/// <summary>
/// The <c>NAME.part</c> file a reliable-UDP download writes into, created at its full size up
/// front. Segments arrive in any order; each is copied into a staging buffer while it continues
/// the run before it, and a run goes to the file in one positioned write when it breaks or the
/// buffer is full (a few hundred writes for 67 MB: writing through a memory map instead cost a
/// page fault per 4 KiB, three times the time). The SHA-256 is computed as the in-order prefix
/// grows: straight from the staging buffer when a run starts where the hash stands (no loss),
/// read back from the file once a hole is filled (<see cref="HashUpTo"/>), so checking the file
/// at the end only has the last bytes left to hash. Like the TCP download, the file is left to the
/// page cache: nothing waits for the disk.
/// </summary>
public sealed class PartFile : IDisposable
{
    private const int StageBytes = 256 * 1024;
    private const int HashChunkBytes = 1 << 20;

    private readonly SafeFileHandle _file;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly long _size;
    private readonly byte[] _stage = new byte[StageBytes];
    private long _stageOffset;
    private int _staged;
    private long _hashed;
    private long _complete;
    private byte[]? _readBack;

    public PartFile(string path, long size)
    {
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
    }

    /// <summary>The bytes at <paramref name="offset"/> arrived (once: the receive window drops duplicates).</summary>
    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        if ((ulong)offset > (ulong)_size || data.Length > _size - offset) throw new ArgumentOutOfRangeException(nameof(offset));
        ObjectDisposedException.ThrowIf(_file.IsClosed, this);
        if (_staged > 0 && (offset != _stageOffset + _staged || _staged + data.Length > StageBytes)) Flush();
        if (data.Length > StageBytes)
        {
            RandomAccess.Write(_file, data, offset);
            return;
        }
        if (_staged == 0) _stageOffset = offset;
        data.CopyTo(_stage.AsSpan(_staged));
        _staged += data.Length;
    }

    /// <summary>
    /// Every byte below <paramref name="offset"/> has arrived. Hashed already when it came in
    /// order; after a hole is filled, read back and hashed a megabyte at a time (smaller remainders
    /// wait for more, unless <paramref name="offset"/> is the end).
    /// </summary>
    public void HashUpTo(long offset)
    {
        ObjectDisposedException.ThrowIf(_file.IsClosed, this);
        _complete = Math.Max(_complete, offset);
        if (_complete - _hashed >= HashChunkBytes || (_complete == _size && _hashed < _size)) Flush();
    }

    /// <summary>Writes and hashes what is left and closes the file; returns the SHA-256 (lower-case hex).</summary>
    public string Complete()
    {
        _complete = _size;
        Flush();
        Dispose();
        return Convert.ToHexStringLower(_hash.GetHashAndReset());
    }

    public void Dispose() => _file.Dispose();

    /// <summary>Writes the staged run; hashes it when it continues the hashed prefix, and reads back what a filled hole completed.</summary>
    private void Flush()
    {
        if (_staged > 0)
        {
            var run = _stage.AsSpan(0, _staged);
            RandomAccess.Write(_file, run, _stageOffset);
            if (_stageOffset == _hashed)
            {
                _hash.AppendData(run);
                _hashed += _staged;
                _complete = Math.Max(_complete, _hashed);
            }
            _staged = 0;
        }
        while (_complete - _hashed >= HashChunkBytes || (_complete == _size && _hashed < _size))
        {
            _readBack ??= new byte[HashChunkBytes];
            int count = (int)Math.Min(HashChunkBytes, _complete - _hashed);
            int read = RandomAccess.Read(_file, _readBack.AsSpan(0, count), _hashed);
            if (read != count) throw new IOException($"the part file is shorter than the {_complete} bytes written to it");
            _hash.AppendData(_readBack, 0, count);
            _hashed += count;
        }
    }
}
