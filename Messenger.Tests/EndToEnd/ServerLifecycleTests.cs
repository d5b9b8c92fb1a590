using System.Diagnostics;
using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.EndToEnd;

public class ServerLifecycleTests
{
    [Fact]
    public async Task An_idle_client_is_dropped_with_reason_timeout()
    {
        // Long enough that alice, silent while sleepy logs in, is not timed out too on a loaded machine.
        await using var server = await TestServer.StartAsync("messenger.chat.idle-timeout = 2s\nmessenger.chat.idle-check-interval = 200ms\nmessenger.chat.rate-limit.enabled = off");
        await using var alice = await server.LoginAsync("alice");
        await using var sleepy = await server.LoginAsync("sleepy");
        await alice.ExpectAsync<JoinedFrame>();
        // alice keeps talking; sleepy says nothing and is dropped.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            await alice.SendAsync(PingCommand.Instance);
            var frame = await alice.ReadFrameAsync();
            if (frame is PongFrame) continue;
            Assert.Equal(new LeftFrame("sleepy", LeaveReasons.Timeout, RoomNames.Lobby), frame);
            return;
        }
        Assert.Fail("sleepy was never timed out");
    }

    [Fact]
    public async Task Stopping_the_server_closes_clients_gracefully()
    {
        var server = await TestServer.StartAsync();
        var alice = await server.LoginAsync("alice");
        await server.DisposeAsync();
        // One server_shutdown error, then a graceful close: end of stream, not a reset.
        await alice.ExpectErrorAsync(ErrorCodes.ServerShutdown);
        Assert.Null(await alice.ReadLineAsync());
        await alice.DisposeAsync();
    }

    [Fact]
    public async Task A_stopping_server_runs_into_no_shutdown_phase_timeout()
    {
        // Every phase of the coordinated shutdown has a timeout; a stop that takes as long as the
        // sharding phase's has stalled on something (the lobby's handoff once did, on every stop).
        var server = await TestServer.StartAsync();
        await using (var alice = await server.LoginAsync("alice")) await alice.SendAsync(new SayCommand("bye"));
        var phaseTimeout = server.Server.System.Settings.Config.GetTimeSpan("akka.coordinated-shutdown.phases.cluster-sharding-shutdown-region.timeout");
        var stopping = Stopwatch.StartNew();
        await server.DisposeAsync();
        Assert.True(stopping.Elapsed < phaseTimeout, $"the stop took {stopping.Elapsed.TotalSeconds:0.0} s, a phase timeout is {phaseTimeout.TotalSeconds} s");
    }
}
