using Messenger.Protocol;

namespace Messenger.Rooms;

/// <summary>
/// A room's newest messages, oldest first, at most <see cref="Capacity"/>; and the arithmetic of
/// history pages. Pure: the room actor owns one.
/// </summary>
public sealed class RoomTail
{
    private readonly Queue<HistoryEntry> _entries;

    public RoomTail(int capacity, IEnumerable<HistoryEntry>? entries = null)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity));
        Capacity = capacity;
        _entries = new Queue<HistoryEntry>(capacity);
        foreach (var e in entries ?? []) Add(e);
    }

    public int Capacity { get; }
    public int Count => _entries.Count;

    /// <summary>The newest id (0 while the room has had no message).</summary>
    public long LastId { get; private set; }

    /// <summary>The oldest id held, or <see cref="LastId"/> + 1 when empty.</summary>
    public long FirstId => _entries.TryPeek(out var first) ? first.Id : LastId + 1;

    public IReadOnlyList<HistoryEntry> Entries => [.. _entries];

    /// <summary>Appends the next message; ids only grow.</summary>
    public void Add(HistoryEntry entry)
    {
        if (entry.Id <= LastId) throw new ArgumentException($"id {entry.Id} after {LastId}", nameof(entry));
        if (_entries.Count == Capacity) _entries.Dequeue();
        _entries.Enqueue(entry);
        LastId = entry.Id;
    }

    /// <summary>Forgets entries up to and including <paramref name="id"/> (deleted by retention).</summary>
    public void DropUpTo(long id)
    {
        while (_entries.TryPeek(out var first) && first.Id <= id) _entries.Dequeue();
    }

    /// <summary>
    /// The ids of a page: up to <paramref name="limit"/> ids just below <paramref name="before"/>
    /// (null: after the newest), never below <paramref name="firstKept"/>. Empty when From &gt; To.
    /// </summary>
    public (long From, long To) Page(long? before, int limit, long firstKept)
    {
        long end = Math.Min(before ?? long.MaxValue, LastId + 1); // exclusive
        long from = Math.Max(firstKept, end - limit);
        return (from, end - 1);
    }

    /// <summary>True when every id in [from, to] is held here.</summary>
    public bool Covers(long from, long to) => from > to || from >= FirstId;

    public IReadOnlyList<HistoryEntry> Slice(long from, long to)
    {
        if (from > to) return [];
        return _entries.Where(e => e.Id >= from && e.Id <= to).ToArray();
    }
}
