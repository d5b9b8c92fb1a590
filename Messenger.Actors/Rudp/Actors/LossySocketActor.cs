using System.Net;
using System.Net.Sockets;
using Akka.Actor;

namespace Messenger.Rudp.Actors;

/// <summary>
/// A bad network on purpose. It sits between an endpoint and the wire (it owns the
/// <see cref="UdpSocketActor"/> as its child) and, with seeded random generators, drops,
/// duplicates, reorders, delays and corrupts datagrams in both directions according to a
/// <see cref="LinkImpairment"/>. Each direction has its own <see cref="ImpairmentPlan"/>, so a
/// seed always gives the same losses. Nobody creates it when every rate is zero: the endpoint
/// then talks to the socket actor directly and pays nothing.
/// </summary>
public sealed class LossySocketActor : UntypedActor, IWithTimers
{
    private sealed record Release(object Message);

    private readonly IActorRef _upstream;
    private readonly IActorRef _wire;
    private readonly ImpairmentPlan _outbound;
    private readonly ImpairmentPlan _inbound;
    private long _held; // names the timer of each held-back datagram

    public LossySocketActor(Socket socket, IActorRef upstream, LinkImpairment impairment, int seed, bool coalesce)
    {
        _upstream = upstream;
        _outbound = new ImpairmentPlan(impairment, seed);
        _inbound = new ImpairmentPlan(impairment, unchecked(seed * 31 + 17));
        _wire = Context.ActorOf(UdpSocketActor.Props(socket, Self, coalesce), "wire");
    }

    // A plain switch, not ReceiveActor's typed handlers: in a client without run-time code
    // generation those are expression trees, interpreted for every message (every datagram here).
    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case SendDatagrams m: OnSend(m); break;
            case SendDatagram m: Impair(m, m.Data, _outbound, _wire, d => m with { Data = d }); break;
            case DatagramsReceived batch: OnReceived(batch); break;
            case Release r:
                if (r.Message is SendDatagram) _wire.Tell(r.Message);
                else _upstream.Tell(r.Message);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnSend(SendDatagrams m)
    {
        // Each datagram of a burst is judged on its own; those that go out at once, unchanged,
        // travel on together in a burst of their own (one send, as without the impairment).
        var onTime = new DatagramBurst(m.Burst.SegmentSize);
        for (int i = 0; i < m.Burst.Count; i++)
        {
            var data = m.Burst[i];
            var decision = _outbound.Next(data.Length);
            if (decision.Drop) continue;
            if (decision.Corrupt || decision.Delay > TimeSpan.Zero)
            {
                var single = new SendDatagram(data.ToArray(), m.To);
                Apply(decision, single, single.Data, _wire, d => single with { Data = d });
                continue;
            }
            for (int copies = decision.Duplicate ? 2 : 1; copies > 0; copies--)
            {
                if (onTime.IsFull)
                {
                    _wire.Tell(new SendDatagrams(onTime, m.To));
                    onTime = new DatagramBurst(m.Burst.SegmentSize);
                }
                data.CopyTo(onTime.Next());
                onTime.Commit(data.Length);
            }
        }
        m.Burst.Release();
        if (onTime.Count > 0) _wire.Tell(new SendDatagrams(onTime, m.To));
        else onTime.Release();
    }

    private void OnReceived(DatagramsReceived batch)
    {
        // Likewise inward, and in place: what arrives at once, unchanged, goes up in the batch it
        // came in (a dropped datagram is left out of its list, a duplicate listed twice), so a
        // lossy link costs no copy and no allocation per datagram; only a corrupted or held-back
        // datagram is copied out to travel alone.
        Span<byte> copies = batch.Count <= 1024 ? stackalloc byte[batch.Count] : new byte[batch.Count];
        int kept = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            var data = batch.Data(i);
            var decision = _inbound.Next(data.Length);
            if (decision.Drop) continue;
            if (decision.Corrupt || decision.Delay > TimeSpan.Zero)
            {
                var single = new DatagramReceived(data.ToArray(), batch.From(i));
                Apply(decision, single, single.Data, _upstream, d => single with { Data = d });
                continue;
            }
            copies[i] = (byte)(decision.Duplicate ? 2 : 1);
            kept += copies[i];
        }
        if (kept == 0)
        {
            batch.Release();
            return;
        }
        batch.Keep(copies);
        _upstream.Tell(batch);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The lossy socket when <paramref name="impairment"/> does anything, else the plain socket actor.</summary>
    /// <param name="coalesce">See <see cref="UdpSocketActor"/>: true for the side that receives data.</param>
    public static Props WireProps(Socket socket, IActorRef upstream, LinkImpairment impairment, int seed, bool coalesce) =>
        impairment.IsTransparent
            ? UdpSocketActor.Props(socket, upstream, coalesce)
            : Akka.Actor.Props.Create(() => new LossySocketActor(socket, upstream, impairment, seed, coalesce));

    private void Impair<T>(T message, byte[] data, ImpairmentPlan plan, IActorRef target, Func<byte[], T> withData) where T : notnull
    {
        var decision = plan.Next(data.Length);
        if (!decision.Drop) Apply(decision, message, data, target, withData);
    }

    private void Apply<T>(ImpairmentDecision decision, T message, byte[] data, IActorRef target, Func<byte[], T> withData) where T : notnull
    {
        object outgoing = message;
        if (decision.Corrupt)
        {
            var copy = (byte[])data.Clone();
            decision.ApplyCorruption(copy);
            outgoing = withData(copy);
        }
        Deliver(outgoing, decision.Delay, target);
        if (decision.Duplicate) Deliver(message, decision.Delay, target);
    }

    private void Deliver(object message, TimeSpan delay, IActorRef target)
    {
        if (delay <= TimeSpan.Zero) target.Tell(message);
        else Timers.StartSingleTimer(_held++, new Release(message), delay);
    }
}
