using System.Net;
using Messenger.Rudp;

namespace Messenger.Tests.Rudp;

/// <summary>A batch of received datagrams rewritten by a lossy link: dropped ones leave its list, duplicates appear twice, the bytes stay.</summary>
public sealed class DatagramsTests
{
    private static readonly IPEndPoint From = new(IPAddress.Loopback, 4000);

    private static DatagramsReceived Batch(int count) =>
        new(Enumerable.Range(0, count).Select(i => (Enumerable.Repeat((byte)i, 10 + i).ToArray(), From)).ToList());

    private static List<int> Contents(DatagramsReceived batch) =>
        Enumerable.Range(0, batch.Count).Select(i =>
        {
            var d = batch.Data(i);
            Assert.Equal(10 + d[0], d.Length);
            Assert.Equal(From, batch.From(i));
            return (int)d[0];
        }).ToList();

    [Theory]
    [InlineData(new byte[] { 1, 0, 2, 1, 0 }, new[] { 0, 2, 2, 3 })]   // a drop before the duplicate: rewritten in place
    [InlineData(new byte[] { 2, 1, 0, 1 }, new[] { 0, 0, 1, 3 })]      // a duplicate before any drop: the list outgrows its place
    [InlineData(new byte[] { 2, 2, 2, 2 }, new[] { 0, 0, 1, 1, 2, 2, 3, 3 })]
    [InlineData(new byte[] { 0, 0, 0, 0 }, new int[0])]
    public void Keep_lists_each_datagram_as_often_as_told_in_order(byte[] copies, int[] expected)
    {
        var batch = Batch(copies.Length);
        batch.Keep(copies);
        Assert.Equal(expected, Contents(batch));
    }

    [Fact]
    public async Task A_sockets_batch_pool_must_wait_for_a_batch_to_come_back_rather_than_make_more()
    {
        var pool = new BatchPool();
        var batches = Enumerable.Range(0, UdpSockets.MaxBatches).Select(_ => pool.Rent(64, () => false)!).ToList();
        Assert.Equal(UdpSockets.MaxBatches, batches.Distinct().Count());

        var next = Task.Run(() => pool.Rent(64, () => false));
        await Task.WhenAny(next, Task.Delay(TimeSpan.FromMilliseconds(300))); // like ExpectNoMsg: nothing may come meanwhile
        Assert.False(next.IsCompleted, "a batch beyond the most was made, or one came back unasked");
        batches[5].Release();
        Assert.Same(batches[5], await next.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_sockets_batch_pool_must_give_up_waiting_once_the_socket_is_closed()
    {
        var pool = new BatchPool();
        for (int i = 0; i < UdpSockets.MaxBatches; i++) Assert.NotNull(pool.Rent(64, () => false));
        bool closed = false;
        var next = Task.Run(() => pool.Rent(64, () => Volatile.Read(ref closed)));
        Volatile.Write(ref closed, true);
        Assert.Null(await next.WaitAsync(TimeSpan.FromSeconds(5)));
    }
}
