using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Messenger.Rudp;
using Messenger.Rudp.Actors;

namespace Messenger.Tests.Rudp;

/// <summary>
/// The lossy socket on real loopback sockets: exactly the datagrams its seeded plan keeps get
/// through, duplicates right behind their original, in order, whether they leave as a burst or
/// arrive as a batch.
/// </summary>
public sealed class LossySocketActorSpec : TestKit
{
    private const int Segment = 1200;
    private const int Seed = 11;
    private static readonly LinkImpairment Impairment = new(lossRate: 0.3, duplicateRate: 0.2);

    private static byte[] Datagram(int index) => Enumerable.Repeat((byte)index, Segment).ToArray();

    /// <summary>The datagram indexes a plan with <paramref name="seed"/> lets through, in order.</summary>
    private static List<int> Survivors(int count, int seed)
    {
        var plan = new ImpairmentPlan(Impairment, seed);
        var kept = new List<int>();
        for (int i = 0; i < count; i++)
        {
            var decision = plan.Next(Segment);
            if (decision.Drop) continue;
            kept.Add(i);
            if (decision.Duplicate) kept.Add(i);
        }
        return kept;
    }

    [Fact]
    public void A_burst_leaves_as_the_datagrams_the_plan_keeps()
    {
        using var plain = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        plain.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        plain.ReceiveTimeout = 3000;
        var socket = UdpSockets.Bind(new IPEndPoint(IPAddress.Loopback, 0), 1 << 20);
        var wire = Sys.ActorOf(LossySocketActor.WireProps(socket, TestActor, Impairment, Seed, coalesce: false));

        var burst = new DatagramBurst(Segment);
        for (int i = 0; i < burst.Capacity; i++)
        {
            Datagram(i).CopyTo(burst.Next());
            burst.Commit(Segment);
        }
        var expected = Survivors(burst.Capacity, Seed);
        Assert.Contains(expected, i => expected.Count(j => j == i) == 2); // the seed duplicates some
        Assert.True(expected.Distinct().Count() < burst.Capacity, "the seed drops some");
        wire.Tell(new SendDatagrams(burst, (IPEndPoint)plain.LocalEndPoint!));

        var buffer = new byte[65_536];
        var received = new List<int>();
        while (received.Count < expected.Count)
        {
            int n = plain.Receive(buffer);
            Assert.Equal(Segment, n);
            received.Add(buffer[0]);
        }
        Assert.Equal(expected, received);
    }

    [Fact]
    public void What_arrives_together_goes_up_as_the_datagrams_the_plan_keeps()
    {
        var socket = UdpSockets.Bind(new IPEndPoint(IPAddress.Loopback, 0), 4 << 20);
        var address = (IPEndPoint)socket.LocalEndPoint!;
        Sys.ActorOf(LossySocketActor.WireProps(socket, TestActor, Impairment, Seed, coalesce: true));
        using var plain = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        plain.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        const int count = 60;
        for (int i = 0; i < count; i++) plain.SendTo(Datagram(i), address);
        var expected = Survivors(count, unchecked(Seed * 31 + 17)); // the inbound plan's seed

        var received = new List<int>();
        while (received.Count < expected.Count)
        {
            var batch = ExpectMsg<DatagramsReceived>(TimeSpan.FromSeconds(3));
            for (int i = 0; i < batch.Count; i++)
            {
                Assert.Equal(plain.LocalEndPoint, batch.From(i));
                received.Add(batch.Data(i)[0]);
            }
            batch.Release();
        }
        Assert.Equal(expected, received);
    }
}
