using System.Diagnostics;
using System.Security.Cryptography;
using Messenger.Protocol;
using Messenger.TerminalClient;
using Messenger.Tests.Support;

namespace Messenger.Tests.TerminalClient;

/// <summary>
/// The full-screen client in a real terminal: the built client runs inside a detached tmux
/// session (its own socket file, so no other tmux is touched); keys go in with <c>tmux send-keys</c>
/// and the screen is read with <c>tmux capture-pane -p</c>, polled against a deadline.
/// tmux is required: CI installs it (<c>apt-get install -y tmux</c>).
/// </summary>
public class TerminalSmokeTests
{
    /// <summary>The file channel the smoke test downloads over: reliable UDP by default (MESSENGER_SMOKE_VIA=tcp to switch).</summary>
    public static readonly string Via = Environment.GetEnvironmentVariable("MESSENGER_SMOKE_VIA") is { Length: > 0 } v ? v : "udp";

    [Fact]
    [Trait(ClientProcess.Trait, ClientProcess.TraitValue)]
    public async Task Terminal_client_logs_in_chats_sees_others_and_downloads_a_verified_file()
    {
        await using var server = await TestServer.StartAsync();
        var sample = server.Files.CreateRandomFile("sample.bin", 2_500_000, seed: 9);
        var sha = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(sample)));
        using var downloads = new TempFolder();
        int port = server.Server.ChatEndpoint.Port;

        using var tmux = TmuxSession.Start(100, 30,
            $"--server 127.0.0.1 --port {port} --downloads {downloads.Path}");

        await tmux.WaitForAsync(s => s.Contains("Username:"), "the connect form");

        // A taken name: the server's message is shown and the form stays up for another try.
        await using (var holder = await server.LoginAsync("taken"))
        {
            tmux.SendText("taken");
            tmux.SendKeys("Enter");
            await tmux.WaitForAsync(s => s.Contains("is taken") && s.Contains("Username:"), "the refusal on the connect form");
        }
        tmux.SendKeys("BSpace", "BSpace", "BSpace", "BSpace", "BSpace");
        tmux.SendText("alice");
        tmux.SendKeys("Enter");
        await tmux.WaitForAsync(s => s.Contains("online as alice"), "logged in as alice");

        tmux.SendText("hello from tmux");
        tmux.SendKeys("Enter");
        await tmux.WaitForAsync(s => s.Contains("<alice> hello from tmux"), "alice's own message");

        // Shrink to 80x24: the client redraws to fit and keeps working.
        tmux.Resize(80, 24);
        await tmux.WaitForAsync(s => s.Contains("<alice> hello from tmux") && s.Contains("Ctrl+Q")
            && s.Split('\n').All(l => l.TrimEnd().Length <= 80) && s.Split('\n').Count(l => l.Trim().Length > 0) <= 24, "a redraw at 80x24");

        // A long message wraps under its name at 80x24, every row inside the pane.
        var words = string.Join(' ', Enumerable.Range(1, 40).Select(i => $"w{i:000}"));
        tmux.SendText(words + " END-OF-LONG");
        tmux.SendKeys("Enter");
        await tmux.WaitForAsync(s => s.Contains("<alice> w001") && s.Contains("END-OF-LONG") && !s.Contains("sending")
            && s.Split('\n').All(l => l.TrimEnd().Length <= 80), "the long message wrapped at 80 columns");

        // Up recalls the last line sent; Ctrl+U clears it again.
        tmux.SendText("recall me");
        tmux.SendKeys("Enter");
        await tmux.WaitForAsync(s => s.Contains("<alice> recall me"), "the short message");
        tmux.SendKeys("Up");
        await tmux.WaitForAsync(s => InputLine(s).StartsWith("recall me"), "Up recalling the last line");
        tmux.SendKeys("C-u");
        await tmux.WaitForAsync(s => InputLine(s).Length == 0, "Ctrl+U clearing the line");

        // Tab completes a name; on an empty line Tab moves focus: to the log, then the online list, where Enter opens a conversation.
        await using (var bobby = await server.LoginAsync("bobby"))
        {
            await tmux.WaitForAsync(s => s.Contains("bobby joined"), "bobby joining");
            tmux.SendText("bo");
            tmux.SendKeys("Tab");
            await tmux.WaitForAsync(s => InputLine(s).StartsWith("bobby:"), "Tab completing bobby");
            tmux.SendKeys("C-u", "Tab", "Tab", "Down", "Enter");
            await tmux.WaitForAsync(s => s.Contains("[bobby]"), "Tab, Tab to the online list, Enter on bobby opening a conversation");
            tmux.SendKeys("C-n");
            await tmux.WaitForAsync(s => s.Contains("[lobby]"), "Ctrl+N back to the lobby");
        }

        // A second client, headless.
        var stderr = new StringWriter();
        int code = await Cli.RunAsync(["say", "--server", "127.0.0.1", "--port", port.ToString(), "--user", "bob", "hi from bob"],
            TextWriter.Null, stderr);
        Assert.True(code == 0, stderr.ToString());
        await tmux.WaitForAsync(s => s.Contains("<bob> hi from bob"), "bob's message");
        await tmux.WaitForAsync(s => s.Contains("bob left"), "bob leaving");

        // Rooms: /join opens the room's buffer, what is said there stays there (with others' messages),
        // /part closes it and goes back to the lobby.
        tmux.SendText("/join rust");
        tmux.SendKeys("Enter");
        await tmux.WaitForAsync(s => s.Contains("[#rust]") && s.Contains("you are in #rust"), "alice in #rust, its buffer shown");
        tmux.SendText("hello rust");
        tmux.SendKeys("Enter");
        await tmux.WaitForAsync(s => s.Contains("<alice> hello rust") && !s.Contains("sending") && !s.Contains("<bob> hi from bob"),
            "alice's message in #rust, and only the room's lines");
        code = await Cli.RunAsync(["say", "--server", "127.0.0.1", "--port", port.ToString(), "--user", "carol", "--room", "rust", "hi rustaceans"],
            TextWriter.Null, stderr);
        Assert.True(code == 0, stderr.ToString());
        await tmux.WaitForAsync(s => s.Contains("<carol> hi rustaceans") && s.Contains("carol left #rust"), "carol's message in #rust");
        tmux.SendText("/part");
        tmux.SendKeys("Enter");
        await tmux.WaitForAsync(s => s.Contains("you left #rust") && s.Contains("[lobby]")
            && !s.Contains("hello rust") && s.Contains("<bob> hi from bob"), "/part back in the lobby, #rust closed");

        // More downloads than the view has rows: it follows the newest, PgUp shows the oldest.
        for (int i = 1; i <= 12; i++) server.Files.CreateRandomFile($"f{i:00}.bin", 1000, seed: i);
        for (int i = 1; i <= 12; i++)
        {
            tmux.SendText($"/get f{i:00}.bin");
            tmux.SendKeys("Enter");
        }
        tmux.SendKeys("F3");
        await tmux.WaitForAsync(s => s.Contains("f12.bin tcp 100%") && !s.Contains("f01.bin"), "the newest downloads at the bottom");
        tmux.SendKeys("PPage", "PPage", "PPage");
        await tmux.WaitForAsync(s => s.Contains("f01.bin tcp 100%") && s.Contains("more rows below"), "PgUp scrolling to the oldest download");
        tmux.SendKeys("F8", "F4"); // F4 rather than Esc: an Esc right before typed text reads as Alt+key

        // End from the input line goes back to the newest line of the log.
        tmux.SendKeys("PPage");
        await tmux.WaitForAsync(s => s.Contains("more rows below"), "PgUp in the chat");
        tmux.SendKeys("End");
        await tmux.WaitForAsync(s => !s.Contains("more rows below") && s.Contains("> "), "End back at the newest line");

        // Tab completes a file name after /get although the list was never asked for (no /files, no F2).
        tmux.SendText("/get sampl");
        tmux.SendKeys("Tab");
        await tmux.WaitForAsync(s => InputLine(s).StartsWith("/get sample.bin"), "Tab completing sample.bin");
        tmux.SendText(Via);
        tmux.SendKeys("Enter");
        tmux.SendKeys("F3");
        await tmux.WaitForAsync(s => s.Contains($"sample.bin {Via} 100%") && s.Contains("SHA-256 verified " + sha[..16]), "the verified download",
            TimeSpan.FromSeconds(60));
        Assert.Equal(await File.ReadAllBytesAsync(sample), await File.ReadAllBytesAsync(downloads.File("sample.bin")));
        tmux.SendKeys("F4");

        // Tab that completes nothing keeps the focus on the input line (Ctrl+U still clears it).
        tmux.SendText("/get zzz");
        tmux.SendKeys("Tab");
        await tmux.WaitForAsync(s => InputLine(s).StartsWith("/get zzz"), "the unmatched name still on the line");
        tmux.SendKeys("C-u");
        await tmux.WaitForAsync(s => InputLine(s).Length == 0, "Ctrl+U clearing the line after a Tab that completed nothing");

        tmux.SendKeys("C-q");
        await tmux.WaitForExitAsync();
    }

    [Fact]
    [Trait(ClientProcess.Trait, ClientProcess.TraitValue)]
    public async Task The_connect_form_moves_the_focus_to_the_password_when_the_name_is_registered()
    {
        await using var server = await TestServer.StartAsync();
        await server.RegisterAsync("dave", "davepass12");

        using var tmux = TmuxSession.Start(100, 30, $"--server 127.0.0.1 --port {server.Server.ChatEndpoint.Port} --user dave");
        await tmux.WaitForAsync(s => s.Contains("Username:"), "the connect form");
        tmux.SendKeys("Enter");
        await tmux.WaitForAsync(s => s.Contains("enter its password"), "the form asking for dave's password");

        // Typed at once, the password goes into the Password field (hidden), not into Username in clear.
        tmux.SendText("davepass12");
        var screen = await tmux.WaitForAsync(s => FieldRow(s, "Password:").Count(c => c == '∙') == 10, "the password typed, hidden");
        Assert.DoesNotContain("davepass12", screen);
        Assert.Equal("dave", FieldRow(screen, "Username:").Trim());
        tmux.SendKeys("Enter");
        await tmux.WaitForAsync(s => s.Contains("online as dave"), "logged in as dave with the password");

        tmux.SendKeys("C-q");
        await tmux.WaitForExitAsync();
    }

    /// <summary>What the connect form shows after <paramref name="label"/>.</summary>
    private static string FieldRow(string screen, string label) =>
        screen.Split('\n').Select(l => l.Trim('│', ' ')).FirstOrDefault(l => l.StartsWith(label))?[label.Length..].TrimEnd('│', ' ') ?? "";

    /// <summary>The text on the input line (the row that starts with the "&gt;" prompt).</summary>
    private static string InputLine(string screen) =>
        screen.Split('\n').Select(l => l.TrimStart('│', ' ')).FirstOrDefault(l => l.StartsWith('>'))?[1..].Trim().TrimEnd('│').Trim() ?? "";
}

