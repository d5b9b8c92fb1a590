using Akka.Actor;
using Akka.Streams;
using Messenger.Persistence;
using Messenger.Protocol;

namespace Messenger.Rooms;

/// <summary>A message for the room <paramref name="Room"/> (a normalized name); the sender is the member speaking.</summary>
public sealed record ToRoom(string Room, object Command);

/// <summary>Ask for the rooms people are in; the reply is a <see cref="RoomsFrame"/>.</summary>
public sealed record ListRooms { public static readonly ListRooms Instance = new(); }

/// <summary>A room tells its directory how many members it has after each change.</summary>
public sealed record RoomOccupancy(int Members);

/// <summary>
/// The parent of every <see cref="RoomActor"/>, keyed by room name (see <see cref="EntityDirectory"/>).
/// Only a join creates a room, and only up to <c>max-rooms</c>; anything else for a room that is not
/// running is answered <c>not_member</c> here. It also keeps the member counts for <c>rooms</c>.
/// </summary>
public sealed class RoomDirectory : EntityDirectory
{
    private readonly RoomSettings _settings;
    private readonly Func<long> _clock;
    private readonly IMaterializer _materializer;
    private readonly SortedDictionary<string, int> _occupied = new(StringComparer.Ordinal);
    private RoomsFrame? _roomsFrame; // built on demand, dropped on every change

    public RoomDirectory(RoomSettings settings, Func<long> unixMillisClock)
    {
        _settings = settings;
        _clock = unixMillisClock;
        _materializer = Context.Materializer();
        Receive<ToRoom>(Route);
        Receive<RoomOccupancy>(o =>
        {
            if (NameOf(Sender) is not { } name) return;
            if (o.Members > 0) _occupied[name] = o.Members;
            else _occupied.Remove(name);
            _roomsFrame = null;
        });
        Receive<ListRooms>(_ => Sender.Tell(_roomsFrame ??=
            new RoomsFrame(_occupied.Select(p => new RoomEntry(p.Key, p.Value)).ToArray())));
    }

    public static Props Props(RoomSettings settings, Func<long>? unixMillisClock = null) =>
        Akka.Actor.Props.Create(() => new RoomDirectory(settings,
            unixMillisClock ?? (() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())));

    protected override Props EntityProps(string name) => RoomActor.Props(name, _settings, _materializer, _clock);

    protected override void EntityStopped(string name)
    {
        if (_occupied.Remove(name)) _roomsFrame = null;
    }

    private void Route(ToRoom envelope)
    {
        if (IsRunning(envelope.Room))
        {
            Deliver(envelope.Room, envelope.Command);
            return;
        }
        switch (envelope.Command)
        {
            case JoinRoom when EntityCount >= _settings.MaxRooms:
                Sender.Tell(new ErrorFrame(ErrorCodes.TooManyRooms, $"the server has {_settings.MaxRooms} rooms, its limit; join one of them"));
                return;
            case JoinRoom or AwaitRoomReady:
                Deliver(envelope.Room, envelope.Command);
                return;
            case PartRoom { Reason: not LeaveReasons.Part } part: // leaving the chat: nothing to leave here
                if (part.Confirmation is not null) Sender.Tell(part.Confirmation);
                return;
            default:
                Sender.Tell(RoomActor.NotMember(envelope.Room));
                return;
        }
    }
}
