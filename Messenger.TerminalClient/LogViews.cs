using System.Runtime.CompilerServices;
using Terminal.Gui.Drawing;
using Terminal.Gui.ViewBase;
using Attribute = Terminal.Gui.Drawing.Attribute;

namespace Messenger.TerminalClient;

/// <summary>One screen row of a <see cref="RowsView"/>: its text, colour, and an optional coloured span (an author's name).</summary>
public readonly record struct ScreenRow(string Text, Attribute Color, int SpanStart = 0, int SpanEnd = 0, Attribute SpanColor = default);

/// <summary>
/// A scrollable column of rows drawn cell by cell from <see cref="TextLayout"/>'s widths (so wide
/// and combining characters never push the border), following the newest row unless the user
/// scrolled up, then with a "more below" marker on the last row. The rows come from
/// <see cref="ItemRows"/>, asked newest item first and only for as many as fill the screen.
/// </summary>
public sealed class RowsView : View
{
    private int _fromBottom;

    public RowsView()
    {
        CanFocus = true;
    }

    /// <summary>How many items there are.</summary>
    public Func<int> ItemCount { get; set; } = () => 0;

    /// <summary>The rows of item <c>i</c> at a width.</summary>
    public Func<int, int, IReadOnlyList<ScreenRow>> ItemRows { get; set; } = (_, _) => [];

    /// <summary>Rows below the bottom of the screen (0: following the newest).</summary>
    public int RowsBelow => _fromBottom;

    /// <summary>The first row of the first item was on screen at the last draw.</summary>
    public bool AtTop { get; private set; }

    /// <summary>Items added while scrolled up, for the marker.</summary>
    public int NewBelow { get; private set; }

    public Attribute MarkerColor { get; set; } = new(ColorName16.Black, ColorName16.Yellow);

    public void ScrollBy(int rows)
    {
        _fromBottom = Math.Max(0, _fromBottom + rows);
        if (_fromBottom == 0) NewBelow = 0;
        SetNeedsDraw();
    }

    public void ScrollToEnd() => ScrollBy(-_fromBottom);

    /// <summary>Items were added at the bottom: hold the view still when scrolled up, count them for the marker.</summary>
    public void ItemsAdded(int rowsAdded, int items)
    {
        if (_fromBottom > 0)
        {
            _fromBottom += rowsAdded;
            NewBelow += items;
        }
        SetNeedsDraw();
    }

    protected override bool OnDrawingContent(DrawContext? context)
    {
        int width = Viewport.Width, height = Viewport.Height;
        if (width <= 0 || height <= 0) return true;
        var rows = new List<ScreenRow>();
        int need = _fromBottom + height;
        int i = ItemCount() - 1;
        for (; i >= 0 && rows.Count < need; i--) rows.InsertRange(0, ItemRows(i, width));
        _fromBottom = Math.Min(_fromBottom, Math.Max(0, rows.Count - height));
        if (_fromBottom == 0) NewBelow = 0;
        int first = Math.Max(0, rows.Count - _fromBottom - height);
        AtTop = i < 0 && first == 0;
        for (int y = 0; y < height; y++)
        {
            int r = first + y;
            bool marker = _fromBottom > 0 && y == height - 1;
            if (marker)
            {
                var text = NewBelow > 0 ? $"-- {_fromBottom} more rows below, {NewBelow} new (PgDn, End) --" : $"-- {_fromBottom} more rows below (PgDn, End) --";
                DrawRow(y, new ScreenRow(TextLayout.Ellipsize(text, width), MarkerColor), width);
            }
            else
            {
                DrawRow(y, r < rows.Count ? rows[r] : new ScreenRow("", GetAttributeForRole(VisualRole.Normal)), width);
            }
        }
        return true;
    }

    /// <summary>Draws one row a grapheme at a time at the column its width says, blank to the edge.</summary>
    private void DrawRow(int y, ScreenRow row, int width)
    {
        int x = 0;
        foreach (var g in TextLayout.Graphemes(row.Text))
        {
            int w = TextLayout.ClusterColumns(g);
            if (x + w > width) break;
            if (w == 0) continue;
            SetAttribute(x >= row.SpanStart && x < row.SpanEnd ? row.SpanColor : row.Color);
            Move(x, y);
            AddStr(g);
            x += w;
        }
        SetAttribute(row.Color);
        for (; x < width; x++)
        {
            Move(x, y);
            AddRune(' ');
        }
    }
}

/// <summary>Wrapped rows of chat lines at a width, cached per line so a redraw only wraps what is new.</summary>
public sealed class ChatRows
{
    private readonly ConditionalWeakTable<ChatLine, Wrapped> _cache = new();

    public IReadOnlyList<ScreenRow> Rows(ChatLine line, int width, Func<ChatLine, Attribute> color, Func<string, Attribute> userColor)
    {
        if (_cache.TryGetValue(line, out var hit) && hit.Width == width) return hit.Rows;
        var wrapped = TextLayout.Wrap(line.Head, line.Body, width);
        var attr = color(line);
        var rows = new ScreenRow[wrapped.Count];
        for (int i = 0; i < wrapped.Count; i++) rows[i] = new ScreenRow(wrapped[i], attr);
        if (line.From is { } from && line.Kind is LineKind.Own or LineKind.Other or LineKind.Action or LineKind.PmIn or LineKind.PmOut)
        {
            // The author's name in the author's colour.
            int start = TextLayout.Columns(line.Head) - TextLayout.Columns(from) - (line.Kind == LineKind.Action ? 1 : 2);
            rows[0] = rows[0] with { SpanStart = start, SpanEnd = start + TextLayout.Columns(from), SpanColor = userColor(from) };
        }
        _cache.AddOrUpdate(line, new Wrapped(width, rows));
        return rows;
    }

    private sealed record Wrapped(int Width, IReadOnlyList<ScreenRow> Rows);
}