/// <summary>A detached tmux server of its own (a unique socket file) running the terminal client; killed and removed on Dispose.</summary>
internal sealed class TmuxSession : IDisposable
{
    private static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(30);
    private readonly string _socket;
    private readonly string Name = "client-" + Guid.NewGuid().ToString("N")[..8];

    private TmuxSession(string socket) => _socket = socket;

    public static TmuxSession Start(int width, int height, string clientArgs)
    {
        var (code, _, err) = Run(["-V"], allowFailure: true);
        if (code != 0) throw new InvalidOperationException($"tmux is required for this test (apt-get install -y tmux): {err}");

        var session = new TmuxSession(Path.Combine(Path.GetTempPath(), "messenger-tmux-" + Guid.NewGuid().ToString("N")[..10]));
        // The pane stays open after the client exits so a crash is still on screen for the failure message.
        try
        {
            session.Tmux(["-f", "/dev/null", "new-session", "-d", "-s", session.Name, "-x", width.ToString(), "-y", height.ToString(),
                $"{Support.ClientProcess.ShellCommand()} {clientArgs}; echo CLIENT-EXITED $?; sleep 60"]);
        }
        catch
        {
            session.Dispose();
            throw;
        }
        return session;
    }

    /// <summary>The client process: the child of the shell tmux runs in the pane.</summary>
    public Process ClientProcess()
    {
        int shell = int.Parse(Tmux(["display-message", "-p", "-t", Name, "#{pane_pid}"]).Trim());
        var children = File.ReadAllText($"/proc/{shell}/task/{shell}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return Process.GetProcessById(int.Parse(children[0]));
    }

    public void SendText(string text) => Tmux(["send-keys", "-t", Name, "-l", text]);

    public void SendKeys(params string[] keys) => Tmux(["send-keys", "-t", Name, .. keys]);

    public void Resize(int width, int height) =>
        Tmux(["resize-window", "-t", Name, "-x", width.ToString(), "-y", height.ToString()]);

    public string Capture() => Tmux(["capture-pane", "-p", "-t", Name]);

    /// <summary>Polls the screen until <paramref name="condition"/> holds; fails with the last screen at the deadline.</summary>
    public async Task<string> WaitForAsync(Func<string, bool> condition, string what, TimeSpan? within = null)
    {
        var deadline = Stopwatch.StartNew();
        var limit = within ?? DefaultWait;
        string screen;
        while (true)
        {
            screen = Capture();
            if (condition(screen)) return screen;
            if (screen.Contains("CLIENT-EXITED")) break;
            if (deadline.Elapsed > limit) break;
            await Task.Delay(50);
        }
        Assert.Fail($"waited {deadline.Elapsed.TotalSeconds:0.0} s for {what}; the screen:\n{screen}");
        return screen;
    }

    public Task WaitForExitAsync() => WaitForAsync(s => s.Contains("CLIENT-EXITED 0"), "the client to exit with 0");

    public void Dispose()
    {
        Run(["-S", _socket, "kill-server"], allowFailure: true);
        try { File.Delete(_socket); }
        catch (IOException) { }
    }

    private string Tmux(string[] args)
    {
        var (code, output, error) = Run(["-S", _socket, .. args]);
        if (code != 0) throw new InvalidOperationException($"tmux {string.Join(' ', args)} failed ({code}): {error}");
        return output;
    }

    private static (int Code, string Out, string Err) Run(string[] args, bool allowFailure = false)
    {
        var info = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output.Result, error);
        }
        catch (System.ComponentModel.Win32Exception e) when (allowFailure)
        {
            return (-1, "", $"cannot run tmux: {e.Message}");
        }
    }
}
