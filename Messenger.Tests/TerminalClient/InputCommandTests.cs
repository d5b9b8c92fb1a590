using Messenger.Protocol;
using Messenger.TerminalClient;

namespace Messenger.Tests.TerminalClient;

public class InputCommandTests
{
    [Theory]
    [InlineData("hello", "hello")]
    [InlineData("  spaced out  ", "spaced out")]
    [InlineData("under_score is not a command", "under_score is not a command")]
    [InlineData("//slash first", "/slash first")]
    public void Plain_text_is_a_chat_message(string input, string expected)
    {
        var say = Assert.IsType<InputCommand.Say>(InputCommand.Parse(input));
        Assert.Equal(expected, say.Text);
        Assert.Equal(new SayCommand(expected), say.ToClientCommand());
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    public void Blank_input_is_empty(string? input) => Assert.IsType<InputCommand.Empty>(InputCommand.Parse(input));

    [Fact]
    public void Pm_takes_a_name_and_the_rest_of_the_line()
    {
        var pm = Assert.IsType<InputCommand.PrivateMessage>(InputCommand.Parse("/pm bob  hi there, bob "));
        Assert.Equal("bob", pm.To);
        Assert.Equal("hi there, bob", pm.Text);
        Assert.Equal(new PmCommand("bob", "hi there, bob"), pm.ToClientCommand());
    }

    [Theory]
    [InlineData("/pm", "usage: /pm NAME TEXT")]
    [InlineData("/pm bob", "the message is missing")]
    [InlineData("/pm b@d hi", "not a valid username")]
    [InlineData("/who me", "no arguments")]
    [InlineData("/files x", "no arguments")]
    [InlineData("/get", "usage: /get NAME")]
    [InlineData("/get a.bin ftp", "unknown transfer \"ftp\"")]
    [InlineData("/get a.bin tcp extra", "too many arguments")]
    [InlineData("/dance", "unknown command \"/dance\"")]
    [InlineData("/", "command name is missing")]
    public void Malformed_commands_give_a_clear_error(string input, string expected)
    {
        var invalid = Assert.IsType<InputCommand.Invalid>(InputCommand.Parse(input));
        Assert.Contains(expected, invalid.Error);
        Assert.Null(invalid.ToClientCommand());
    }

    [Theory]
    [InlineData("/get big.bin", TransferVia.Tcp)]
    [InlineData("/get big.bin tcp", TransferVia.Tcp)]
    [InlineData("/get big.bin UDP", TransferVia.Udp)]
    [InlineData("/GET big.bin udp", TransferVia.Udp)]
    public void Get_defaults_to_tcp(string input, TransferVia via)
    {
        var get = Assert.IsType<InputCommand.Get>(InputCommand.Parse(input));
        Assert.Equal(new GetCommand("big.bin", via), get.ToClientCommand());
    }

    [Fact]
    public void Simple_commands_map_to_their_wire_commands()
    {
        Assert.Equal(WhoCommand.Instance, InputCommand.Parse("/who").ToClientCommand());
        Assert.Equal(FilesCommand.Instance, InputCommand.Parse("/files").ToClientCommand());
        Assert.IsType<InputCommand.Help>(InputCommand.Parse("/help"));
        Assert.IsType<InputCommand.Quit>(InputCommand.Parse("/quit"));
        Assert.Null(InputCommand.Parse("/help").ToClientCommand());
    }
}
