namespace Messenger.TerminalClient;

/// <summary>The lines sent before, walked with Up and Down; the line being typed is kept as a draft.</summary>
public sealed class InputHistory(int capacity = 500)
{
    private readonly List<string> _lines = [];
    private int _index;
    private string _draft = "";

    public IReadOnlyList<string> Lines => _lines;

    /// <summary>Remembers a sent line (not a repeat of the last one) and goes back to a fresh draft.</summary>
    public void Add(string line)
    {
        if (line.Length > 0 && (_lines.Count == 0 || _lines[^1] != line)) _lines.Add(line);
        if (_lines.Count > capacity) _lines.RemoveAt(0);
        _index = _lines.Count;
        _draft = "";
    }

    /// <summary>The line before the one shown (<paramref name="current"/> is kept as the draft when leaving it); null at the oldest.</summary>
    public string? Older(string current)
    {
        if (_index == 0) return null;
        if (_index == _lines.Count) _draft = current;
        return _lines[--_index];
    }

    /// <summary>The line after the one shown, the draft after the newest; null when already on the draft.</summary>
    public string? Newer()
    {
        if (_index >= _lines.Count) return null;
        _index++;
        return _index == _lines.Count ? _draft : _lines[_index];
    }
}

/// <summary>The readline keys of the input line.</summary>
public enum LineEdit { Home, End, KillToStart, KillToEnd, KillWordBack }

/// <summary>Text and cursor of the input line after a readline key.</summary>
public readonly record struct EditedLine(string Text, int Cursor)
{
    public static EditedLine Apply(string text, int cursor, LineEdit edit)
    {
        cursor = Math.Clamp(cursor, 0, text.Length);
        switch (edit)
        {
            case LineEdit.Home: return new(text, 0);
            case LineEdit.End: return new(text, text.Length);
            case LineEdit.KillToStart: return new(text[cursor..], 0);
            case LineEdit.KillToEnd: return new(text[..cursor], cursor);
            default:
                int start = cursor;
                while (start > 0 && text[start - 1] == ' ') start--;
                while (start > 0 && text[start - 1] != ' ') start--;
                return new(text[..start] + text[cursor..], start);
        }
    }
}

/// <summary>
/// Tab completion on the input line: a <c>/command</c> as the first word, a file name after
/// <c>/get</c>, otherwise a user name (with ": " when it starts the line, irssi style). Tab again
/// right after a completion cycles through the other matches.
/// </summary>
public sealed class TabCompleter
{
    public static readonly string[] Commands = ["/files", "/get", "/help", "/join", "/me", "/msg", "/part", "/passwd", "/pm", "/query", "/quit", "/register", "/rooms", "/who"];

    private List<string> _matches = [];
    private int _next;
    private string? _lastResult;
    private int _wordStart;
    private string _suffix = "";

    /// <summary>The line after Tab at <paramref name="cursor"/>, or null when nothing matches.</summary>
    public EditedLine? Complete(string text, int cursor, IEnumerable<string> users, IEnumerable<string> files)
    {
        cursor = Math.Clamp(cursor, 0, text.Length);
        if (_lastResult is not null && text[..cursor] == _lastResult && _matches.Count > 1)
        {
            // Tab again: the next match in place of the one just inserted.
            _next = (_next + 1) % _matches.Count;
            return Insert(text, cursor, _matches[_next]);
        }

        _wordStart = text.LastIndexOf(' ', Math.Max(cursor - 1, 0)) + 1;
        if (_wordStart > cursor) _wordStart = cursor;
        var word = text[_wordStart..cursor];
        var before = text[.._wordStart];
        var firstWord = before.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.ToLowerInvariant();
        int wordIndex = before.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;

        IEnumerable<string> candidates;
        _suffix = " ";
        if (wordIndex == 0 && word.StartsWith('/'))
        {
            candidates = Commands;
        }
        else if (CompletesFileName(text, cursor))
        {
            candidates = files.Select(f => f.Contains(' ') ? $"\"{f}\"" : f);
            word = word.TrimStart('"');
        }
        else
        {
            candidates = users;
            if (wordIndex == 0) _suffix = ": ";
        }

        _matches = candidates.Where(c => c.TrimStart('"').StartsWith(word, StringComparison.OrdinalIgnoreCase))
            .Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase).ToList();
        if (_matches.Count == 0)
        {
            _lastResult = null;
            return null;
        }
        _next = 0;
        return Insert(text, cursor, _matches[0]);
    }

    /// <summary>Whether Tab at <paramref name="cursor"/> completes a file name (the word after <c>/get</c>).</summary>
    public static bool CompletesFileName(string text, int cursor)
    {
        cursor = Math.Clamp(cursor, 0, text.Length);
        int wordStart = Math.Min(text.LastIndexOf(' ', Math.Max(cursor - 1, 0)) + 1, cursor);
        var words = text[..wordStart].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return words.Length == 1 && words[0].Equals("/get", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Forgets the last completion (any key other than Tab).</summary>
    public void Reset() => _lastResult = null;

    private EditedLine Insert(string text, int cursor, string match)
    {
        var head = text[.._wordStart] + match + _suffix;
        _lastResult = head;
        return new EditedLine(head + text[cursor..], head.Length);
    }
}
