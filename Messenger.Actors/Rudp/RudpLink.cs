using System.Diagnostics;
using System.Net;
using Akka.Actor;

namespace Messenger.Rudp;

/// <summary>
/// The plumbing both ends of a transfer share (<see cref="Actors.FileSenderActor"/> and the
/// client's <c>FileReceiverActor</c>): the clock, the wire to the one peer and the count of
/// datagrams put on it, RST building, retry back-off, and the idle check. Owned by one actor and
/// used only from inside it.
/// </summary>
public sealed class RudpLink
{
    /// <summary>The periodic silence check; the owner handles it by asking <see cref="Silent"/>.</summary>
    public sealed record IdleCheck { public static readonly IdleCheck Instance = new(); }

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly TimeSpan _idleTimeout;
    private long _lastHeardMicros;

    public RudpLink(IActorRef wire, IPEndPoint peer, TimeSpan idleTimeout)
    {
        Wire = wire;
        Peer = peer;
        _idleTimeout = idleTimeout;
    }

    /// <summary>The socket actor (or the lossy socket in front of it).</summary>
    public IActorRef Wire { get; }

    /// <summary>The other end.</summary>
    public IPEndPoint Peer { get; }

    /// <summary>Microseconds since this link was created (the clock DATA timestamps are taken from).</summary>
    public long NowMicros => (long)_clock.Elapsed.TotalMicroseconds;

    /// <summary>Time since this link was created.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Datagrams put on the wire so far.</summary>
    public long Sent { get; private set; }

    /// <summary>Datagrams heard from the peer so far.</summary>
    public long Received { get; private set; }

    /// <summary>Puts one datagram on the wire to the peer.</summary>
    public void Put(byte[] datagram)
    {
        Wire.Tell(new Actors.SendDatagram(datagram, Peer));
        Sent++;
    }

    /// <summary>Puts a burst on the wire as one message; the wire releases it.</summary>
    public void Put(DatagramBurst burst)
    {
        Wire.Tell(new Actors.SendDatagrams(burst, Peer));
        Sent += burst.Count;
    }

    /// <summary>Tells the peer the connection is over, and why.</summary>
    public void Reset(uint connectionId, RstReason reason)
    {
        var rst = new byte[RudpConstants.RstSize];
        RudpCodec.WriteRst(rst, connectionId, reason);
        Put(rst);
    }

    /// <summary>A valid datagram came from the peer.</summary>
    public void Heard()
    {
        _lastHeardMicros = NowMicros;
        Received++;
    }

    /// <summary>Nothing valid came from the peer for the idle timeout.</summary>
    public bool Silent => NowMicros - _lastHeardMicros > (long)_idleTimeout.TotalMicroseconds;

    /// <summary>Starts the periodic <see cref="IdleCheck"/>, ten times per idle timeout.</summary>
    public void StartIdleCheck(ITimerScheduler timers)
    {
        _lastHeardMicros = NowMicros;
        timers.StartPeriodicTimer(nameof(IdleCheck), IdleCheck.Instance,
            TimeSpan.FromTicks(Math.Max(_idleTimeout.Ticks / 10, TimeSpan.TicksPerMillisecond)));
    }

    /// <summary>Retry interval: <paramref name="first"/>, doubling per try up to 8 times it.</summary>
    public static TimeSpan Backoff(TimeSpan first, int tries) => TimeSpan.FromTicks(first.Ticks << Math.Min(tries, 3));
}

/// <summary>
/// The 32-bit microsecond timestamps DATA carries and ACKs echo: the sender's clock truncated to
/// 32 bits, so it wraps every 71.6 minutes. All wrap arithmetic is here.
/// </summary>
public static class WireTimestamp
{
    /// <summary>The timestamp a datagram sent at <paramref name="micros"/> carries.</summary>
    public static uint Of(long micros) => (uint)micros;

    /// <summary>Microseconds from <paramref name="timestamp"/> to <paramref name="nowMicros"/>, across a wrap (always 0..2³² − 1).</summary>
    public static long Age(long nowMicros, uint timestamp) => (uint)(Of(nowMicros) - timestamp);
}
