using Akka.Actor;
using Messenger.Accounts;
using Messenger.Chat;
using Messenger.Cluster;
using Messenger.Rooms;

namespace Messenger.Hosting;

/// <summary>
/// What one node runs of the chat: its room directory, presence and registry, and the regions of
/// the sharded entities (rooms, accounts, name claims). The same on every node, and on a node alone.
/// </summary>
public sealed record ChatServices(IActorRef Rooms, IActorRef Accounts, IActorRef Claims, IActorRef Presence, IActorRef Registry)
{
    public static ChatServices Start(ActorSystem system, RoomSettings rooms, AccountSettings accounts, bool passwordsInClear = false,
        Func<long>? unixMillisClock = null)
    {
        var clock = unixMillisClock ?? (() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var roomDirectory = StartRooms(system, rooms, clock);
        var accountRegion = AccountActor.StartRegion(system, accounts);
        var claims = NameClaims.StartRegion(system, accountRegion, NameClaimSettings.FromConfig(system.Settings.Config));
        var config = system.Settings.Config;
        var presence = system.ActorOf(PresenceActor.Props(roomDirectory, PresenceSettings.FromConfig(config)), "presence");
        var registry = system.ActorOf(UsernameRegistry.Props(roomDirectory, claims, presence, LoginRateSettings.FromConfig(config),
            ChatSettings.IdleCheckInterval(config), passwordsInClear, clock), "users");
        return new ChatServices(roomDirectory, accountRegion, claims, presence, registry);
    }

    /// <summary>This node's room directory and the room region behind it.</summary>
    public static IActorRef StartRooms(ActorSystem system, RoomSettings settings, Func<long> unixMillisClock, string name = "rooms")
    {
        var directory = system.ActorOf(RoomDirectory.Props(settings.ListTimeout), name);
        var quota = new RoomQuota(settings.MaxRooms);
        var materializer = Akka.Streams.ActorMaterializer.Create(system);
        var region = EntityDirectory.Start(system, "room",
            room => RoomActor.Props(room, settings, materializer, unixMillisClock, directory, quota));
        directory.Tell(new UseRegion(region));
        return directory;
    }
}
