using System.Buffers;
using System.IO.Pipelines;
using Akka.Actor;

namespace Messenger.Net;

/// <summary>
/// The outbound side of one connection: frames are queued here and written to the connection's
/// pipe in chunks. Any actor may queue a frame, under one lock (uncontended, tens of ns; the copy
/// into the pipe and the socket's write happen outside it): its owning actor its own answers
/// (<see cref="WriteNow"/>: written at once from its thread), and the actors that fan out to it (a
/// room, the presence actor: <see cref="Write(byte[], FlushLane)"/>) theirs, in their own turn, so
/// a fan-out to n members costs no actor turn per member. A fan-out's frame is written by the
/// writer's <see cref="FlushLane"/>, a task per core on the thread pool that writes every queue
/// handed to it meanwhile, so what arrives together (a room's successive batches during a flood)
/// leaves in one write, and a fan-out to n members costs a task per core, not n. One flush is in flight at a time,
/// and at most about <c>writeChunkBytes</c> (of a large frame, a slice) are copied into the pipe
/// before it: while the transport holds more than its pause threshold (the peer is not reading),
/// the flush waits and frames wait here; its completion queues the next chunk's write on the
/// thread pool. Waiting here a frame costs a reference to the bytes every member
/// of its room shares; copied into the pipe it costs its length for each connection, so a flood
/// that clients read more slowly than it arrives does not turn into a private copy per client (200
/// clients 20,000 messages behind held 450 MB of pipe buffers, and collecting them stalled the
/// server for seconds). The bytes waiting here are bounded: past the limit the queue is dropped (it
/// takes nothing more) and tells its owner <see cref="Dropped"/>, which drops the client as slow.
/// Frames leave in the order they were queued, so each writer's in its order; the owner learns what
/// it waits for (<see cref="WakeAtMost"/>, <see cref="WakeWhenFlushed"/>) as <see cref="Drained"/>.
/// </summary>
public sealed class OutboundQueue
{
    /// <summary>The queue's own messages to its owner.</summary>
    public abstract record Signal;
    /// <summary>What the owner asked to wait for (<see cref="WakeAtMost"/>, <see cref="WakeWhenFlushed"/>) has happened.</summary>
    public sealed record Drained : Signal { public static readonly Drained Instance = new(); }
    /// <summary>The queue takes nothing more: past its limit (<paramref name="Slow"/>), or the peer is gone.</summary>
    public sealed record Dropped(bool Slow) : Signal;

    private readonly object _lock = new();
    private readonly PipeWriter _output;
    private readonly IActorRef _owner;
    private readonly long _limitBytes;
    private readonly long _writeChunkBytes;
    /// <summary>A queue that held more frames than this at once is replaced once drained, so a burst
    /// (a mass login's join notices) does not leave every idle connection holding a large array.</summary>
    private const int KeptQueueCapacity = 16;

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
    private int _queuedHighWater;
    private long _queuedBytes;
    private bool _laneScheduled;
    /// <summary>One writer owns the pipe, from its first write until nothing is left (through a flush that waits for the peer).</summary>
    private bool _writing;
    private bool _flushPending;
    private ValueTask<FlushResult> _pendingFlush;
    private Action? _onFlushed;
    /// <summary>Past the limit, the peer gone, or closed by the owner: nothing more is queued or written.</summary>
    private bool _dropped;
    private long _wakeAtMost = -1;
    private bool _wakeWhenFlushed;

    /// <param name="writeChunkBytes">Copied into the pipe per flush (the transport's pause threshold).</param>
    public OutboundQueue(PipeWriter output, IActorRef owner, long limitBytes, long writeChunkBytes)
    {
        _output = output;
        _owner = owner;
        _limitBytes = limitBytes;
        _writeChunkBytes = writeChunkBytes;
    }

    /// <summary>Bytes queued here and not yet handed to the transport (at most about one chunk is handed over at a time).</summary>
    public long PendingBytes => Volatile.Read(ref _queuedBytes);

    /// <summary>
    /// Queues a frame from an actor that fans out (a room, the presence actor): written by that
    /// actor's <paramref name="lane"/>, with whatever else reaches this queue before the lane's turn,
    /// unless a write is under way (which takes it too).
    /// </summary>
    public void Write(byte[] bytes, FlushLane lane)
    {
        lock (_lock)
        {
            if (!Admit(bytes.Length)) return;
            Add(bytes);
            if (!MustSchedule()) return;
        }
        lane.Schedule(this);
    }

    /// <summary>
    /// Queues one frame given as <paramref name="parts"/> written one after another (a welcome: its
    /// head, the online list every welcome of its window shares, its tail); all or nothing. A
    /// shared part waits here as a reference, like a shared frame.
    /// </summary>
    public void Write(IReadOnlyList<byte[]> parts, FlushLane lane)
    {
        lock (_lock)
        {
            if (!Admit(LengthOf(parts))) return;
            foreach (var part in parts) Add(part);
            if (!MustSchedule()) return;
        }
        lane.Schedule(this);
    }

