using System.IO.MemoryMappedFiles;
using System.Security.Cryptography;

namespace Messenger.Client;

/// <summary>
/// The <c>NAME.part</c> file a reliable-UDP download writes into. Segments arrive in any order
/// and each goes straight to its offset; the file is memory-mapped so that is a copy, not a
/// system call per datagram. Created at its full size up front. The SHA-256 is computed as the
/// in-order prefix grows (<see cref="HashUpTo"/>), so checking the file at the end only has the
/// last bytes left to hash.
/// </summary>
public sealed class PartFile : IDisposable
{
    private const int HashChunkBytes = 1 << 20;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly long _size;
    private byte[]? _chunk;
    private long _hashed;

    public PartFile(string path, long size)
    {
        _size = size;
        if (size == 0)
        {
            File.WriteAllBytes(path, []); // an empty file cannot be mapped
            return;
        }
        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Create, mapName: null, size, MemoryMappedFileAccess.ReadWrite);
        _view = _map.CreateViewAccessor(0, size, MemoryMappedFileAccess.ReadWrite);
    }

    public void Write(long offset, ReadOnlySpan<byte> data) =>
        _view!.SafeMemoryMappedViewHandle.WriteSpan((ulong)(_view.PointerOffset + offset), data);

    /// <summary>
    /// Every byte below <paramref name="offset"/> has arrived: hash them, a megabyte at a time
    /// (smaller remainders wait for more, unless <paramref name="offset"/> is the end).
    /// </summary>
    public void HashUpTo(long offset)
    {
        while (offset - _hashed >= HashChunkBytes || (offset == _size && _hashed < _size))
        {
            int count = (int)Math.Min(HashChunkBytes, offset - _hashed);
            _chunk ??= new byte[HashChunkBytes];
            _view!.SafeMemoryMappedViewHandle.ReadSpan((ulong)(_view.PointerOffset + _hashed), _chunk.AsSpan(0, count));
            _hash.AppendData(_chunk, 0, count);
            _hashed += count;
        }
    }

    /// <summary>Hashes what is left, flushes the mapped pages to the file and closes it; returns the SHA-256 (lower-case hex).</summary>
    public string Complete()
    {
        HashUpTo(_size);
        _view?.Flush();
        Dispose();
        return Convert.ToHexStringLower(_hash.GetHashAndReset());
    }

    public void Dispose()
    {
        _view?.Dispose();
        _map?.Dispose();
    }
}
