using Messenger.Protocol;
using Messenger.Tests.Support;

namespace Messenger.Tests.EndToEnd;

public class ServerLifecycleTests
{
    [Fact]
    public async Task An_idle_client_is_dropped_with_reason_timeout()
    {
        await using var server = await TestServer.StartAsync("messenger.chat.idle-timeout = 500ms\nmessenger.chat.rate-limit.enabled = off");
        await using var alice = await server.LoginAsync("alice");
        await using var sleepy = await server.LoginAsync("sleepy");
        await alice.ExpectAsync<JoinedFrame>();
        // alice keeps talking; sleepy says nothing and is dropped.
        var deadline = DateTime.UtcNow.AddSeconds(10);
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
}
