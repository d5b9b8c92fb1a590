using Akka.Actor;
using Akka.Cluster;
using Messenger.Cluster;
using Messenger.Protocol;

namespace Messenger.Rooms;

/// <summary>Ask for the rooms people are in, on every node; the reply is a <see cref="RoomsFrame"/>.</summary>
public sealed record ListRooms { public static readonly ListRooms Instance = new(); }

/// <summary>A room tells its node's directory how many members it has after each change.</summary>
public sealed record RoomOccupancy(string Room, int Members);

/// <summary>One directory asks another for the rooms with members that its node hosts.</summary>
public sealed record GetRoomCounts : ICrossNodeMessage { public static readonly GetRoomCounts Instance = new(); }
public sealed record RoomCounts(IReadOnlyList<RoomEntry> Rooms) : ICrossNodeMessage;

/// <summary>
/// A node's list of its rooms: it counts the members of the rooms hosted on this node (each room
/// tells it after every change) and answers <c>rooms</c> by asking every node's directory. Room
/// chat does not pass here: it is told to the room region (<see cref="ToRoom"/>), which delivers to
/// the room's entity on whichever node hosts it.
/// </summary>
public sealed class RoomDirectory : ReceiveActor
{
    private readonly TimeSpan _listTimeout;
    private readonly SortedDictionary<string, int> _occupied = new(StringComparer.Ordinal);

    public RoomDirectory(TimeSpan listTimeout)
    {
        _listTimeout = listTimeout;
        Receive<RoomOccupancy>(o =>
        {
            if (o.Members > 0) _occupied[o.Room] = o.Members;
            else _occupied.Remove(o.Room);
        });
        Receive<GetRoomCounts>(_ => Sender.Tell(LocalCounts()));
        Receive<ListRooms>(_ => ListEverywhere());
    }

    public static Props Props(TimeSpan listTimeout) => Akka.Actor.Props.Create(() => new RoomDirectory(listTimeout));

    private RoomCounts LocalCounts() => new(_occupied.Select(p => new RoomEntry(p.Key, p.Value)).ToArray());

    /// <summary>
    /// Gathers every node's counts (a node that does not answer in time is left out) into one
    /// sorted list. A room is hosted by one node; while its shard moves, the larger count wins.
    /// </summary>
    private void ListEverywhere()
    {
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        var others = cluster.State.Members
            .Where(m => m.Status == MemberStatus.Up && !m.Address.Equals(cluster.SelfAddress))
            .Select(m => Context.ActorSelection(new RootActorPath(m.Address) / Self.Path.Elements))
            .Select(async peer =>
            {
                try { return await peer.Ask<RoomCounts>(GetRoomCounts.Instance, _listTimeout); }
                catch (AskTimeoutException) { return new RoomCounts([]); }
            });
        var local = LocalCounts();
        Task.WhenAll(others).PipeTo(Sender, success: counts => new RoomsFrame(counts.Append(local)
            .SelectMany(c => c.Rooms)
            .GroupBy(r => r.Name)
            .Select(g => new RoomEntry(g.Key, g.Max(r => r.Members)))
            .OrderBy(r => r.Name, StringComparer.Ordinal)
            .ToArray()));
    }
}
