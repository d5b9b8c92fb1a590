using System.CommandLine;
using Akka.Actor;
using Akka.Configuration;
using Messenger.Client;
using Messenger.Hosting;
using Messenger.Protocol;
using Messenger.Rudp;

namespace Messenger.TerminalClient;

/// <summary>
/// The command line: with no subcommand the full-screen client, plus the headless
/// <c>say</c> and <c>download</c> commands. Bad flags print a clear message and exit 2.
/// </summary>
public static class Cli
{
    public const int BadUsage = 2;

    /// <param name="ownProcess">True when this is the program's own <c>Main</c>: start-up times then count from the process launch.</param>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancel = default, bool ownProcess = false)
    {
        // A reliable-UDP download's actor system takes longer to start than building the command line, reading the
        // configuration and logging in together, and it is the only part that needs none of them: in the command's own
        // process it starts first, from the defaults (the download's own settings, the lossy-socket flags among them,
        // come from the parsed command line). A command read wrongly here only starts it later, as before, or in vain.
        var udpSystem = ownProcess && IsUdpDownload(args) ? Task.Run(() => ActorSystem.Create(SystemName, ClientConfig.Load())) : null;
        var root = Build(stdout, stderr, ownProcess, udpSystem);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors) stderr.WriteLine($"error: {error.Message}");
            stderr.WriteLine("run with --help for usage");
            return BadUsage;
        }
        return await parsed.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr }, cancel);
    }

    /// <param name="udpSystem">The actor system a reliable-UDP download runs in, already starting; null: the download starts its own.</param>
    public static RootCommand Build(TextWriter stdout, TextWriter stderr, bool ownProcess = false, Task<ActorSystem>? udpSystem = null)
    {
        var server = ServerOption();
        var port = PortOption();
        var user = new Option<string?>("--user") { Description = "Username to log in with (asked on the connect form when missing)" };
        var downloads = new Option<string>("--downloads") { Description = "Folder for downloaded files", DefaultValueFactory = _ => "downloads" };

        var root = new RootCommand("Messenger terminal client: full-screen chat and file downloads (no subcommand), or headless commands.")
        {
            server, port, user, downloads,
        };
        foreach (var option in LossFlags.All) root.Options.Add(option);
        foreach (var option in TlsFlags.All) root.Options.Add(option);
        root.SetAction(async (parsed, cancel) =>
        {
            if (MissingFolder(parsed, downloads) is { } missing)
            {
                stderr.WriteLine($"error: the folder {missing} does not exist (--downloads names an existing folder)");
                return BadUsage;
            }
            using var system = CreateSystem(parsed);
            var ui = new TerminalUi(system, new TerminalUiOptions(
                parsed.GetValue(server)!, parsed.GetValue(port), parsed.GetValue(user), parsed.GetValue(downloads)!, TlsFlags.From(parsed)));
            int code = ui.Run();
            await system.Terminate();
            return code;
        });

        root.Subcommands.Add(SayCommand(stderr, ownProcess));
        root.Subcommands.Add(DownloadCommand(stdout, stderr, ownProcess, udpSystem));
        return root;
    }

    private static Option<string> ServerOption() =>
        new("--server") { Description = "Server host name or address", DefaultValueFactory = _ => "127.0.0.1" };

    private static Option<int> PortOption()
    {
        var option = new Option<int>("--port") { Description = "Server chat (control channel) TCP port", DefaultValueFactory = _ => 7400 };
        option.Validators.Add(r =>
        {
            // Only a number out of range: a value that is not a number already has the parser's own error.
            if (r.Tokens is [var token] && int.TryParse(token.Value, out int port) && port is < 1 or > 65535)
                r.AddError("--port must be between 1 and 65535");
        });
        return option;
    }

    private static Command SayCommand(TextWriter stderr, bool ownProcess)
    {
        var server = ServerOption();
        var port = PortOption();
        var user = new Option<string>("--user") { Description = "Username to log in with", Required = true };
        var room = new Option<string?>("--room") { Description = "Room to say it in (joined first; default: the lobby)" };
        room.Validators.Add(r =>
        {
            if (r.Tokens is [var token] && RoomNames.Normalize(token.Value) is null)
                r.AddError("--room must be 1-32 of A-Z a-z 0-9 _ - . (a leading # is allowed)");
        });
        var password = new Option<string?>("--password") { Description = "The password of a registered name (8-128 characters)" };
        password.Validators.Add(r =>
        {
            if (r.Tokens is [var token] && token.Value.Length is < ProtocolLimits.MinPasswordLength or > ProtocolLimits.MaxPasswordLength)
                r.AddError($"--password must be {ProtocolLimits.MinPasswordLength}-{ProtocolLimits.MaxPasswordLength} characters");
        });
        var text = new Argument<string>("TEXT") { Description = "The message to send" };
        text.Validators.Add(r =>
        {
            if (r.Tokens is [var token] && token.Value.Trim().Length == 0) r.AddError("TEXT is empty: there is nothing to say");
        });
        var command = new Command("say", "Log in, send one chat message, wait for its echo, log out.") { server, port, user, password, room, text };
        foreach (var option in TlsFlags.All) command.Options.Add(option);
        command.SetAction(async (parsed, cancel) =>
        {
            var times = new StartupTimes(ownProcess);
            return await Headless.SayAsync(ChatSessionSettings.FromConfig(CreateConfig(parsed)), parsed.GetValue(server)!, parsed.GetValue(port),
                parsed.GetValue(user)!, parsed.GetValue(text)!, stderr, cancel, TlsFlags.From(parsed), RoomNames.Normalize(parsed.GetValue(room)), times,
                parsed.GetValue(password) is { } secret ? new Password(secret) : null);
        });
        return command;
    }

    /// <summary>
    /// Whether <paramref name="args"/> ask for <c>download ... --via udp</c>, read ahead of the parser (which has the
    /// last word): only the plain spellings, anything else is taken as no.
    /// </summary>
    internal static bool IsUdpDownload(string[] args)
    {
        if (args is not ["download", ..]) return false;
        for (int i = 1; i < args.Length; i++)
        {
            if (args[i] is "--via=udp" or "--via:udp" || (args[i] == "--via" && i + 1 < args.Length && args[i + 1] == "udp")) return true;
        }
        return false;
    }

    private static Command DownloadCommand(TextWriter stdout, TextWriter stderr, bool ownProcess, Task<ActorSystem>? udpSystem)
    {
        var server = ServerOption();
        var port = PortOption();
        var via = new Option<string>("--via") { Description = "File channel: tcp or reliable udp", DefaultValueFactory = _ => "tcp" };
        via.AcceptOnlyFromAmong("tcp", "udp");
        var output = new Option<string>("--out") { Description = "Folder to save the file in", DefaultValueFactory = _ => "downloads" };
        var file = new Argument<string>("NAME") { Description = "Name of the file on the server (see /files)" };
        var command = new Command("download",
            "Log in under a generated name, download one file and verify its SHA-256. Prints one summary line:\n"
            + "file=NAME bytes=N seconds=S MB/s=M datagrams=D retransmits=R sha256=ok|bad")
        {
            file, server, port, via, output,
        };
        foreach (var option in LossFlags.All) command.Options.Add(option);
        foreach (var option in TlsFlags.All) command.Options.Add(option);
        command.SetAction(async (parsed, cancel) =>
        {
            if (MissingFolder(parsed, output) is { } missing)
            {
                stderr.WriteLine($"error: the folder {missing} does not exist (--out names an existing folder)");
                return BadUsage;
            }
            var times = new StartupTimes(ownProcess);
            var config = CreateConfig(parsed);
            var settings = ChatSessionSettings.FromConfig(config);
            var transferVia = parsed.GetValue(via) == "udp" ? TransferVia.Udp : TransferVia.Tcp;
            // A reliable-UDP download runs in an actor system: it starts (if it has not yet) while the control channel logs in.
            var system = transferVia == TransferVia.Udp ? udpSystem ?? Task.Run(() => ActorSystem.Create(SystemName, config)) : null;
            try
            {
                return await Headless.DownloadAsync(settings, system, RudpSettings.FromConfig(config), parsed.GetValue(server)!, parsed.GetValue(port), parsed.GetValue(file)!,
                    transferVia, parsed.GetValue(output)!, stdout, stderr, cancel, TlsFlags.From(parsed), times);
            }
            finally
            {
                // A download in its own process ends with it: the file is verified and in place (or
                // gone) by now, and the process's exit closes the socket; stopping the actors first
                // cost 30-60 ms of every download. Run inside another program (tests), it stops them.
                if (system is not null && !ownProcess) await (await system).Terminate();
            }
        });
        return command;
    }

    /// <summary>The folder <paramref name="option"/> names when it was given but does not exist (the default is created when needed).</summary>
    public static string? MissingFolder(ParseResult parsed, Option<string> option) =>
        parsed.GetResult(option) is { Implicit: false } && parsed.GetValue(option) is { } folder && !Directory.Exists(folder) ? folder : null;

    private const string SystemName = "messenger-client";

    /// <summary>The client's actor system, configured as <see cref="CreateConfig"/> says.</summary>
    public static ActorSystem CreateSystem(ParseResult parsed) => ActorSystem.Create(SystemName, CreateConfig(parsed));

    /// <summary>The client's configuration: the lossy-socket flags layered over hocon/client.hocon.</summary>
    public static Config CreateConfig(ParseResult parsed) =>
        ClientConfig.Load(null, ConfigurationFactory.ParseString(string.Join("\n", LossFlags.ToHocon(parsed, "messenger.rudp.lossy"))));
}
