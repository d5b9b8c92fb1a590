using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Messenger.Rudp;
using Messenger.Rudp.Actors;

namespace Messenger.Tests.Rudp;

/// <summary>
/// The wire on real loopback sockets: a burst leaves as the same datagrams whatever the kernel
/// does with it (GSO on Linux), and whatever arrives together (GRO runs on Linux) reaches the
/// actor as those datagrams, in order, with their sender.
/// </summary>
public sealed class UdpSocketActorSpec : TestKit
{
    private const int Segment = 1472;

    private static byte[] Datagram(int index, int length)
    {
        var data = new byte[length];
        new Random(index).NextBytes(data);
        data[0] = (byte)index;
        return data;
    }

    /// <summary>A burst of <paramref name="count"/> full datagrams and a short last one.</summary>
    private static DatagramBurst Burst(int count, int lastLength, int first = 0)
    {
        var burst = new DatagramBurst(Segment);
        for (int i = 0; i < count; i++)
        {
            var d = Datagram(first + i, i == count - 1 ? lastLength : Segment);
            d.CopyTo(burst.Next());
            burst.Commit(d.Length);
        }
        return burst;
    }

    [Fact]
    public void A_burst_arrives_at_a_plain_socket_as_its_datagrams()
    {
        using var plain = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        plain.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        plain.ReceiveTimeout = 3000;
        var wire = Sys.ActorOf(UdpSocketActor.Props(UdpSockets.Bind(new IPEndPoint(IPAddress.Loopback, 0), 1 << 20), TestActor, coalesce: false));

        wire.Tell(new SendDatagrams(Burst(30, 100), (IPEndPoint)plain.LocalEndPoint!));
        wire.Tell(new SendDatagram(Datagram(99, 40), (IPEndPoint)plain.LocalEndPoint!)); // a lone small one after it is not cut

        var buffer = new byte[65_536];
        for (int i = 0; i < 30; i++)
        {
            int n = plain.Receive(buffer);
            Assert.Equal(Datagram(i, i == 29 ? 100 : Segment), buffer[..n]);
        }
        Assert.Equal(Datagram(99, 40), buffer[..plain.Receive(buffer)]);
    }

    [Fact]
    public void Bursts_between_two_wires_arrive_datagram_by_datagram_in_order_with_their_sender()
    {
        var senderSocket = UdpSockets.Bind(new IPEndPoint(IPAddress.Loopback, 0), 1 << 20);
        var senderAddress = (IPEndPoint)senderSocket.LocalEndPoint!;
        var receiverSocket = UdpSockets.Bind(new IPEndPoint(IPAddress.Loopback, 0), 4 << 20);
        var receiverAddress = (IPEndPoint)receiverSocket.LocalEndPoint!;
        var sender = Sys.ActorOf(UdpSocketActor.Props(senderSocket, ActorRefs.Nobody, coalesce: false));
        Sys.ActorOf(UdpSocketActor.Props(receiverSocket, TestActor, coalesce: true));

        // 3 bursts: 44 + 44 + 12 datagrams, the very last one short.
        sender.Tell(new SendDatagrams(Burst(44, Segment), receiverAddress));
        sender.Tell(new SendDatagrams(Burst(44, Segment, first: 44), receiverAddress));
        sender.Tell(new SendDatagrams(Burst(12, 333, first: 88), receiverAddress));

        var received = new List<byte[]>();
        while (received.Count < 100)
        {
            var batch = ExpectMsg<DatagramsReceived>(TimeSpan.FromSeconds(3));
            for (int i = 0; i < batch.Count; i++)
            {
                Assert.Equal(senderAddress, batch.From(i));
                received.Add(batch.Data(i).ToArray());
            }
            batch.Release();
        }
        Assert.Equal(100, received.Count);
        for (int i = 0; i < 100; i++) Assert.Equal(Datagram(i, i == 99 ? 333 : Segment), received[i]);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_burst_holds_full_segments_and_one_short_last()
    {
        Assert.Equal(44, new DatagramBurst(Segment).Capacity); // 44 × 1,472 bytes fit in one UDP send
        var burst = new DatagramBurst(1000);
        burst.Next().Fill(1);
        burst.Commit(1000);
        Assert.False(burst.IsFull);
        burst.Next()[..10].Fill(2);
        burst.Commit(10);
        Assert.True(burst.IsFull); // after a short datagram nothing may follow
        Assert.Throws<InvalidOperationException>(() => burst.Next());
        Assert.Equal((2, 1010), (burst.Count, burst.Length));
        Assert.Equal(Enumerable.Repeat((byte)2, 10), burst[1].ToArray());
        Assert.Equal(DatagramBurst.MaxCount, new DatagramBurst(20).Capacity);
        burst.Release();
    }
}
