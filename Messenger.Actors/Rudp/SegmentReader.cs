using Microsoft.Win32.SafeHandles;

namespace Messenger.Rudp;

/// <summary>
/// Reads segment payloads from the file being sent. New segments go out in order, so they are
/// served from a read-ahead block (one large read per ~700 segments instead of one per
/// datagram); retransmissions, which jump back, read directly. The handle belongs to the caller.
/// </summary>
public sealed class SegmentReader
{
    private const int SegmentsPerBlock = 704; // 1 MB of 1,452-byte segments

    private readonly SafeFileHandle _file;
    private readonly long _fileSize;
    private readonly int _payloadBytes;
    private readonly byte[] _block;
    private long _blockFirstSegment = -1;
    private int _blockBytes;

    public SegmentReader(SafeFileHandle file, long fileSize, int payloadBytes)
    {
        _file = file;
        _fileSize = fileSize;
        _payloadBytes = payloadBytes;
        _block = new byte[(int)Math.Min((long)SegmentsPerBlock * payloadBytes, fileSize)]; // a small file needs no 1 MB block
    }

    /// <summary>Bytes in segment <paramref name="sequence"/> (the last one may be short).</summary>
    public int PayloadLength(int sequence) => (int)Math.Min(_payloadBytes, _fileSize - (long)sequence * _payloadBytes);

    /// <summary>Copies segment <paramref name="sequence"/>'s payload into <paramref name="destination"/>; returns its length.</summary>
    public int Read(int sequence, Span<byte> destination)
    {
        int length = PayloadLength(sequence);
        long offset = (long)sequence * _payloadBytes;
        long inBlock = sequence - _blockFirstSegment;
        if (_blockFirstSegment < 0 || inBlock < 0 || inBlock * _payloadBytes >= _blockBytes)
        {
            if (_blockFirstSegment >= 0 && inBlock < 0)
            {
                ReadExactly(offset, destination[..length]); // a retransmission behind the block
                return length;
            }
            _blockFirstSegment = sequence;
            _blockBytes = (int)Math.Min(_block.Length, _fileSize - offset);
            ReadExactly(offset, _block.AsSpan(0, _blockBytes));
            inBlock = 0;
        }
        _block.AsSpan((int)inBlock * _payloadBytes, length).CopyTo(destination);
        return length;
    }

    private void ReadExactly(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(_file, destination, offset);
            if (n == 0) throw new IOException("the file shrank while it was being sent");
            destination = destination[n..];
            offset += n;
        }
    }
}
