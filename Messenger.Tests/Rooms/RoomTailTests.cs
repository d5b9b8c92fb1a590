using Messenger.Protocol;
using Messenger.Rooms;

namespace Messenger.Tests.Rooms;

public class RoomTailTests
{
    private static RoomTail TailWith(int capacity, int messages)
    {
        var tail = new RoomTail(capacity);
        for (int i = 1; i <= messages; i++) tail.Add(new HistoryEntry(i, "a", $"m{i}", i));
        return tail;
    }

    [Fact]
    public void Tail_keeps_the_newest_entries_up_to_its_capacity()
    {
        var tail = TailWith(3, 5);
        Assert.Equal([3L, 4, 5], tail.Entries.Select(e => e.Id));
        Assert.Equal((3L, 5L), (tail.FirstId, tail.LastId));
    }

    [Fact]
    public void An_empty_tail_starts_after_its_last_id()
    {
        var tail = new RoomTail(3);
        Assert.Equal((1L, 0L), (tail.FirstId, tail.LastId));
        var (from, to) = tail.Page(null, 50, 1);
        Assert.True(from > to);
        Assert.True(tail.Covers(from, to));
    }

    [Theory]
    [InlineData(null, 3, 1, 8L, 10L)]     // newest three
    [InlineData(8L, 3, 1, 5L, 7L)]        // the page before
    [InlineData(3L, 5, 1, 1L, 2L)]        // stops at the first kept id
    [InlineData(3L, 5, 2, 2L, 2L)]
    [InlineData(1000L, 2, 1, 9L, 10L)]    // before past the end: the newest
    public void Pages_are_the_ids_just_below_before(long? before, int limit, long firstKept, long from, long to)
    {
        Assert.Equal((from, to), TailWith(20, 10).Page(before, limit, firstKept));
    }

    [Fact]
    public void Covers_only_what_it_holds_and_forgets_deleted_entries()
    {
        var tail = TailWith(4, 10);
        Assert.True(tail.Covers(7, 10));
        Assert.False(tail.Covers(6, 10));
        tail.DropUpTo(8);
        Assert.Equal([9L, 10], tail.Entries.Select(e => e.Id));
        Assert.Throws<ArgumentException>(() => tail.Add(new HistoryEntry(10, "a", "dup", 0)));
    }
}
