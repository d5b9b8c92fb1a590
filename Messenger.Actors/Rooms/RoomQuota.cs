namespace Messenger.Rooms;

/// <summary>
/// How many rooms with members one node hosts, against <c>max-rooms</c>. Shared by the node's room
/// entities (a room takes a place when its first member joins, gives it back when its last one
/// leaves or it stops), so it is thread-safe.
/// </summary>
public sealed class RoomQuota(int max)
{
    private int _occupied;

    public int Max => max;

    public bool TryOccupy()
    {
        if (Interlocked.Increment(ref _occupied) <= max) return true;
        Interlocked.Decrement(ref _occupied);
        return false;
    }

    public void Vacate() => Interlocked.Decrement(ref _occupied);
}
