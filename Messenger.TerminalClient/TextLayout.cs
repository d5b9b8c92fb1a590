using System.Globalization;
using System.Text;

namespace Messenger.TerminalClient;

/// <summary>
/// Terminal text arithmetic, with no UI types: how many columns a piece of text takes (a
/// combining accent none, a wide CJK character or an emoji two), word wrapping with a hanging
/// indent, and shortening with an ellipsis. Text is handled as grapheme clusters, so an accent
/// stays on its letter and a skin-tone emoji is one glyph.
/// </summary>
public static class TextLayout
{
    /// <summary>
    /// The grapheme clusters of <paramref name="text"/> as they are drawn: control characters as
    /// spaces, and an emoji with a skin tone or a joined (ZWJ) sequence as its first emoji only.
    /// Terminals disagree on those sequences' widths (tmux draws 👍🏽 four columns wide, others
    /// two), and a guess that is wrong pushes the rest of the row and the pane's border.
    /// </summary>
    public static IEnumerable<string> Graphemes(string text)
    {
        var e = StringInfo.GetTextElementEnumerator(text);
        while (e.MoveNext())
        {
            var g = (string)e.Current;
            if (g.Length == 1 && char.IsControl(g[0])) yield return " ";
            else if (g.Length > 2 && IsEmojiSequence(g)) yield return Rune.GetRuneAt(g, 0).ToString();
            else yield return g;
        }
    }

    private static bool IsEmojiSequence(string cluster)
    {
        foreach (var r in cluster.EnumerateRunes())
            if (r.Value is 0x200D or >= 0x1F3FB and <= 0x1F3FF) return true;
        return false;
    }

    /// <summary>Columns one grapheme cluster takes: 0, 1 or 2.</summary>
    public static int ClusterColumns(string cluster)
    {
        if (cluster.Length == 0) return 0;
        var first = Rune.GetRuneAt(cluster, 0);
        var category = Rune.GetUnicodeCategory(first);
        if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format) return 0;
        if (IsWide(first.Value) || cluster.Contains('\uFE0F')) return 2;
        return 1;
    }

    public static int Columns(string text)
    {
        int n = 0;
        foreach (var g in Graphemes(text)) n += ClusterColumns(g);
        return n;
    }

    /// <summary>
    /// Cuts <paramref name="head"/> + <paramref name="body"/> into rows of at most
    /// <paramref name="width"/> columns, breaking between words where it can. Rows after the first
    /// start under the end of the head (a hanging indent), or two columns in when the head takes
    /// more than half the width. A newline in the body starts a new row.
    /// </summary>
    public static IReadOnlyList<string> Wrap(string head, string body, int width)
    {
        width = Math.Max(width, 1);
        int headColumns = Columns(head);
        int indent = headColumns <= width / 2 ? headColumns : Math.Min(2, width - 1);
        var rows = new List<string>();
        var row = new StringBuilder();
        int used = 0;
        bool rowHasText = false;

        void NewRow()
        {
            rows.Add(row.ToString().TrimEnd());
            row.Clear().Append(' ', indent);
            used = indent;
            rowHasText = false;
        }

        void Put(string cluster, int columns)
        {
            if (columns > width) (cluster, columns) = ("?", 1); // a wide character in a one-column pane
            if (used + columns > width && rowHasText) NewRow();
            if (used + columns > width) // not even after the indent: this row goes without it
            {
                row.Clear();
                used = 0;
            }
            row.Append(cluster);
            used += columns;
            rowHasText = true;
        }

        foreach (var g in Graphemes(head)) Put(g, ClusterColumns(g));
        var paragraphs = body.Replace("\r\n", "\n").Split('\n');
        for (int p = 0; p < paragraphs.Length; p++)
        {
            if (p > 0) NewRow();
            foreach (var (word, space) in Words(paragraphs[p]))
            {
                int wordColumns = Columns(word);
                // A word that fits on a fresh row but not on this one starts the next row.
                if (used + wordColumns > width && rowHasText && wordColumns <= width - indent) NewRow();
                foreach (var g in Graphemes(word)) Put(g, ClusterColumns(g));
                if (space && used < width) { row.Append(' '); used++; }
                else if (space) NewRow();
            }
        }
        rows.Add(row.ToString().TrimEnd());
        return rows;
    }

    /// <summary><paramref name="text"/> cut to <paramref name="width"/> columns, ending in "…" when shortened.</summary>
    public static string Ellipsize(string text, int width)
    {
        if (width <= 0) return "";
        if (Columns(text) <= width) return text;
        var sb = new StringBuilder();
        int used = 0;
        foreach (var g in Graphemes(text))
        {
            int c = ClusterColumns(g);
            if (used + c > width - 1) break;
            sb.Append(g);
            used += c;
        }
        return sb.Append('…').ToString();
    }

    /// <summary>The words of a line, each with whether a space followed it.</summary>
    private static IEnumerable<(string Word, bool Space)> Words(string line)
    {
        int start = 0;
        for (int i = 0; i <= line.Length; i++)
        {
            if (i < line.Length && line[i] != ' ') continue;
            if (i > start || i < line.Length) yield return (line[start..i], i < line.Length);
            start = i + 1;
        }
    }

    // East Asian Wide and Fullwidth ranges, and the emoji blocks terminals draw two columns wide.
    private static bool IsWide(int cp) =>
        cp is >= 0x1100 and <= 0x115F
        or >= 0x2E80 and <= 0x303E or >= 0x3041 and <= 0x33FF or >= 0x3400 and <= 0x4DBF
        or >= 0x4E00 and <= 0x9FFF or >= 0xA000 and <= 0xA4CF or >= 0xAC00 and <= 0xD7A3
        or >= 0xF900 and <= 0xFAFF or >= 0xFE30 and <= 0xFE4F or >= 0xFF00 and <= 0xFF60 or >= 0xFFE0 and <= 0xFFE6
        or >= 0x1F300 and <= 0x1F64F or >= 0x1F680 and <= 0x1F6FF or >= 0x1F900 and <= 0x1F9FF or >= 0x1FA70 and <= 0x1FAFF
        or >= 0x20000 and <= 0x3FFFD;
}
