namespace Messenger.Chat;

/// <summary>
/// One connection's <c>say</c>s to rooms hosted on another node that have not come back as their
/// echo yet, per room, oldest first. Such an echo reaches the connection's actor (a room on this
/// node writes into the connection's queue itself, so says to it are not counted here). A say
/// waiting longer than the timeout is lost: its room's node died, and what was sent to it before
/// the cluster removed that node is gone. A room answers one sender's says in order, so an echo
/// answers the oldest waiting say (a lost one's place is taken by a later one: the count stays
/// right). Time is given by the caller.
/// </summary>
public sealed class UnansweredSays
{
    private readonly Dictionary<string, Queue<TimeSpan>> _rooms = new(StringComparer.Ordinal);

    public bool IsEmpty => _rooms.Count == 0;

    public void Sent(string room, TimeSpan now)
    {
        if (!_rooms.TryGetValue(room, out var sent)) _rooms.Add(room, sent = new Queue<TimeSpan>());
        sent.Enqueue(now);
    }

    /// <summary>An echo from <paramref name="room"/>: one say less waits.</summary>
    public void Echoed(string room)
    {
        if (!_rooms.TryGetValue(room, out var sent)) return; // a say told not_stored already, stored after all
        sent.Dequeue();
        if (sent.Count == 0) _rooms.Remove(room);
    }

    /// <summary>The says sent <paramref name="timeout"/> or longer ago, counted per room; they are forgotten.</summary>
    public List<(string Room, int Says)> TakeExpired(TimeSpan now, TimeSpan timeout)
    {
        var expired = new List<(string, int)>();
        foreach (var (room, sent) in _rooms)
        {
            int says = 0;
            while (sent.TryPeek(out var at) && now - at >= timeout)
            {
                sent.Dequeue();
                says++;
            }
            if (says > 0) expired.Add((room, says));
        }
        foreach (var (room, _) in expired)
        {
            if (_rooms[room].Count == 0) _rooms.Remove(room);
        }
        return expired;
    }
}