    /// <summary>Queues a frame of the owner's own (an answer, a private message) and writes it now, from the caller's thread, unless a write is under way (which takes it).</summary>
    public void WriteNow(byte[] bytes)
    {
        lock (_lock)
        {
            if (!Admit(bytes.Length)) return;
            Add(bytes);
            if (_writing) return;
            _writing = true;
        }
        Pump();
    }

    /// <summary>True if at most <paramref name="bytes"/> wait now; else the owner is told <see cref="Drained"/> once they do.</summary>
    public bool WakeAtMost(long bytes)
    {
        lock (_lock)
        {
            if (_dropped || _queuedBytes <= bytes) return true;
            _wakeAtMost = bytes;
            return false;
        }
    }

    /// <summary>True if everything queued has been handed to the transport; else the owner is told <see cref="Drained"/> once it has.</summary>
    public bool WakeWhenFlushed()
    {
        lock (_lock)
        {
            if (_dropped || _queuedBytes == 0 && !_writing) return true;
            _wakeWhenFlushed = true;
            return false;
        }
    }

    /// <summary>True once the queue takes nothing more: past its limit, the peer gone, or closed by the owner.</summary>
    public bool IsDropped
    {
        get
        {
            lock (_lock) return _dropped;
        }
    }

    /// <summary>
    /// Takes nothing more and leaves the pipe alone, so that its owner may complete it; what waits
    /// here is dropped. A write in progress (at most one chunk) is waited for.
    /// </summary>
    public void Close()
    {
        lock (_lock)
        {
            Drop();
            while (_writing && !_flushPending) Monitor.Wait(_lock);
        }
    }

    /// <summary>True if <paramref name="bytes"/> more fit; past the limit the queue is dropped and the owner told. Under the lock.</summary>
    private bool Admit(long bytes)
    {
        if (_dropped) return false;
        if (_queuedBytes + bytes <= _limitBytes) return true;
        Drop();
        _owner.Tell(new Dropped(Slow: true), _owner);
        return false;
    }

    private void Add(byte[] bytes)
    {
        _queued.Enqueue(bytes);
        _queuedHighWater = Math.Max(_queuedHighWater, _queued.Count);
        Volatile.Write(ref _queuedBytes, _queuedBytes + bytes.Length);
    }

    private static long LengthOf(IReadOnlyList<byte[]> parts)
    {
        long bytes = 0;
        foreach (var part in parts) bytes += part.Length;
        return bytes;
    }

    /// <summary>True if the queue must be handed to its lane: nobody is writing it (a writer takes what comes meanwhile), and it is not with the lane already.</summary>
    private bool MustSchedule()
    {
        if (_writing || _laneScheduled) return false;
        _laneScheduled = true;
        return true;
    }

    /// <summary>Its lane's turn: writes what waits.</summary>
    private void WriteScheduled()
    {
        lock (_lock)
        {
            _laneScheduled = false;
            if (_writing) return;
            _writing = true;
        }
        Pump();
    }

    private void Drop()
    {
        _dropped = true;
        _queued.Clear();
        _sentOfFirst = 0;
        Volatile.Write(ref _queuedBytes, 0);
    }

