using System.Globalization;

namespace Messenger.TerminalClient;

/// <summary>How a chat-log line is shown: each kind has its own prefix and colour.</summary>
public enum LineKind { Own, Other, Action, PmIn, PmOut, Join, Leave, Error, System }

/// <summary>
/// Whether the server has echoed a line the user typed: delivered, on its way, lost with the
/// connection, refused by the server (the error follows it), or kept for an offline registered user.
/// </summary>
public enum Delivery { Delivered, Pending, Failed, Refused, Queued }

/// <summary>
/// One line of the chat log. <see cref="From"/> is the author of a message (null for notes),
/// <see cref="Conversation"/> the buffer it belongs to (null: the lobby; <c>#name</c>: a room; a
/// user's name: the private conversation with them; a note with no buffer shows in all);
/// <see cref="Mentioned"/> marks a message from someone else that names the user; <see cref="Id"/>
/// is a room message's id in its room.
/// </summary>
public sealed record ChatLine(
    DateTimeOffset Time,
    LineKind Kind,
    string Text,
    string? From = null,
    string? Conversation = null,
    Delivery Delivery = Delivery.Delivered,
    bool Mentioned = false,
    long? Id = null)
{
    public static string Prefix(LineKind kind) => kind switch
    {
        LineKind.Own => "»",
        LineKind.Other => " ",
        LineKind.Action => "*",
        LineKind.PmIn => "◆",
        LineKind.PmOut => "◇",
        LineKind.Join => "→",
        LineKind.Leave => "←",
        LineKind.Error => "!",
        _ => "·",
    };

    /// <summary>What comes before the text: time, prefix and author. Wrapped rows are indented under its end.</summary>
    public string Head => $"{Time.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture)} {Prefix(Kind)} " + Kind switch
    {
        LineKind.Action => $"{From} ",
        _ when From is not null => $"<{From}> ",
        _ => "",
    };

    /// <summary>The text, with the delivery state of a line still on its way.</summary>
    public string Body => Delivery switch
    {
        Delivery.Pending => Text + "  (sending…)",
        Delivery.Failed => Text + "  (NOT SENT: the connection was lost)",
        Delivery.Refused => Text + "  (NOT SENT)",
        Delivery.Queued => Text + $"  (kept for {Conversation}, who is offline: delivered at the next login)",
        _ => Text,
    };

    public string Render() => Head + Body;

    public override string ToString() => Render();
}

/// <summary>A user's colour: the same name always gets the same one of <c>count</c> colours, on every client.</summary>
public static class UserColors
{
    public static int Index(string user, int count)
    {
        uint hash = 2166136261; // FNV-1a: stable across processes, unlike string.GetHashCode
        foreach (char c in user.ToLowerInvariant())
        {
            hash ^= c;
            hash *= 16777619;
        }
        return (int)(hash % (uint)count);
    }
}
