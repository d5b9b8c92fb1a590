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
        Assert.Equal([new SayCommand(expected)], say.ToClientCommands());
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    public void Nothing_typed_is_empty(string? input) => Assert.IsType<InputCommand.Empty>(InputCommand.Parse(input));

    [Fact]
    public void Only_spaces_are_refused_with_a_reason()
    {
        var invalid = Assert.IsType<InputCommand.Invalid>(InputCommand.Parse("   "));
        Assert.Contains("only spaces", invalid.Error);
    }

    [Fact]
    public void Pm_takes_a_name_and_the_rest_of_the_line()
    {
        var pm = Assert.IsType<InputCommand.PrivateMessage>(InputCommand.Parse("/pm bob  hi there, bob "));
        Assert.Equal("bob", pm.To);
        Assert.Equal("hi there, bob", pm.Text);
        Assert.Equal([new PmCommand("bob", "hi there, bob")], pm.ToClientCommands());
    }

    [Fact]
    public void A_pasted_text_of_several_lines_is_one_message_per_line()
    {
        var say = Assert.IsType<InputCommand.Say>(InputCommand.Parse("first line\r\n\nsecond line\nthird"));
        Assert.Equal([new SayCommand("first line"), new SayCommand("second line"), new SayCommand("third")], say.ToClientCommands());
        var pm = Assert.IsType<InputCommand.PrivateMessage>(InputCommand.Parse("/pm bob one\ntwo"));
        Assert.Equal([new PmCommand("bob", "one"), new PmCommand("bob", "two")], pm.ToClientCommands());
    }

    [Fact]
    public void Text_over_the_protocol_limit_is_refused_before_sending_and_says_how_long_it_is()
    {
        var invalid = Assert.IsType<InputCommand.Invalid>(InputCommand.Parse(new string('x', 5_000)));
        Assert.Contains("5,000 characters", invalid.Error);
        Assert.Contains("4,096", invalid.Error);
        // Exactly at the limit goes; a limit counted in code points, so emoji count once.
        Assert.IsType<InputCommand.Say>(InputCommand.Parse(new string('x', ProtocolLimits.MaxTextCodePoints)));
        Assert.IsType<InputCommand.Say>(InputCommand.Parse(string.Concat(Enumerable.Repeat("😀", ProtocolLimits.MaxTextCodePoints))));
        // Each line of a paste is its own message, so each is checked on its own.
        Assert.IsType<InputCommand.Say>(InputCommand.Parse(new string('x', 3_000) + "\n" + new string('y', 3_000)));
    }

    [Fact]
    public void Me_is_an_action_sent_as_a_prefixed_message()
    {
        var me = Assert.IsType<InputCommand.Me>(InputCommand.Parse("/me waves"));
        Assert.Equal([new SayCommand("/me waves")], me.ToClientCommands());
        Assert.IsType<InputCommand.Invalid>(InputCommand.Parse("/me"));
    }

    [Theory]
    [InlineData("/pm", "usage: /pm NAME [TEXT]")]
    [InlineData("/query", "usage: /query NAME [TEXT]")]
    [InlineData("/query b@d", "not a valid username")]
    [InlineData("/pm b@d hi", "not a valid username")]
    [InlineData("/who me", "no arguments")]
    [InlineData("/files x", "no arguments")]
    [InlineData("/get", "usage: /get NAME")]
    [InlineData("/get a.bin ftp", "unknown transfer \"ftp\"")]
    [InlineData("/get a.bin tcp extra", "too many arguments")]
    [InlineData("/get my file.txt", "unknown transfer \"file.txt\"")]
    [InlineData("/get \"my file.txt", "closing \" is missing")]
    [InlineData("/dance", "unknown command \"/dance\"")]
    [InlineData("/", "command name is missing")]
    public void Malformed_commands_give_a_clear_error(string input, string expected)
    {
        var invalid = Assert.IsType<InputCommand.Invalid>(InputCommand.Parse(input));
        Assert.Contains(expected, invalid.Error);
        Assert.Empty(invalid.ToClientCommands());
    }

    [Theory]
    [InlineData("/get big.bin", "big.bin", TransferVia.Tcp)]
    [InlineData("/get big.bin tcp", "big.bin", TransferVia.Tcp)]
    [InlineData("/get big.bin UDP", "big.bin", TransferVia.Udp)]
    [InlineData("/GET big.bin udp", "big.bin", TransferVia.Udp)]
    [InlineData("/get \"my file.txt\"", "my file.txt", TransferVia.Tcp)]
    [InlineData("/get \"my file.txt\" udp", "my file.txt", TransferVia.Udp)]
    public void Get_takes_a_name_quoted_when_it_has_spaces_and_defaults_to_tcp(string input, string file, TransferVia via)
    {
        var get = Assert.IsType<InputCommand.Get>(InputCommand.Parse(input));
        Assert.Equal([new GetCommand(file, via)], get.ToClientCommands());
    }

    [Fact]
    public void Simple_commands_map_to_their_wire_commands()
    {
        Assert.Equal([WhoCommand.Instance], InputCommand.Parse("/who").ToClientCommands());
        Assert.Equal([FilesCommand.Instance], InputCommand.Parse("/files").ToClientCommands());
        Assert.IsType<InputCommand.Help>(InputCommand.Parse("/help"));
        Assert.IsType<InputCommand.Quit>(InputCommand.Parse("/quit"));
        Assert.Empty(InputCommand.Parse("/help").ToClientCommands());
    }

    [Theory]
    [InlineData("/join rust", "rust")]
    [InlineData("/join #Rust", "rust")]
    [InlineData("/JOIN #ops", "ops")]
    public void Join_takes_a_room_name_with_or_without_hash_in_any_case(string input, string room) =>
        Assert.Equal([new JoinCommand(room)], InputCommand.Parse(input).ToClientCommands());

    [Theory]
    [InlineData("/join", "usage: /join ROOM")]
    [InlineData("/join no/slash", "not a valid room name")]
    [InlineData("/join a b", "usage: /join ROOM")]
    [InlineData("/part a b", "usage: /part")]
    [InlineData("/rooms all", "no arguments")]
    [InlineData("/register", "usage: /register PASSWORD")]
    [InlineData("/register short", "8-128 characters")]
    [InlineData("/passwd onlyone", "usage: /passwd OLD NEW")]
    [InlineData("/passwd old-password tiny", "8-128 characters")]
    public void Room_and_account_commands_check_their_arguments(string input, string expected) =>
        Assert.Contains(expected, Assert.IsType<InputCommand.Invalid>(InputCommand.Parse(input)).Error);

    [Fact]
    public void Account_commands_carry_their_passwords_and_say_so()
    {
        var register = InputCommand.Parse("/register correct-horse");
        Assert.Equal([new RegisterCommand(new Password("correct-horse"))], register.ToClientCommands());
        Assert.True(register.HoldsPassword);
        var passwd = InputCommand.Parse("/passwd correct-horse battery-staple");
        Assert.Equal([new PasswdCommand(new Password("correct-horse"), new Password("battery-staple"))], passwd.ToClientCommands());
        Assert.True(passwd.HoldsPassword);
        Assert.Equal([RoomsCommand.Instance], InputCommand.Parse("/rooms").ToClientCommands());
        Assert.Equal(new InputCommand.Part("rust"), InputCommand.Parse("/part #rust"));
        Assert.Equal(new InputCommand.Part(null), InputCommand.Parse("/part"));
    }
}
