using Messenger.TerminalClient;

namespace Messenger.Tests.TerminalClient;

public class TextLayoutTests
{
    private const string Head = "12:00:00 » <alice> "; // 19 columns

    [Fact]
    public void A_long_message_wraps_between_words_under_the_name()
    {
        var body = string.Join(' ', Enumerable.Range(1, 40).Select(i => $"word{i}"));
        var rows = TextLayout.Wrap(Head, body, 60);
        Assert.True(rows.Count > 3);
        Assert.StartsWith(Head + "word1 ", rows[0]);
        Assert.All(rows, r => Assert.True(TextLayout.Columns(r) <= 60, r));
        Assert.All(rows.Skip(1), r => Assert.StartsWith(new string(' ', 19) + "word", r));
        // Nothing lost, nothing cut inside a word.
        Assert.Equal(body, string.Join(' ', rows.Select((r, i) => i == 0 ? r[Head.Length..] : r.Trim())));
    }

    [Theory]
    [InlineData(80)]
    [InlineData(56)]
    [InlineData(30)]
    [InlineData(12)]
    [InlineData(3)]
    public void Every_width_keeps_every_character_and_no_row_is_too_wide(int width)
    {
        var body = "a 220-character line: " + new string('x', 120) + " then words of text that go on for a while, with café and 漢字.";
        var rows = TextLayout.Wrap(Head, body, width);
        Assert.All(rows, r => Assert.True(TextLayout.Columns(r) <= width, $"'{r}' is wider than {width}"));
        Assert.Equal((Head + body).Replace(" ", ""), string.Concat(rows).Replace(" ", ""));
    }

    [Fact]
    public void A_head_wider_than_half_the_width_indents_by_two()
    {
        var rows = TextLayout.Wrap(Head, "one two three four five six seven", 30);
        Assert.All(rows.Skip(1), r => Assert.StartsWith("  ", r));
        Assert.False(rows[1].StartsWith("   ", StringComparison.Ordinal));
    }

    [Fact]
    public void Newlines_start_new_rows()
    {
        var rows = TextLayout.Wrap("· ", "first\nsecond", 40);
        Assert.Equal(["· first", "  second"], rows);
    }

    [Fact]
    public void Wide_and_combining_characters_take_their_real_columns()
    {
        Assert.Equal(2, TextLayout.Columns("漢"));
        Assert.Equal(1, TextLayout.Columns("e\u0301")); // e + combining acute: one column, one cluster
        Assert.Equal(["e\u0301", "x"], TextLayout.Graphemes("e\u0301x"));
        Assert.Equal(2, TextLayout.Columns("👍"));
        // A skin-tone emoji is drawn as its base emoji: terminals disagree on the sequence's width.
        Assert.Equal(["👍", "!"], TextLayout.Graphemes("👍🏽!"));
        Assert.Equal(3, TextLayout.Columns("👍🏽!"));
        var rows = TextLayout.Wrap("", "漢字漢字漢字", 5);
        Assert.Equal(["漢字", "漢字", "漢字"], rows);
    }

    [Fact]
    public void Control_characters_are_drawn_as_spaces()
    {
        Assert.Equal("a b", string.Concat(TextLayout.Graphemes("a\u0007b")));
    }

    [Theory]
    [InlineData("short", 10, "short")]
    [InlineData("a-very-long-username", 10, "a-very-lo…")]
    [InlineData("漢字漢字漢字", 6, "漢字…")]
    [InlineData("abc", 0, "")]
    public void Long_names_end_with_an_ellipsis(string text, int width, string expected)
    {
        Assert.Equal(expected, TextLayout.Ellipsize(text, width));
        Assert.True(TextLayout.Columns(TextLayout.Ellipsize(text, width)) <= width);
    }
}
