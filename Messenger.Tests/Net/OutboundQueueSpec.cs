using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Akka.TestKit.Xunit2;
using Messenger.Net;

namespace Messenger.Tests.Net;

/// <summary>
/// The outbound queue over a real pipe with the transport's thresholds, its owner a probe. The
/// peer "reads" when the test takes bytes from the pipe's reader.
/// </summary>
public class OutboundQueueSpec : TestKit
{
    private const int Pause = 64 * 1024; // as messenger.chat.socket.output-pause
    private const int FrameBytes = 1024;
    private const int Frames = 1000; // ~1 MB: a client 1,000 frames behind a flood

    private static Pipe TransportPipe() => new(new PipeOptions(
        pauseWriterThreshold: Pause, resumeWriterThreshold: Pause / 2, useSynchronizationContext: false));

    /// <summary>Frame n: its number, padded to <see cref="FrameBytes"/> with a newline at the end.</summary>
    private static byte[] Frame(int n) => Encoding.ASCII.GetBytes($"{n:D6}".PadRight(FrameBytes - 1, '.') + "\n");

    /// <summary>What the peer can read now, consumed.</summary>
    private static byte[] ReadAvailable(PipeReader reader)
    {
        if (!reader.TryRead(out var result)) return [];
        var bytes = result.Buffer.ToArray();
        reader.AdvanceTo(result.Buffer.End);
        return bytes;
    }

    [Fact]
    public void A_flood_the_peer_has_not_read_must_wait_in_the_queue_not_be_copied_into_the_pipe()
    {
        var pipe = TransportPipe();
        var owner = CreateTestProbe();
        var queue = new OutboundQueue(pipe.Writer, owner.Ref, limitBytes: 8 * 1024 * 1024, writeChunkBytes: Pause);
        for (int i = 0; i < Frames; i++) Assert.True(queue.Enqueue(Frame(i)));
        owner.ExpectMsg<OutboundQueue.Flush>();
        Assert.True(queue.Handle(OutboundQueue.Flush.Instance));

        // One chunk went to the transport, which now waits for the peer; the rest is still queued.
        Assert.True(queue.IsBlocked);
        var inPipe = ReadAvailable(pipe.Reader);
        Assert.InRange(inPipe.Length, Pause, Pause + FrameBytes);
        Assert.Equal((long)Frames * FrameBytes - inPipe.Length, queue.PendingBytes);
    }

    [Fact]
    public void Everything_queued_must_reach_the_peer_in_order_as_it_reads()
    {
        var pipe = TransportPipe();
        var owner = CreateTestProbe();
        var queue = new OutboundQueue(pipe.Writer, owner.Ref, limitBytes: 8 * 1024 * 1024, writeChunkBytes: Pause);
        for (int i = 0; i < Frames; i++) queue.Enqueue(Frame(i));
        owner.ExpectMsg<OutboundQueue.Flush>();
        Assert.True(queue.Handle(OutboundQueue.Flush.Instance));

        var received = new List<byte>();
        for (int round = 0; round < Frames && queue.PendingBytes > 0; round++)
        {
            var chunk = ReadAvailable(pipe.Reader);
            Assert.InRange(chunk.Length, 1, Pause + FrameBytes);
            received.AddRange(chunk);
            Assert.True(queue.Handle(owner.ExpectMsg<OutboundQueue.Flushed>()));
        }
        received.AddRange(ReadAvailable(pipe.Reader));

        Assert.Equal(0, queue.PendingBytes);
        Assert.Equal(Enumerable.Range(0, Frames).SelectMany(Frame), received);
    }

