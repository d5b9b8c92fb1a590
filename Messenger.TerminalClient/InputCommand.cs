using System.Globalization;
using Messenger.Protocol;

namespace Messenger.TerminalClient;

/// <summary>
/// What the user typed on the input line. Plain text is a chat message; a line starting with
/// <c>/</c> is a command (<c>//text</c> sends text that starts with <c>/</c>). A pasted text of
/// several lines is sent as one message per line; every line is checked against the protocol's
/// length limit before anything is sent.
/// </summary>
public abstract record InputCommand
{
    /// <summary>How <c>/me</c> travels: a chat message with this prefix, shown by clients as an action.</summary>
    public const string ActionPrefix = "/me ";

    /// <summary>The wire commands to send; empty for commands handled by the client itself.</summary>
    public virtual IReadOnlyList<ClientCommand> ToClientCommands() => [];

    public static InputCommand Parse(string? input)
    {
        var raw = input ?? "";
        if (raw.Length == 0) return Empty.Instance;
        var line = raw.Trim();
        if (line.Length == 0) return new Invalid("the message is only spaces: nothing was sent");
        if (!line.StartsWith('/')) return Say.Of(line);
        if (line.StartsWith("//", StringComparison.Ordinal)) return Say.Of(line[1..]);

        var (name, rest) = SplitWord(line[1..]);
        switch (name.ToLowerInvariant())
        {
            case "pm":
            case "msg":
            case "query":
            {
                var (to, text) = SplitWord(rest);
                if (to.Length == 0) return new Invalid($"usage: /{name.ToLowerInvariant()} NAME [TEXT]");
                if (!Usernames.IsValid(to)) return new Invalid($"\"{to}\" is not a valid username");
                if (text.Length == 0) return new Query(to);
                return CheckLength(text) ?? new PrivateMessage(to, text);
            }
            case "me":
                if (rest.Length == 0) return new Invalid("usage: /me ACTION (for example /me waves)");
                return CheckLength(ActionPrefix + rest) ?? new Me(rest);
            case "who":
                return rest.Length == 0 ? Who.Instance : new Invalid("usage: /who (no arguments)");
            case "join":
            {
                var (room, extra) = SplitWord(rest);
                if (room.Length == 0 || extra.Length != 0) return new Invalid("usage: /join ROOM (for example /join #rust)");
                return RoomNames.Normalize(room) is { } toJoin ? new Join(toJoin) : new Invalid($"\"{room}\" is not a valid room name (1-32 of A-Z a-z 0-9 _ - ., an optional # before)");
            }
            case "part":
            case "leave":
            {
                var (room, extra) = SplitWord(rest);
                if (extra.Length != 0) return new Invalid("usage: /part [ROOM] (the room shown when no ROOM is given)");
                if (room.Length == 0) return new Part(null);
                return RoomNames.Normalize(room) is { } toLeave ? new Part(toLeave) : new Invalid($"\"{room}\" is not a valid room name");
            }
            case "rooms":
                return rest.Length == 0 ? Rooms.Instance : new Invalid("usage: /rooms (no arguments)");
            case "register":
            {
                var (password, extra) = SplitWord(rest);
                if (password.Length == 0 || extra.Length != 0) return new Invalid("usage: /register PASSWORD (8-128 characters, no spaces)");
                return CheckPassword(password) ?? new Register(new Password(password));
            }
            case "passwd":
            {
                var (old, tail) = SplitWord(rest);
                var (@new, extra) = SplitWord(tail);
                if (old.Length == 0 || @new.Length == 0 || extra.Length != 0) return new Invalid("usage: /passwd OLD NEW");
                return CheckPassword(@new) ?? new ChangePassword(new Password(old), new Password(@new));
            }
            case "files":
                return rest.Length == 0 ? Files.Instance : new Invalid("usage: /files (no arguments)");
            case "get":
            {
                if (!TryFileName(rest, out var file, out var tail)) return new Invalid("usage: /get NAME [tcp|udp] (a closing \" is missing)");
                if (file.Length == 0) return new Invalid("usage: /get NAME [tcp|udp] (quote a name with spaces: /get \"my file.txt\")");
                var (via, extra) = SplitWord(tail);
                if (extra.Length != 0) return new Invalid("usage: /get NAME [tcp|udp] (too many arguments; quote a name with spaces)");
                return via.ToLowerInvariant() switch
                {
                    "" or "tcp" => new Get(file, TransferVia.Tcp),
                    "udp" => new Get(file, TransferVia.Udp),
                    _ => new Invalid($"unknown transfer \"{via}\": use tcp or udp (quote a name with spaces: /get \"my file.txt\")"),
                };
            }
            case "help":
            case "?":
                return Help.Instance;
            case "quit":
            case "exit":
                return Quit.Instance;
            case "":
                return new Invalid("a command name is missing after \"/\"; " + HelpText.Commands);
            default:
                return new Invalid($"unknown command \"/{name}\"; " + HelpText.Commands);
        }
    }

    /// <summary>An error when a line of <paramref name="text"/> is longer than the server accepts.</summary>
    private static InputCommand? CheckLength(string text)
    {
        foreach (var line in Lines(text))
        {
            int length = line.EnumerateRunes().Count();
            if (length > ProtocolLimits.MaxTextCodePoints)
                return new Invalid(string.Create(CultureInfo.InvariantCulture,
                    $"the message is {length:N0} characters; the server takes at most {ProtocolLimits.MaxTextCodePoints:N0}. It is still on the input line: shorten it or split it into lines."));
        }
        return null;
    }

