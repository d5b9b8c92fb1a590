using System.Text;
using Messenger.Protocol;

namespace Messenger.Tests.Protocol;

public class LineFramerTests
{
    private static (bool Ok, List<string> Lines) Feed(LineFramer framer, params string[] chunks)
    {
        var lines = new List<string>();
        bool ok = true;
        foreach (var chunk in chunks)
        {
            ok = framer.Feed(Encoding.UTF8.GetBytes(chunk), l => lines.Add(Encoding.UTF8.GetString(l)));
            if (!ok) break;
        }
        return (ok, lines);
    }

    [Fact]
    public void Splits_lines_across_chunks_and_strips_crlf()
    {
        var (ok, lines) = Feed(new LineFramer(100), "ab", "c\nde\r", "\nf", "\n");
        Assert.True(ok);
        Assert.Equal(["abc", "de", "f"], lines);
    }

    [Fact]
    public void Ignores_blank_lines()
    {
        var (_, lines) = Feed(new LineFramer(100), "\n\r\n\nx\n\n  \t \r\n", " \n", "  y \n");
        Assert.Equal(["x", "  y "], lines);
    }

    [Fact]
    public void Keeps_an_unterminated_line_until_its_newline()
    {
        var framer = new LineFramer(100);
        var (_, lines) = Feed(framer, "partial");
        Assert.Empty(lines);
        Assert.Equal(7, framer.BufferedBytes);
    }

    [Fact]
    public void Holds_a_buffer_only_while_a_line_is_incomplete()
    {
        var framer = new LineFramer(1000);
        Assert.Equal(["ping", "pong"], Feed(framer, "ping\npong\n").Lines);
        Assert.False(framer.HoldsBuffer);
        var longPart = new string('x', 600);
        var (_, lines) = Feed(framer, "a", longPart, "\r");
        Assert.Empty(lines);
        Assert.True(framer.HoldsBuffer);
        Assert.Equal(["a" + longPart], Feed(framer, "\nb").Lines);
        Assert.True(framer.HoldsBuffer); // "b" waits for its newline
        Assert.Equal(["b"], Feed(framer, "\n").Lines);
        Assert.False(framer.HoldsBuffer);
        Assert.Equal(0, framer.BufferedBytes);
    }

    [Fact]
    public void Accepts_a_line_of_exactly_the_limit_with_or_without_cr()
    {
        var line = new string('a', 10);
        Assert.Equal([line], Feed(new LineFramer(10), line + "\n").Lines);
        Assert.Equal([line], Feed(new LineFramer(10), line + "\r\n").Lines);
        Assert.Equal([line], Feed(new LineFramer(10), line, "\r", "\n").Lines);
    }

    [Fact]
    public void Refuses_a_terminated_line_one_byte_over_the_limit()
    {
        Assert.False(Feed(new LineFramer(10), new string('a', 11) + "\n").Ok);
    }

    [Fact]
    public void Refuses_an_unterminated_line_as_soon_as_it_passes_the_limit()
    {
        var framer = new LineFramer(10);
        Assert.True(Feed(framer, new string('a', 10)).Ok);
        Assert.False(framer.Feed("b"u8, _ => { }));
    }

    [Fact]
    public void Counts_bytes_not_characters()
    {
        // "é" is two bytes in UTF-8: six of them are 12 bytes.
        Assert.False(Feed(new LineFramer(10), "éééééé\n").Ok);
        Assert.True(Feed(new LineFramer(12), "éééééé\n").Ok);
    }
}
