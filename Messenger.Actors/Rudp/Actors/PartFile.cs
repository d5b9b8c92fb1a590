using System.IO.MemoryMappedFiles;

namespace Messenger.Rudp.Actors;

/// <summary>
/// The <c>NAME.part</c> file a reliable-UDP download writes into. Segments arrive in any order
/// and each goes straight to its offset; the file is memory-mapped so that is a copy, not a
/// system call per datagram. Created at its full size up front.
/// </summary>
public sealed class PartFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;

    public PartFile(string path, long size)
    {
        Path = path;
        if (size == 0)
        {
            File.WriteAllBytes(path, []); // an empty file cannot be mapped
            return;
        }
        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Create, mapName: null, size, MemoryMappedFileAccess.ReadWrite);
        _view = _map.CreateViewAccessor(0, size, MemoryMappedFileAccess.Write);
    }

    public string Path { get; }

    public void Write(long offset, byte[] source, int sourceOffset, int count) =>
        _view!.WriteArray(offset, source, sourceOffset, count);

    /// <summary>Flushes the mapped pages to the file and closes it.</summary>
    public void Complete()
    {
        _view?.Flush();
        Dispose();
    }

    public void Dispose()
    {
        _view?.Dispose();
        _map?.Dispose();
    }
}