    /// <summary>
    /// Writes a chunk at a time while the transport takes them without waiting; a flush that has to
    /// wait continues from its completion. Only the writer that set <see cref="_writing"/> runs it.
    /// The frames are taken under the lock, a few at a time, and copied into the pipe outside it,
    /// so a room that queues a frame meanwhile does not wait for the copy or the socket's write.
    /// </summary>
    private void Pump()
    {
        var taken = new Taken();
        try
        {
            while (true)
            {
                long chunk = 0;
                bool more = true;
                while (more && chunk < _writeChunkBytes)
                {
                    int count;
                    long bytes;
                    lock (_lock)
                    {
                        if (_dropped || chunk == 0 && _queuedBytes == 0)
                        {
                            StopWriting();
                            return;
                        }
                        (count, bytes, more) = Take(ref taken, chunk);
                    }
                    for (int i = 0; i < count; i++) _output.Write(taken[i].Span);
                    taken = default;
                    chunk += bytes;
                }
                var flush = _output.FlushAsync();
                if (!flush.IsCompleted)
                {
                    lock (_lock)
                    {
                        _flushPending = true;
                        _pendingFlush = flush;
                        Monitor.PulseAll(_lock);
                        WakeOwnerIfDue();
                    }
                    flush.GetAwaiter().UnsafeOnCompleted(_onFlushed ??= OnFlushed);
                    return;
                }
                if (flush.Result.IsCompleted) break;
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or OperationCanceledException)
        {
            // the pipe was completed under us: the connection is gone
        }
        lock (_lock)
        {
            PeerGone();
            StopWriting();
        }
    }

    /// <summary>
    /// Takes up to <see cref="Taken"/>'s length of frames (or slices) for a chunk that holds
    /// <paramref name="chunk"/> bytes so far; <c>more</c> is false when the chunk must be flushed
    /// now (nothing left, or a large frame's slice). Under the lock.
    /// </summary>
    private (int Count, long Bytes, bool More) Take(ref Taken taken, long chunk)
    {
        int count = 0;
        long bytes = 0;
        bool more = true;
        while (count < Taken.Length && chunk + bytes < _writeChunkBytes && _queued.TryPeek(out var frame))
        {
            if (frame.Length > SliceBytes)
            {
                // A large frame goes alone, a slice per flush.
                if (chunk + bytes > 0)
                {
                    more = false;
                    break;
                }
                int slice = Math.Min(frame.Length - _sentOfFirst, SliceBytes);
                taken[count++] = frame.AsMemory(_sentOfFirst, slice);
                bytes += slice;
                _sentOfFirst += slice;
                if (_sentOfFirst < frame.Length)
                {
                    more = false;
                    break;
                }
                _sentOfFirst = 0;
            }
            else
            {
                taken[count++] = frame;
                bytes += frame.Length;
            }
            _queued.Dequeue();
        }
        Volatile.Write(ref _queuedBytes, _queuedBytes - bytes);
        if (_queued.Count == 0)
        {
            more = false;
            if (_queuedHighWater > KeptQueueCapacity) _queued = new Queue<byte[]>();
            _queuedHighWater = 0;
        }
        return (count, bytes, more);
    }

    /// <summary>The writer lets go of the pipe. Under the lock.</summary>
    private void StopWriting()
    {
        _writing = false;
        Monitor.PulseAll(_lock);
        WakeOwnerIfDue();
    }

    /// <summary>The frames one pass under the lock takes for the pipe: a few, so the pass stays short.</summary>
    [System.Runtime.CompilerServices.InlineArray(Length)]
    private struct Taken
    {
        public const int Length = 8;
        private ReadOnlyMemory<byte> _first;
    }

    private void OnFlushed()
    {
        bool peerGone;
        try
        {
            peerGone = _pendingFlush.GetAwaiter().GetResult().IsCompleted;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or OperationCanceledException)
        {
            peerGone = true;
        }
        lock (_lock)
        {
            _flushPending = false;
            _pendingFlush = default;
            if (peerGone) PeerGone();
        }
        // On the thread pool, not here: with the transport's inline scheduling this is the socket
        // engine's one thread, which then wrote every blocked connection's next chunk in a flood.
        ThreadPool.UnsafeQueueUserWorkItem(PumpAgain, this, preferLocal: false);
    }

    private static readonly Action<OutboundQueue> PumpAgain = queue => queue.Pump();

    private void PeerGone()
    {
        if (_dropped) return;
        Drop();
        _owner.Tell(new Dropped(Slow: false), _owner);
    }

    private void WakeOwnerIfDue()
    {
        bool atMost = _wakeAtMost >= 0 && _queuedBytes <= _wakeAtMost;
        bool flushed = _wakeWhenFlushed && _queuedBytes == 0 && !_writing;
        if (!atMost && !flushed) return;
        if (atMost) _wakeAtMost = -1;
        if (flushed) _wakeWhenFlushed = false;
        _owner.Tell(Drained.Instance, _owner);
    }

    /// <summary>
    /// The writes of one actor that fans out (each room, the presence actor has its own): the queues
    /// it queued frames in are written on the thread pool, as one task per core for all that it
    /// handed over before the task runs (as Kestrel's socket transport schedules its sends), so a
    /// fan-out to n members costs a task per core, not n, its writes use every core, and one
    /// actor's fan-outs never wait behind another's. A queue always goes to the same one of them.
    /// </summary>
    public sealed class FlushLane
    {
        private readonly Part[] _parts = Enumerable.Range(0, Environment.ProcessorCount).Select(_ => new Part()).ToArray();

        internal void Schedule(OutboundQueue queue) =>
            _parts[(uint)System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(queue) % (uint)_parts.Length].Schedule(queue);

        private sealed class Part : IThreadPoolWorkItem
        {
            private readonly System.Collections.Concurrent.ConcurrentQueue<OutboundQueue> _queues = new();
            private int _running;

            public void Schedule(OutboundQueue queue)
            {
                _queues.Enqueue(queue);
                if (Interlocked.CompareExchange(ref _running, 1, 0) == 0) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }

            /// <summary>
            /// Writes the queues handed over before this turn, then, if more came meanwhile, queues the
            /// next turn behind the thread pool's other work: a queue written to again meanwhile waits
            /// for that turn and gathers what else arrives, so a flood leaves in large writes.
            /// </summary>
            public void Execute()
            {
                for (int due = _queues.Count; due > 0 && _queues.TryDequeue(out var queue); due--) queue.WriteScheduled();
                Interlocked.Exchange(ref _running, 0); // a full fence: the check below sees what was queued meanwhile
                if (!_queues.IsEmpty && Interlocked.Exchange(ref _running, 1) == 0) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }
        }
    }
}