    private static InputCommand? CheckPassword(string password) =>
        password.Length is < ProtocolLimits.MinPasswordLength or > ProtocolLimits.MaxPasswordLength
            ? new Invalid($"a password is {ProtocolLimits.MinPasswordLength}-{ProtocolLimits.MaxPasswordLength} characters")
            : null;

    /// <summary>Whether the typed line holds a password, so it must not be kept in the input history.</summary>
    public bool HoldsPassword => this is Register or ChangePassword;

    /// <summary>The non-blank lines of a (possibly pasted) text.</summary>
    public static IEnumerable<string> Lines(string text) =>
        text.Replace("\r\n", "\n").Split('\n').Select(l => l.TrimEnd()).Where(l => l.Trim().Length > 0);

    private static (string Word, string Tail) SplitWord(string text)
    {
        text = text.TrimStart();
        int space = text.IndexOfAny([' ', '\t']);
        return space < 0 ? (text, "") : (text[..space], text[(space + 1)..].Trim());
    }

    /// <summary>The first word, or a "quoted name with spaces".</summary>
    private static bool TryFileName(string text, out string file, out string tail)
    {
        text = text.TrimStart();
        if (!text.StartsWith('"'))
        {
            (file, tail) = SplitWord(text);
            return true;
        }
        int close = text.IndexOf('"', 1);
        if (close < 0)
        {
            (file, tail) = ("", "");
            return false;
        }
        (file, tail) = (text[1..close], text[(close + 1)..].Trim());
        return true;
    }

    public sealed record Empty : InputCommand { public static readonly Empty Instance = new(); }

    /// <summary>Chat in <paramref name="Room"/> (null: the lobby; the view-model sets the room shown).</summary>
    public sealed record Say(string Text, string? Room = null) : InputCommand
    {
        public static InputCommand Of(string text) => CheckLength(text) ?? new Say(text);
        public override IReadOnlyList<ClientCommand> ToClientCommands() =>
            Lines(Text).Select(l => (ClientCommand)new SayCommand(l, RoomOrNull(Room))).ToList();
    }

    public sealed record Me(string Text, string? Room = null) : InputCommand
    {
        public override IReadOnlyList<ClientCommand> ToClientCommands() => [new SayCommand(ActionPrefix + Text, RoomOrNull(Room))];
    }

    /// <summary>The lobby travels as no room at all, as every client before rooms sent it.</summary>
    private static string? RoomOrNull(string? room) => room == RoomNames.Lobby ? null : room;

    public sealed record Join(string Room) : InputCommand { public override IReadOnlyList<ClientCommand> ToClientCommands() => [new JoinCommand(Room)]; }
    /// <summary>Leave <paramref name="Room"/>, or the room shown when null (the view-model fills it in).</summary>
    public sealed record Part(string? Room) : InputCommand { public override IReadOnlyList<ClientCommand> ToClientCommands() => Room is null ? [] : [new PartCommand(Room)]; }
    public sealed record Rooms : InputCommand { public static readonly Rooms Instance = new(); public override IReadOnlyList<ClientCommand> ToClientCommands() => [RoomsCommand.Instance]; }
    public sealed record Register(Password Password) : InputCommand { public override IReadOnlyList<ClientCommand> ToClientCommands() => [new RegisterCommand(Password)]; }
    public sealed record ChangePassword(Password Old, Password New) : InputCommand { public override IReadOnlyList<ClientCommand> ToClientCommands() => [new PasswdCommand(Old, New)]; }

    /// <summary>Opens (and shows) the private conversation with <paramref name="With"/>, as irssi's <c>/query</c>.</summary>
    public sealed record Query(string With) : InputCommand;

    public sealed record PrivateMessage(string To, string Text) : InputCommand
    {
        public override IReadOnlyList<ClientCommand> ToClientCommands() => Lines(Text).Select(l => (ClientCommand)new PmCommand(To, l)).ToList();
    }

    public sealed record Who : InputCommand { public static readonly Who Instance = new(); public override IReadOnlyList<ClientCommand> ToClientCommands() => [WhoCommand.Instance]; }
    public sealed record Files : InputCommand { public static readonly Files Instance = new(); public override IReadOnlyList<ClientCommand> ToClientCommands() => [FilesCommand.Instance]; }
    public sealed record Get(string File, TransferVia Via) : InputCommand { public override IReadOnlyList<ClientCommand> ToClientCommands() => [new GetCommand(File, Via)]; }
    public sealed record Help : InputCommand { public static readonly Help Instance = new(); }
    public sealed record Quit : InputCommand { public static readonly Quit Instance = new(); }
    public sealed record Invalid(string Error) : InputCommand;
}

/// <summary>The one help text: commands and keys, shown by /help and F1 and quoted in the docs.</summary>
public static class HelpText
{
    public const string Commands =
        "commands: /pm NAME [TEXT] (or /query) · /me ACTION · /who · /join ROOM · /part [ROOM] · /rooms · /files · /get NAME [tcp|udp] (\"quote names with spaces\") · "
        + "/register PASSWORD · /passwd OLD NEW · /help · /quit · //text sends \"/text\"";

    public const string Keys =
        "keys: F1 help · F2 files · F3 downloads · F4/Esc chat · F5 reconnect · F7 hide/show joins and leaves · Tab completes on the input line (on an empty line Tab/Shift+Tab move focus) · "
        + "Up/Down input history · PgUp/PgDn scroll (past the top: older history) · End newest line · Ctrl+N/Ctrl+P next/previous room or conversation · Ctrl+A/E/U/K/W edit · Ctrl+Q quit";
}