    [Fact]
    public void A_close_asked_for_while_a_flood_is_queued_must_wait_until_all_of_it_is_handed_over()
    {
        var pipe = TransportPipe();
        var owner = CreateTestProbe();
        var queue = new OutboundQueue(pipe.Writer, owner.Ref, limitBytes: 8 * 1024 * 1024, writeChunkBytes: Pause);
        for (int i = 0; i < Frames; i++) queue.Enqueue(Frame(i));
        owner.ExpectMsg<OutboundQueue.Flush>();
        bool closed = false;
        queue.CloseWhenFlushed(() => closed = true);
        Assert.True(queue.Handle(OutboundQueue.Flush.Instance));

        long read = 0;
        for (int round = 0; round < Frames && !closed; round++)
        {
            read += ReadAvailable(pipe.Reader).Length;
            Assert.True(queue.Handle(owner.ExpectMsg<OutboundQueue.Flushed>()));
        }
        read += ReadAvailable(pipe.Reader).Length;

        Assert.True(closed);
        Assert.Equal((long)Frames * FrameBytes, read);
    }

    [Fact]
    public void A_large_frame_must_go_over_alone_a_slice_per_flush_and_small_frames_in_one_batch()
    {
        // A transport that takes nothing more until the peer has read the last flush: each read is one flush.
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 1, resumeWriterThreshold: 1, useSynchronizationContext: false));
        var owner = CreateTestProbe();
        var queue = new OutboundQueue(pipe.Writer, owner.Ref, limitBytes: 8 * 1024 * 1024, writeChunkBytes: Pause);
        // A welcome with a long online list between two bursts of small frames.
        var large = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 2250).Select(i => $"{i:D7},")) + "\n");
        var before = Enumerable.Range(0, 10).Select(Frame).ToList();
        var after = Enumerable.Range(10, 10).Select(Frame).ToList();
        foreach (var frame in before.Append(large).Concat(after)) queue.Enqueue(frame);
        owner.ExpectMsg<OutboundQueue.Flush>();
        Assert.True(queue.Handle(OutboundQueue.Flush.Instance));

        var flushes = new List<byte[]>();
        for (int round = 0; round < 100 && queue.IsBlocked; round++)
        {
            flushes.Add(ReadAvailable(pipe.Reader));
            Assert.True(queue.Handle(owner.ExpectMsg<OutboundQueue.Flushed>()));
        }

        Assert.False(queue.IsBlocked);
        Assert.Equal([10 * FrameBytes, 4096, 4096, 4096, 4096, large.Length - 4 * 4096 + 10 * FrameBytes], flushes.Select(f => f.Length));
        Assert.Equal(before.Append(large).Concat(after).SelectMany(f => f), flushes.SelectMany(f => f));
    }
    [Fact]
    public void A_frame_in_parts_must_reach_the_peer_whole_in_order_or_be_refused_whole_past_the_limit()
    {
        var pipe = TransportPipe();
        var owner = CreateTestProbe();
        var queue = new OutboundQueue(pipe.Writer, owner.Ref, limitBytes: 12 * FrameBytes, writeChunkBytes: Pause);
        // A welcome: its own head, a long list shared with other welcomes (over a slice), its tail.
        var shared = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 1000).Select(i => $"{i:D7},")));
        byte[][] welcome = [Encoding.ASCII.GetBytes("head:"), shared, Encoding.ASCII.GetBytes("tail\n")];
        Assert.True(queue.Enqueue(Frame(0)));
        Assert.True(queue.Enqueue(welcome));
        Assert.True(queue.Enqueue(Frame(1)));
        long queued = queue.PendingBytes;
        Assert.False(queue.Enqueue([Frame(2), Frame(3), Frame(4)])); // would pass the limit: none of it is queued
        Assert.Equal(queued, queue.PendingBytes);
        owner.ExpectMsg<OutboundQueue.Flush>();
        Assert.True(queue.Handle(OutboundQueue.Flush.Instance));

        var received = new List<byte>();
        for (int round = 0; round < 100 && queue.IsBlocked; round++)
        {
            received.AddRange(ReadAvailable(pipe.Reader));
            Assert.True(queue.Handle(owner.ExpectMsg<OutboundQueue.Flushed>()));
        }
        received.AddRange(ReadAvailable(pipe.Reader));

        Assert.Equal(0, queue.PendingBytes);
        Assert.Equal(Frame(0).Concat(welcome.SelectMany(part => part)).Concat(Frame(1)), received);
    }
}
