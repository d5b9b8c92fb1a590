using Messenger.Protocol;

namespace Messenger.TerminalClient;

/// <summary>
/// What the user typed on the input line. Plain text is a chat message; a line starting with
/// <c>/</c> is a command (<c>//text</c> sends text that starts with <c>/</c>).
/// </summary>
public abstract record InputCommand
{
    public const string HelpText =
        "commands: /pm NAME TEXT · /who · /files · /get NAME [tcp|udp] · /help · /quit · (//text sends \"/text\")";

    /// <summary>The wire command to send, or null for commands handled by the client itself.</summary>
    public virtual ClientCommand? ToClientCommand() => null;

    public static InputCommand Parse(string? input)
    {
        var line = (input ?? "").Trim();
        if (line.Length == 0) return Empty.Instance;
        if (!line.StartsWith('/')) return new Say(line);
        if (line.StartsWith("//", StringComparison.Ordinal)) return new Say(line[1..]);

        var (name, rest) = SplitWord(line[1..]);
        switch (name.ToLowerInvariant())
        {
            case "pm":
            case "msg":
            {
                var (to, text) = SplitWord(rest);
                if (to.Length == 0) return new Invalid("usage: /pm NAME TEXT");
                if (!Usernames.IsValid(to)) return new Invalid($"\"{to}\" is not a valid username");
                if (text.Length == 0) return new Invalid($"usage: /pm {to} TEXT (the message is missing)");
                return new PrivateMessage(to, text);
            }
            case "who":
                return rest.Length == 0 ? Who.Instance : new Invalid("usage: /who (no arguments)");
            case "files":
                return rest.Length == 0 ? Files.Instance : new Invalid("usage: /files (no arguments)");
            case "get":
            {
                var (file, tail) = SplitWord(rest);
                if (file.Length == 0) return new Invalid("usage: /get NAME [tcp|udp]");
                var (via, extra) = SplitWord(tail);
                if (extra.Length != 0) return new Invalid("usage: /get NAME [tcp|udp] (too many arguments)");
                return via.ToLowerInvariant() switch
                {
                    "" or "tcp" => new Get(file, TransferVia.Tcp),
                    "udp" => new Get(file, TransferVia.Udp),
                    _ => new Invalid($"unknown transfer \"{via}\": use tcp or udp"),
                };
            }
            case "help":
            case "?":
                return Help.Instance;
            case "quit":
            case "exit":
                return Quit.Instance;
            case "":
                return new Invalid("a command name is missing after \"/\"; " + HelpText);
            default:
                return new Invalid($"unknown command \"/{name}\"; " + HelpText);
        }
    }

    private static (string Word, string Tail) SplitWord(string text)
    {
        text = text.TrimStart();
        int space = text.IndexOfAny([' ', '\t']);
        return space < 0 ? (text, "") : (text[..space], text[(space + 1)..].Trim());
    }

    public sealed record Empty : InputCommand { public static readonly Empty Instance = new(); }
    public sealed record Say(string Text) : InputCommand { public override ClientCommand ToClientCommand() => new SayCommand(Text); }
    public sealed record PrivateMessage(string To, string Text) : InputCommand { public override ClientCommand ToClientCommand() => new PmCommand(To, Text); }
    public sealed record Who : InputCommand { public static readonly Who Instance = new(); public override ClientCommand ToClientCommand() => WhoCommand.Instance; }
    public sealed record Files : InputCommand { public static readonly Files Instance = new(); public override ClientCommand ToClientCommand() => FilesCommand.Instance; }
    public sealed record Get(string File, TransferVia Via) : InputCommand { public override ClientCommand ToClientCommand() => new GetCommand(File, Via); }
    public sealed record Help : InputCommand { public static readonly Help Instance = new(); }
    public sealed record Quit : InputCommand { public static readonly Quit Instance = new(); }
    public sealed record Invalid(string Error) : InputCommand;
}
