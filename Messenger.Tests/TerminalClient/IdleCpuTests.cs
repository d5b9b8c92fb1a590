using System.Diagnostics;
using Messenger.Tests.Support;

namespace Messenger.Tests.TerminalClient;

/// <summary>
/// An idle client costs next to nothing: logged in, nothing happening, the built client (in
/// tmux, as a user runs it) settles under 3 % of a core. Before the quiet main loop and the
/// session's .NET ping timer it used 8–13 % here, polling 75 times a second and waking Akka's
/// scheduler 100 times a second.
/// </summary>
public class IdleCpuTests
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(3);

    [Fact]
    [Trait(ClientProcess.Trait, ClientProcess.TraitValue)]
    public async Task An_idle_logged_in_client_uses_next_to_no_cpu()
    {
        await using var server = await TestServer.StartAsync();
        using var downloads = new TempFolder();
        using var tmux = TmuxSession.Start(100, 30,
            $"--server 127.0.0.1 --port {server.Server.ChatEndpoint.Port} --user idler --downloads {downloads.Path}");
        await tmux.WaitForAsync(s => s.Contains("Username:"), "the connect form");
        tmux.SendKeys("Enter");
        await tmux.WaitForAsync(s => s.Contains("online as idler"), "logged in");
        using var client = tmux.ClientProcess();

        // Start-up work (JIT tiering, the first layouts) takes a few seconds on a busy machine:
        // measure 3-second windows until one is quiet, for at most 30 s. The old client never
        // had a window below 8 %.
        var shares = new List<double>();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            client.Refresh();
            var cpuBefore = client.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            await Task.Delay(Window);
            client.Refresh();
            shares.Add((client.TotalProcessorTime - cpuBefore) / clock.Elapsed);
            if (shares[^1] < 0.03) break;
        }
        Assert.True(shares[^1] < 0.03, $"the idle client used {string.Join(", ", shares.Select(s => s.ToString("P1")))} of a core in successive {Window.TotalSeconds:0} s windows");
        Assert.Contains("online as idler", tmux.Capture()); // still running, still logged in
    }
}
