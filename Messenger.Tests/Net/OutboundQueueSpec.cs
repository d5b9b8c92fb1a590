using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Akka.TestKit.Xunit2;
using Messenger.Net;

namespace Messenger.Tests.Net;

/// <summary>
/// The outbound queue over a real pipe with the transport's thresholds, its owner a probe. The
/// peer "reads" when the test takes bytes from the pipe's reader; the queue writes on the thread
/// pool (its flush lane, or the completion of a flush that waited for the peer).
/// </summary>
public class OutboundQueueSpec : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private const int Pause = 64 * 1024; // as messenger.chat.socket.output-pause
    private const int FrameBytes = 1024;
    private const int Frames = 1000; // ~1 MB: a client 1,000 frames behind a flood
    private readonly OutboundQueue.FlushLane _lane = new(); // as a room's

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

    /// <summary>The next flush the peer gets (waiting for it), consumed.</summary>
    private static byte[] ReadNext(PipeReader reader)
    {
        var read = reader.ReadAsync().AsTask();
        Assert.True(read.Wait(Wait), "nothing was written in time");
        var bytes = read.Result.Buffer.ToArray();
        reader.AdvanceTo(read.Result.Buffer.End);
        return bytes;
    }

    private static List<byte> ReadAll(PipeReader reader, long bytes)
    {
        var received = new List<byte>();
        while (received.Count < bytes) received.AddRange(ReadNext(reader));
        return received;
    }

    private OutboundQueue Queue(Pipe pipe, Akka.TestKit.TestProbe owner, long limitBytes = 8 * 1024 * 1024) =>
        new(pipe.Writer, owner.Ref, limitBytes, writeChunkBytes: Pause);

    [Fact]
    public async Task A_flood_the_peer_has_not_read_must_wait_in_the_queue_not_be_copied_into_the_pipe()
    {
        var pipe = TransportPipe();
        var owner = CreateTestProbe();
        var queue = Queue(pipe, owner);
        // Queued under one hold of the lock, as a burst of frames that arrived while the peer was behind.
        queue.Write(Enumerable.Range(0, Frames).Select(Frame).ToArray(), _lane);

        // One chunk went to the transport, which now waits for the peer; the rest is still queued.
        var read = await pipe.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        long inPipe = read.Buffer.Length;
        long pending = queue.PendingBytes; // counted down before the flush that made the chunk visible
        pipe.Reader.AdvanceTo(read.Buffer.Start, read.Buffer.End); // looked at, not read
        Assert.InRange(inPipe, Pause, Pause + FrameBytes);
        Assert.Equal((long)Frames * FrameBytes - inPipe, pending);
    }

    [Fact]
    public void Everything_queued_must_reach_the_peer_in_order_as_it_reads_without_the_owner()
    {
        var pipe = TransportPipe();
        var owner = CreateTestProbe();
        var queue = Queue(pipe, owner);
        for (int i = 0; i < Frames; i++) queue.Write(Frame(i), _lane);

        var received = ReadAll(pipe.Reader, (long)Frames * FrameBytes);

        Assert.Equal(0, queue.PendingBytes);
        Assert.Equal(Enumerable.Range(0, Frames).SelectMany(Frame), received);
        owner.ExpectNoMsg(TimeSpan.FromMilliseconds(50)); // each flush continued from the last one's completion
    }

    [Fact]
    public async Task Writers_on_several_threads_must_each_see_their_frames_arrive_whole_and_in_their_order()
    {
        var pipe = TransportPipe();
        var owner = CreateTestProbe();
        var queue = Queue(pipe, owner);
        // Frame n of writer w: numbers w * 10,000 + n; four rooms and the owner at once.
        var writers = Enumerable.Range(0, 5).Select(w => Task.Run(() =>
        {
            for (int n = 0; n < 400; n++) queue.Write(Frame(w * 10_000 + n), _lane);
        })).ToArray();
        var reading = Task.Run(() => ReadAll(pipe.Reader, 5L * 400 * FrameBytes));
        await Task.WhenAll(writers).WaitAsync(Wait);
        var received = await reading.WaitAsync(Wait);

        var numbers = received.Chunk(FrameBytes).Select(f => int.Parse(Encoding.ASCII.GetString(f, 0, 6))).ToList();
        Assert.Equal(2000, numbers.Count);
        for (int w = 0; w < 5; w++)
            Assert.Equal(Enumerable.Range(w * 10_000, 400), numbers.Where(n => n / 10_000 == w));
    }

    [Fact]
    public void A_close_asked_for_while_a_flood_is_queued_must_wait_until_all_of_it_is_handed_over()
    {
        var pipe = TransportPipe();
        var owner = CreateTestProbe();
        var queue = Queue(pipe, owner);
        for (int i = 0; i < Frames; i++) queue.Write(Frame(i), _lane);
        Assert.False(queue.WakeWhenFlushed());

        var received = ReadAll(pipe.Reader, (long)Frames * FrameBytes);

        owner.ExpectMsg<OutboundQueue.Drained>();
        Assert.True(queue.WakeWhenFlushed());
        Assert.Equal((long)Frames * FrameBytes, received.Count);
    }

    [Fact]
    public void The_owner_must_be_woken_once_the_peer_has_read_down_to_its_mark()
    {
        var pipe = TransportPipe();
        var owner = CreateTestProbe();
        var queue = Queue(pipe, owner);
        for (int i = 0; i < Frames; i++) queue.Write(Frame(i), _lane);
        long mark = Frames * FrameBytes / 4;
        Assert.False(queue.WakeAtMost(mark));
        owner.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        while (queue.PendingBytes > mark) ReadNext(pipe.Reader);
        owner.ExpectMsg<OutboundQueue.Drained>();
        Assert.True(queue.WakeAtMost(mark));
    }

    [Fact]
    public void A_large_frame_must_go_over_alone_a_slice_per_flush_and_small_frames_in_one_batch()
    {
        // A transport that takes nothing more until the peer has read the last flush: each read is one flush.
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 1, resumeWriterThreshold: 1, useSynchronizationContext: false));
        var owner = CreateTestProbe();
        var queue = Queue(pipe, owner);
        // A welcome with a long online list between two bursts of small frames.
        var large = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 2250).Select(i => $"{i:D7},")) + "\n");
        var before = Enumerable.Range(0, 10).Select(Frame).ToList();
        var after = Enumerable.Range(10, 10).Select(Frame).ToList();
        // Queued before the lane writes any: the lock held meanwhile, as a room's turn would.
        queue.Write([.. before, large, .. after], _lane);

        long total = 20 * FrameBytes + large.Length;
        var flushes = new List<byte[]>();
        while (flushes.Sum(f => f.Length) < total) flushes.Add(ReadNext(pipe.Reader));

        Assert.Equal([10 * FrameBytes, 4096, 4096, 4096, 4096, large.Length - 4 * 4096 + 10 * FrameBytes], flushes.Select(f => f.Length));
        Assert.Equal(before.Append(large).Concat(after).SelectMany(f => f), flushes.SelectMany(f => f));
    }

    [Fact]
    public void A_frame_in_parts_must_reach_the_peer_whole_and_in_order()
    {
        var pipe = TransportPipe();
        var owner = CreateTestProbe();
        var queue = Queue(pipe, owner);
        // A welcome: its own head, a long list shared with other welcomes (over a slice), its tail.
        var shared = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 1000).Select(i => $"{i:D7},")));
        byte[][] welcome = [Encoding.ASCII.GetBytes("head:"), shared, Encoding.ASCII.GetBytes("tail\n")];
        queue.Write(Frame(0), _lane);
        queue.Write(welcome, _lane);
        queue.Write(Frame(1), _lane);

        var expected = Frame(0).Concat(welcome.SelectMany(part => part)).Concat(Frame(1)).ToList();
        Assert.Equal(expected, ReadAll(pipe.Reader, expected.Count));
    }

    [Fact]
    public void Past_the_limit_the_queue_must_be_dropped_whole_and_its_owner_told_it_is_slow()
    {
        var pipe = TransportPipe();
        var owner = CreateTestProbe();
        var queue = Queue(pipe, owner, limitBytes: 12 * FrameBytes);
        queue.Write(Frame(0), _lane);
        Assert.Equal(Frame(0), ReadNext(pipe.Reader));
        queue.Write(Enumerable.Range(1, 13).Select(Frame).ToArray(), _lane); // 13 KB at once: past the limit
        Assert.True(owner.ExpectMsg<OutboundQueue.Dropped>().Slow);
        Assert.Equal(0, queue.PendingBytes);
        queue.Write(Frame(14), _lane); // after the drop: nothing

        owner.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Empty(ReadAvailable(pipe.Reader));
    }

    [Fact]
    public void A_peer_that_is_gone_must_drop_the_queue_and_a_closed_queue_must_leave_the_pipe_alone()
    {
        var pipe = TransportPipe();
        var owner = CreateTestProbe();
        var queue = Queue(pipe, owner);
        pipe.Reader.Complete();
        queue.Write(Frame(0), _lane);
        Assert.False(owner.ExpectMsg<OutboundQueue.Dropped>().Slow);

        var other = TransportPipe();
        var closed = Queue(other, owner);
        closed.Close();
        other.Writer.Complete(); // as the connection does once its queue is closed
        closed.Write(Frame(1), _lane); // a room that has not yet seen the member leave: no throw, no write
        owner.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        Assert.True(other.Reader.TryRead(out var end) && end.IsCompleted && end.Buffer.IsEmpty);
    }
}
