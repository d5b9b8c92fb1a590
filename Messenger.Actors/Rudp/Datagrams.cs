using System.Buffers;
using System.Net;

namespace Messenger.Rudp;

/// <summary>
/// Datagrams for one peer back to back in one pooled buffer, as one send puts them on the wire:
/// each is <see cref="SegmentSize"/> bytes but the last, which may be shorter (the shape UDP
/// segmentation offload sends in one system call). Filled by its sender, then owned by the wire,
/// which calls <see cref="Release"/> once it has sent it.
/// </summary>
public sealed class DatagramBurst
{
    /// <summary>Most bytes in one burst: a UDP datagram's limit (65,507) rounded down, which GSO hands the kernel in one piece.</summary>
    public const int MaxBytes = 65_000;

    /// <summary>Most datagrams in one burst (the kernel's segment limit, UDP_MAX_SEGMENTS, is 64 on older kernels).</summary>
    public const int MaxCount = 64;

    private byte[]? _buffer;

    public DatagramBurst(int segmentSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(segmentSize);
        SegmentSize = segmentSize;
        Capacity = Math.Min(MaxCount, MaxBytes / segmentSize);
        _buffer = ArrayPool<byte>.Shared.Rent(Capacity * segmentSize);
    }

    /// <summary>Size of every datagram but the last.</summary>
    public int SegmentSize { get; }

    /// <summary>Most datagrams this burst holds.</summary>
    public int Capacity { get; }

    /// <summary>Datagrams in the burst.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes of all datagrams together.</summary>
    public int Length { get; private set; }

    /// <summary>No datagram fits any more: it is at capacity, or its last datagram is short.</summary>
    public bool IsFull => Count == Capacity || Length != Count * SegmentSize;

    /// <summary>All datagrams, back to back.</summary>
    public ReadOnlySpan<byte> Bytes => Buffer.AsSpan(0, Length);

    /// <summary>Datagram <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> this[int index] => Buffer.AsSpan(index * SegmentSize, Math.Min(SegmentSize, Length - index * SegmentSize));

    /// <summary>Where the next datagram goes (<see cref="SegmentSize"/> bytes); <see cref="Commit"/> it once written.</summary>
    public Span<byte> Next()
    {
        if (IsFull) throw new InvalidOperationException("the burst is full");
        return Buffer.AsSpan(Length, SegmentSize);
    }

    /// <summary>The datagram written at <see cref="Next"/> is <paramref name="length"/> bytes (shorter than a segment only for the last).</summary>
    public void Commit(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, SegmentSize);
        Count++;
        Length += length;
    }

    /// <summary>Gives the buffer back to the pool; the burst is unusable afterwards.</summary>
    public void Release()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
    }

    private byte[] Buffer => _buffer ?? throw new ObjectDisposedException(nameof(DatagramBurst));
}

/// <summary>
/// Datagrams that were waiting in the socket together, in arrival order, in one reused buffer:
/// the receive loop hands over everything one system call returned as one message, so a burst
/// costs one actor hop and no allocation per datagram. The receiver reads each datagram as a span
/// and calls <see cref="Release"/> when done (the buffer goes back to the socket's pool), so it
/// must copy whatever it keeps.
/// </summary>
public sealed class DatagramsReceived
{
    private readonly BatchPool? _pool;
    private (int Offset, int Length, IPEndPoint From)[] _entries = new (int, int, IPEndPoint)[64];

    internal DatagramsReceived(int bufferBytes, BatchPool? pool)
    {
        Buffer = GC.AllocateUninitializedArray<byte>(bufferBytes, pinned: true);
        _pool = pool;
    }

    /// <summary>A batch of copies of <paramref name="datagrams"/>, in order.</summary>
    public DatagramsReceived(IReadOnlyCollection<(byte[] Data, IPEndPoint From)> datagrams) : this(datagrams.Sum(d => d.Data.Length), pool: null)
    {
        int offset = 0;
        foreach (var (data, from) in datagrams)
        {
            data.CopyTo(Buffer, offset);
            Add(offset, data.Length, from);
            offset += data.Length;
        }
    }

    /// <summary>Where the datagrams are; the receive loop writes into it (pinned: the kernel writes into it directly).</summary>
    internal byte[] Buffer { get; }

    /// <summary>Datagrams in the batch.</summary>
    public int Count { get; private set; }

    /// <summary>Datagram <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Data(int index) => Buffer.AsSpan(_entries[index].Offset, _entries[index].Length);

    /// <summary>Who sent datagram <paramref name="index"/>.</summary>
    public IPEndPoint From(int index) => _entries[index].From;

    internal void Add(int offset, int length, IPEndPoint from)
    {
        if (Count == _entries.Length) Array.Resize(ref _entries, Count * 2);
        _entries[Count++] = (offset, length, from);
    }

    internal void Clear() => Count = 0;

    /// <summary>
    /// Keeps datagram i <paramref name="copies"/>[i] times (0: dropped), in order, without moving
    /// a byte: a second copy is one more entry for the same bytes. What a lossy link does to a batch.
    /// </summary>
    internal void Keep(ReadOnlySpan<byte> copies)
    {
        if (copies.Length != Count) throw new ArgumentException("one count per datagram", nameof(copies));
        int kept = 0;
        bool inPlace = true; // no entry is overwritten before it is read
        for (int i = 0; i < copies.Length; i++)
        {
            kept += copies[i];
            inPlace &= kept <= i + 1;
        }
        var entries = inPlace ? _entries : new (int, int, IPEndPoint)[Math.Max(kept, _entries.Length)];
        int write = 0;
        for (int i = 0; i < copies.Length; i++)
            for (int c = 0; c < copies[i]; c++)
                entries[write++] = _entries[i];
        _entries = entries;
        Count = kept;
    }

    /// <summary>The receiver is done with every datagram: the buffer can take the next batch.</summary>
    public void Release()
    {
        if (_pool is null) return;
        Clear();
        _pool.Return(this);
    }
}
