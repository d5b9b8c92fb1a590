namespace Messenger.Protocol;

/// <summary>
/// Room names follow the username rules (1–32 ASCII letters, digits, '_', '-', '.'); a leading
/// '#' is accepted and dropped. Rooms are one per name ignoring case, so names are kept in lower case.
/// </summary>
public static class RoomNames
{
    /// <summary>The room every logged-in user is in; <c>say</c> without <c>room</c> goes here.</summary>
    public const string Lobby = "lobby";

    /// <summary>The canonical name, or null if <paramref name="room"/> is not a valid room name.</summary>
    public static string? Normalize(string? room)
    {
        if (room is { Length: > 0 } && room[0] == '#') room = room[1..];
        return Usernames.IsValid(room) ? room!.ToLowerInvariant() : null;
    }
}
