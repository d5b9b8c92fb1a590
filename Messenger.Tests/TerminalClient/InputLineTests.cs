using Messenger.TerminalClient;

namespace Messenger.Tests.TerminalClient;

public class InputLineTests
{
    [Fact]
    public void Up_recalls_older_lines_and_down_comes_back_to_the_draft()
    {
        var history = new InputHistory();
        history.Add("first");
        history.Add("second");
        history.Add("second"); // a repeat is kept once
        Assert.Equal("second", history.Older("half-typed"));
        Assert.Equal("first", history.Older("second"));
        Assert.Null(history.Older("first"));
        Assert.Equal("second", history.Newer());
        Assert.Equal("half-typed", history.Newer());
        Assert.Null(history.Newer());
        history.Add("third");
        Assert.Equal("third", history.Older(""));
    }

    [Fact]
    public void History_is_bounded()
    {
        var history = new InputHistory(capacity: 3);
        foreach (var line in new[] { "a", "b", "c", "d" }) history.Add(line);
        Assert.Equal(["b", "c", "d"], history.Lines);
    }

    [Theory]
    [InlineData(LineEdit.Home, "hello world", 5, "hello world", 0)]
    [InlineData(LineEdit.End, "hello world", 5, "hello world", 11)]
    [InlineData(LineEdit.KillToStart, "hello world", 6, "world", 0)]
    [InlineData(LineEdit.KillToEnd, "hello world", 5, "hello", 5)]
    [InlineData(LineEdit.KillWordBack, "hello big world", 10, "hello world", 6)]
    [InlineData(LineEdit.KillWordBack, "hello   ", 8, "", 0)]
    [InlineData(LineEdit.KillWordBack, "", 0, "", 0)]
    public void Readline_keys_edit_the_line(LineEdit edit, string text, int cursor, string expected, int expectedCursor)
    {
        Assert.Equal(new EditedLine(expected, expectedCursor), EditedLine.Apply(text, cursor, edit));
    }

    private static readonly string[] Users = ["bob", "Bernard", "carol"];
    private static readonly string[] Files = ["big.bin", "my file.txt"];

    [Fact]
    public void Tab_completes_a_name_at_the_start_of_the_line_irssi_style()
    {
        var completer = new TabCompleter();
        Assert.Equal(new EditedLine("carol: ", 7), completer.Complete("ca", 2, Users, Files));
        completer.Reset();
        Assert.Equal(new EditedLine("hi carol ", 9), completer.Complete("hi ca", 5, Users, Files));
    }

    [Fact]
    public void Tab_again_cycles_through_the_matches()
    {
        var completer = new TabCompleter();
        var first = completer.Complete("b", 1, Users, Files)!.Value;
        Assert.Equal("Bernard: ", first.Text);
        var second = completer.Complete(first.Text, first.Cursor, Users, Files)!.Value;
        Assert.Equal("bob: ", second.Text);
        var third = completer.Complete(second.Text, second.Cursor, Users, Files)!.Value;
        Assert.Equal("Bernard: ", third.Text);
    }

    [Fact]
    public void Tab_completes_commands_and_file_names_after_get()
    {
        var completer = new TabCompleter();
        Assert.Equal("/files ", completer.Complete("/fi", 3, Users, Files)!.Value.Text);
        completer.Reset();
        Assert.Equal("/get big.bin ", completer.Complete("/get b", 6, Users, Files)!.Value.Text);
        completer.Reset();
        Assert.Equal("/get \"my file.txt\" ", completer.Complete("/get my", 7, Users, Files)!.Value.Text);
        completer.Reset();
        Assert.Equal("/pm carol ", completer.Complete("/pm c", 5, Users, Files)!.Value.Text);
        completer.Reset();
        Assert.Null(completer.Complete("zz", 2, Users, Files));
    }

    [Theory]
    [InlineData("/get gr", 7, true)]
    [InlineData("/GET ", 5, true)]
    [InlineData("/get \"big fi", 12, false)] // past the first word of a quoted name: nothing to complete there
    [InlineData("/get gr udp", 11, false)]
    [InlineData("/getx gr", 8, false)]
    [InlineData("gr", 2, false)]
    public void Tab_knows_when_it_is_completing_a_file_name(string text, int cursor, bool file) =>
        Assert.Equal(file, TabCompleter.CompletesFileName(text, cursor));

    [Fact]
    public void Tab_in_the_middle_keeps_the_rest_of_the_line()
    {
        var completer = new TabCompleter();
        Assert.Equal(new EditedLine("hi carol  there", 9), completer.Complete("hi ca there", 5, Users, Files));
    }
}
