using Akka.Actor;
using Akka.IO;

namespace Messenger.Net;

/// <summary>
/// The outbound side of one Akka.IO TCP connection, used from inside its owning actor.
/// One write is in flight at a time (acknowledged with <see cref="WriteAck"/>); frames that
/// arrive meanwhile are batched into the next write, so a busy connection makes few large
/// writes. An idle queue does not write the first frame at once either: it tells its owner
/// <see cref="Flush"/>, which queues behind whatever is already in the owner's mailbox, so a
/// burst of deliveries that arrived together leaves in one write (no timer, no added delay
/// beyond the messages already waiting). The bytes waiting (queued plus in flight) are bounded: <see cref="Enqueue"/>
/// returns false when the limit would be passed, and the owner drops the client as slow.
/// </summary>
public sealed class OutboundQueue
{
    /// <summary>Akka.IO's acknowledgement of a completed write.</summary>
    public sealed class WriteAck : Tcp.Event { public static readonly WriteAck Instance = new(); }

    /// <summary>The owner's cue to write what has been queued (see <see cref="OnFlush"/>).</summary>
    public sealed record Flush { public static readonly Flush Instance = new(); }

    private readonly IActorRef _connection;
    private readonly IActorRef _owner;
    private readonly long _limitBytes;
    private readonly List<byte[]> _queued = new();
    private long _queuedBytes;
    private long _inFlightBytes;
    private bool _closeWhenFlushed;
    private bool _flushScheduled;

    public OutboundQueue(IActorRef connection, IActorRef owner, long limitBytes)
    {
        _connection = connection;
        _owner = owner;
        _limitBytes = limitBytes;
    }

    /// <summary>Bytes accepted but not yet acknowledged by the socket.</summary>
    public long PendingBytes => _queuedBytes + _inFlightBytes;

    public bool IsIdle => _inFlightBytes == 0 && _queuedBytes == 0;

    /// <summary>Queues <paramref name="bytes"/>; false if that would pass the limit (nothing is queued then).</summary>
    public bool Enqueue(byte[] bytes)
    {
        if (PendingBytes + bytes.Length > _limitBytes) return false;
        _queued.Add(bytes);
        _queuedBytes += bytes.Length;
        if (_inFlightBytes == 0 && !_flushScheduled)
        {
            _flushScheduled = true;
            _owner.Tell(Flush.Instance, _owner);
        }
        return true;
    }

    /// <summary>The owner received <see cref="Flush"/>: write what is queued, unless a write is in flight (its ack will).</summary>
    public void OnFlush()
    {
        _flushScheduled = false;
        if (_inFlightBytes == 0 && _queuedBytes > 0) WriteQueued();
    }

    public void OnAck()
    {
        _inFlightBytes = 0;
        if (_queuedBytes > 0) WriteQueued();
        else if (_closeWhenFlushed) _connection.Tell(Tcp.Close.Instance, _owner);
    }

    /// <summary>Closes the connection (gracefully) once everything queued has been written.</summary>
    public void CloseWhenFlushed()
    {
        _closeWhenFlushed = true;
        if (IsIdle) _connection.Tell(Tcp.Close.Instance, _owner);
    }

    private void WriteQueued()
    {
        ByteString data;
        if (_queued.Count == 1)
        {
            data = ByteString.FromBytes(_queued[0]);
        }
        else
        {
            var batch = new byte[_queuedBytes];
            int at = 0;
            foreach (var chunk in _queued)
            {
                chunk.CopyTo(batch, at);
                at += chunk.Length;
            }
            data = ByteString.FromBytes(batch);
        }
        _inFlightBytes = _queuedBytes;
        _queued.Clear();
        _queuedBytes = 0;
        _connection.Tell(Tcp.Write.Create(data, WriteAck.Instance), _owner);
    }
}
