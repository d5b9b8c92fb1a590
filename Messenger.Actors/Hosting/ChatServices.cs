using Akka.Actor;
using Messenger.Accounts;
using Messenger.Chat;
using Messenger.Cluster;
using Messenger.Rooms;

namespace Messenger.Hosting;

/// <summary>
/// What one node runs of the chat: its room directory, presence and registry, and the regions of
/// the sharded entities (rooms, accounts, name claims). The same on every node, and on a node alone.
/// <see cref="Rooms"/> is the room region, which room chat (<see cref="ToRoom"/>) is told to;
/// <see cref="RoomDirectory"/> counts this node's rooms and answers <c>rooms</c>.
/// </summary>
public sealed record ChatServices(IActorRef Rooms, IActorRef RoomDirectory, IActorRef Accounts, IActorRef Claims, IActorRef Presence,
    IActorRef Registry)
{
    public static ChatServices Start(ActorSystem system, RoomSettings rooms, AccountSettings accounts, bool passwordsInClear = false,
        Func<long>? unixMillisClock = null)
    {
        var clock = unixMillisClock ?? (() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var (roomRegion, roomDirectory) = StartRooms(system, rooms, clock);
        var accountRegion = AccountActor.StartRegion(system, accounts);
        var claims = NameClaims.StartRegion(system, accountRegion, NameClaimSettings.FromConfig(system.Settings.Config));
        var config = system.Settings.Config;
        var presence = system.ActorOf(PresenceActor.Props(roomRegion, PresenceSettings.FromConfig(config)), "presence");
        var registry = system.ActorOf(UsernameRegistry.Props(roomRegion, claims, presence, LoginRateSettings.FromConfig(config),
            accounts.RegistrationsPerAddress, ChatSettings.IdleCheckInterval(config), passwordsInClear, clock, LoginBurstCollection.FromConfig(config)), "users");
        return new ChatServices(roomRegion, roomDirectory, accountRegion, claims, presence, registry);
    }

    /// <summary>
    /// This node's room region and room directory. Everything for a room is told to the region
    /// itself, not through another actor: a message through one more actor's mailbox was one more
    /// hand-off between threads for every chat message (bench/README.md, session 14).
    /// </summary>
    public static (IActorRef Region, IActorRef Directory) StartRooms(ActorSystem system, RoomSettings settings, Func<long> unixMillisClock)
    {
        // "rooms": every node's directory at the same path, where the others ask it for its counts.
        var directory = system.ActorOf(Messenger.Rooms.RoomDirectory.Props(settings.ListTimeout), "rooms");
        var quota = new RoomQuota(settings.MaxRooms);
        var materializer = Akka.Streams.ActorMaterializer.Create(system);
        var region = EntityDirectory.Start(system, "room",
            room => RoomActor.Props(room, settings, materializer, unixMillisClock, directory, quota));
        return (region, directory);
    }
}
