using Akka.Configuration;
using Messenger.Hosting;

namespace Messenger.Tests.Hosting;

public class ServerConfigTests
{
    private static string? BadValueIn(string hocon) => ServerConfig.FindBadValue(ServerConfig.Load(overrides: ConfigurationFactory.ParseString(hocon)));

    [Fact]
    public void The_defaults_have_no_bad_value()
    {
        Assert.Null(ServerConfig.FindBadValue(ServerConfig.Load()));
    }

    [Theory]
    [InlineData("messenger.chat.login-timeout = abc", "messenger.chat.login-timeout = abc: not a duration")]
    [InlineData("messenger.chat.socket.input-pause = lots", "messenger.chat.socket.input-pause = lots: not a size")]
    [InlineData("messenger.files.watch = maybe", "messenger.files.watch = maybe: not on or off")]
    [InlineData("messenger.files.hash-concurrency = two", "messenger.files.hash-concurrency = two: not a number")]
    public void A_value_not_of_its_defaults_kind_is_named_with_its_key(string hocon, string said)
    {
        Assert.StartsWith(said, BadValueIn(hocon));
    }

    [Theory]
    [InlineData("messenger.chat.login-timeout = 2 minutes")]
    [InlineData("messenger.chat.socket.input-pause = 1 MiB")]
    [InlineData("messenger.rudp.lossy.loss = 0.05")]
    [InlineData("messenger.files.watch = false")]
    public void Values_of_their_defaults_kind_in_other_spellings_are_good(string hocon)
    {
        Assert.Null(BadValueIn(hocon));
    }
}
