using System.Buffers;
using System.IO.Pipelines;
using Akka.Actor;

namespace Messenger.Net;

/// <summary>
/// The outbound side of one connection, used from inside its owning actor. Frames are queued
/// here and written to the connection's pipe in batches: an idle queue does not write the first
/// frame at once but tells its owner <see cref="Flush"/>, which queues behind whatever is already
/// in the owner's mailbox, so a burst of deliveries that arrived together leaves in one write. One
/// flush is in flight at a time, and at most about <c>writeChunkBytes</c> (of a large frame, a
/// slice) are copied into the pipe before it: while the transport holds more than its pause
/// threshold (the peer is not reading), the flush stays pending and frames wait here. Waiting here a frame costs a reference to the
/// bytes every member of its room shares; copied into the pipe it costs its length for each
/// connection, so a flood that clients read more slowly than it arrives does not turn into a
/// private copy per client (200 clients 20,000 messages behind held 450 MB of pipe buffers, and
/// collecting them stalled the server for seconds). The bytes waiting here are bounded:
/// <see cref="Enqueue"/> returns false past the limit, and the owner drops the client as slow. The
/// owner hands every <see cref="Signal"/> to <see cref="Handle"/>.
/// </summary>
public sealed class OutboundQueue
{
    /// <summary>The queue's own messages, sent to its owner and handed back through <see cref="Handle"/>.</summary>
    public abstract record Signal;
    /// <summary>The owner's cue to write what has been queued.</summary>
    public sealed record Flush : Signal { public static readonly Flush Instance = new(); }
    /// <summary>A flush that had to wait for the peer has finished; <see cref="PeerGone"/> if the socket is gone.</summary>
    public sealed record Flushed(bool PeerGone) : Signal;

    private readonly PipeWriter _output;
    private readonly IActorRef _owner;
    private readonly long _limitBytes;
    private readonly long _writeChunkBytes;
    /// <summary>Replaced by a new, empty one (which has no array yet) whenever it drains, so an idle
    /// connection holds no array, and a burst (a mass login's join notices) leaves no large one.</summary>
    private Queue<byte[]> _queued = new();
    /// <summary>
    /// A frame larger than this (a welcome or <c>users</c> list, a history page) is handed to the
    /// transport alone, a slice at a time. The transport's pipe keeps, for the connection's life,
    /// every 4 KiB segment it ever needed at once: whole, the welcome of the 10,000th client (100 KB)
    /// left 25 of them (2.4 KB) on an idle connection. Small frames still go in chunks of up to
    /// <c>writeChunkBytes</c>, so a flood costs no more writes.
    /// </summary>
    private const int SliceBytes = 4096;
    /// <summary>How much of the first queued frame is already in the transport, when it goes in slices.</summary>
    private int _sentOfFirst;
    private long _queuedBytes;
    private bool _flushScheduled;
    private bool _flushPending;
    private bool _closeWhenFlushed;
    private Action? _onClose;

    /// <param name="writeChunkBytes">Copied into the pipe per flush (the transport's pause threshold).</param>
    public OutboundQueue(PipeWriter output, IActorRef owner, long limitBytes, long writeChunkBytes)
    {
        _output = output;
        _owner = owner;
        _limitBytes = limitBytes;
        _writeChunkBytes = writeChunkBytes;
    }

    /// <summary>Bytes queued here and not yet handed to the transport (at most about one chunk is handed over at a time).</summary>
    public long PendingBytes => _queuedBytes;

    /// <summary>True while the transport is full and a flush waits for the peer to read.</summary>
    public bool IsBlocked => _flushPending;

    /// <summary>Queues <paramref name="bytes"/>; false if that would pass the limit (nothing is queued then).</summary>
    public bool Enqueue(byte[] bytes)
    {
        if (_queuedBytes + bytes.Length > _limitBytes) return false;
        _queued.Enqueue(bytes);
        _queuedBytes += bytes.Length;
        if (!_flushPending && !_flushScheduled)
        {
            _flushScheduled = true;
            _owner.Tell(Flush.Instance, _owner);
        }
        return true;
    }

    /// <summary>
    /// Queues one frame given as <paramref name="parts"/> written one after another (a welcome: its
    /// head, the online list every welcome of its window shares, its tail); all or nothing, false if
    /// that would pass the limit. A shared part waits here as a reference, like a shared frame.
    /// </summary>
    public bool Enqueue(IReadOnlyList<byte[]> parts)
    {
        long bytes = 0;
        foreach (var part in parts) bytes += part.Length;
        if (_queuedBytes + bytes > _limitBytes) return false;
        foreach (var part in parts) Enqueue(part);
        return true;
    }

    /// <summary>Handles one of this queue's own messages; returns false if the peer is gone.</summary>
    public bool Handle(Signal signal)
    {
        switch (signal)
        {
            case Flush:
                _flushScheduled = false;
                if (!_flushPending) return WriteQueued();
                return true;
            case Flushed flushed:
                _flushPending = false;
                return !flushed.PeerGone && WriteQueued();
            default:
                return true;
        }
    }

    /// <summary>Runs <paramref name="close"/> once everything queued has been handed to the transport.</summary>
    public void CloseWhenFlushed(Action close)
    {
        _closeWhenFlushed = true;
        _onClose = close;
        if (!_flushPending && _queuedBytes == 0 && !_flushScheduled) CloseNow();
    }

    /// <summary>
    /// Hands the transport a chunk at a time, as long as it takes them without waiting; stops at the
    /// first flush that has to wait for the peer (<see cref="Flushed"/> continues).
    /// </summary>
    private bool WriteQueued()
    {
        try
        {
            while (_queuedBytes > 0)
            {
                long written = 0;
                while (written < _writeChunkBytes && _queued.TryPeek(out var bytes))
                {
                    if (bytes.Length > SliceBytes)
                    {
                        // A large frame goes alone, a slice per flush.
                        if (written > 0) break;
                        int slice = Math.Min(bytes.Length - _sentOfFirst, SliceBytes);
                        _output.Write(bytes.AsSpan(_sentOfFirst, slice));
                        written = slice;
                        _sentOfFirst += slice;
                        if (_sentOfFirst < bytes.Length) break;
                        _sentOfFirst = 0;
                    }
                    else
                    {
                        _output.Write(bytes);
                        written += bytes.Length;
                    }
                    _queued.Dequeue();
                }
                _queuedBytes -= written;
                if (_queued.Count == 0) _queued = new Queue<byte[]>();
                var flush = _output.FlushAsync();
                if (!flush.IsCompleted)
                {
                    _flushPending = true;
                    flush.AsTask().PipeTo(_owner, _owner,
                        success: result => new Flushed(result.IsCompleted),
                        failure: _ => new Flushed(PeerGone: true));
                    return true;
                }
                if (flush.Result.IsCompleted) return false;
            }
            if (_closeWhenFlushed) CloseNow();
            return true;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or OperationCanceledException)
        {
            return false; // the pipe was completed under us: the connection is gone
        }
    }

    private void CloseNow()
    {
        var close = _onClose;
        _onClose = null;
        close?.Invoke();
    }
}
