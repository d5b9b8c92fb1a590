namespace Messenger.Chat;

/// <summary>
/// One connection's <c>say</c>s to rooms hosted on another node that have not come back as their
/// echo yet, counted per room. Such an echo reaches the connection's actor (a room on this node
/// writes into the connection's queue itself, so says to it are not counted here). A room that
/// has answered none of them for the timeout has lost them: its node died, and what was sent to
/// it before the cluster removed that node is gone. Time is given by the caller.
/// </summary>
public sealed class UnansweredSays
{
    /// <param name="Since">When the room last answered one (or the first was sent).</param>
    private readonly record struct Waiting(int Count, TimeSpan Since);

    private readonly Dictionary<string, Waiting> _rooms = new(StringComparer.Ordinal);

    public bool IsEmpty => _rooms.Count == 0;

    public void Sent(string room, TimeSpan now) =>
        _rooms[room] = _rooms.TryGetValue(room, out var waiting) ? waiting with { Count = waiting.Count + 1 } : new Waiting(1, now);

    /// <summary>An echo from <paramref name="room"/>: one say less waits, and the room is alive.</summary>
    public void Echoed(string room, TimeSpan now)
    {
        if (!_rooms.TryGetValue(room, out var waiting)) return; // a say told not_stored already, stored after all
        if (waiting.Count == 1) _rooms.Remove(room);
        else _rooms[room] = new Waiting(waiting.Count - 1, now);
    }

    /// <summary>The rooms that have answered nothing for <paramref name="timeout"/>, with how many says each lost; they are forgotten.</summary>
    public List<(string Room, int Says)> TakeExpired(TimeSpan now, TimeSpan timeout)
    {
        var expired = new List<(string, int)>();
        foreach (var (room, waiting) in _rooms)
        {
            if (now - waiting.Since >= timeout) expired.Add((room, waiting.Count));
        }
        foreach (var (room, _) in expired) _rooms.Remove(room);
        return expired;
    }
}
