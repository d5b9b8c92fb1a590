using Akka.Actor;
using Akka.Dispatch.MessageQueues;
using Messenger.Net;

namespace Messenger.Tests.Net;

/// <summary>The connections' mailbox queue, alone.</summary>
public class CompactMessageQueueTests
{
    private static Envelope Message(int n) => new(n, ActorRefs.NoSender);

    private static List<object> Drain(IMessageQueue queue)
    {
        var got = new List<object>();
        while (queue.TryDequeue(out var envelope)) got.Add(envelope.Message);
        return got;
    }

    [Fact]
    public void Queue_must_hand_out_messages_in_the_order_they_came_and_count_them()
    {
        var queue = new CompactMessageQueue();
        Assert.False(queue.HasMessages);
        for (int i = 0; i < 100; i++) queue.Enqueue(ActorRefs.Nobody, Message(i));
        Assert.True(queue.HasMessages);
        Assert.Equal(100, queue.Count);
        Assert.Equal(Enumerable.Range(0, 100).Cast<object>(), Drain(queue));
        Assert.False(queue.HasMessages);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task Queue_must_keep_order_under_concurrent_senders()
    {
        var queue = new CompactMessageQueue();
        const int Senders = 4, Each = 10_000;
        var received = new List<(int Sender, int Seq)>();
        var senders = Enumerable.Range(0, Senders).Select(s => Task.Run(() =>
        {
            for (int i = 0; i < Each; i++) queue.Enqueue(ActorRefs.Nobody, new Envelope((s, i), ActorRefs.NoSender));
        })).ToArray();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (received.Count < Senders * Each && DateTime.UtcNow < deadline)
            if (queue.TryDequeue(out var envelope)) received.Add(((int, int))envelope.Message);
        await Task.WhenAll(senders).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Senders * Each, received.Count);
        foreach (var perSender in received.GroupBy(r => r.Sender))
            Assert.Equal(Enumerable.Range(0, Each), perSender.Select(r => r.Seq));
    }

    [Fact]
    public void Queue_must_move_what_is_left_to_dead_letters_on_clean_up()
    {
        var queue = new CompactMessageQueue();
        var deadLetters = new CompactMessageQueue();
        queue.Enqueue(ActorRefs.Nobody, Message(1));
        queue.Enqueue(ActorRefs.Nobody, Message(2));
        queue.CleanUp(ActorRefs.Nobody, deadLetters);
        Assert.False(queue.HasMessages);
        Assert.Equal(new object[] { 1, 2 }, Drain(deadLetters));
    }
}
