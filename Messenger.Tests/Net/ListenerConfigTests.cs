using Akka.Configuration;
using Messenger.Hosting;

namespace Messenger.Tests.Net;

/// <summary>How the listeners' socket settings are read from the shipped HOCON and from overrides.</summary>
public class ListenerConfigTests
{
    [Fact]
    public void Chat_connections_run_the_transport_inline_and_downloads_on_the_thread_pool()
    {
        var config = ServerConfig.Load(overrides: ConfigurationFactory.ParseString(""));

        Assert.True(ListenerConfig.Read(config, "messenger.chat", 10, null).InlineIo);
        Assert.False(ListenerConfig.Read(config, "messenger.files", 10, null).InlineIo);
    }

    [Fact]
    public void Inline_io_can_be_turned_off()
    {
        var config = ServerConfig.Load(overrides: ConfigurationFactory.ParseString("messenger.chat.socket.inline-io = off"));

        Assert.False(ListenerConfig.Read(config, "messenger.chat", 10, null).InlineIo);
    }
}
