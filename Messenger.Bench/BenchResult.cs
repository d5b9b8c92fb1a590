using System.Globalization;
using System.Text;

namespace Messenger.Bench;

/// <summary>
/// One measured run: a scenario name and ordered <c>key=value</c> figures. Printed as one
/// machine-readable line and as a Markdown table row; collected by <c>all</c> into the report.
/// </summary>
public sealed class BenchResult(string scenario)
{
    private readonly List<KeyValuePair<string, string>> _fields = [];

    public string Scenario { get; } = scenario;
    public IReadOnlyList<KeyValuePair<string, string>> Fields => _fields;

    /// <summary>Numbers kept for plots (not printed).</summary>
    public Dictionary<string, double[]> Series { get; } = [];

    public BenchResult Add(string key, string value)
    {
        if (key.Contains(' ') || key.Contains('=')) throw new ArgumentException($"bad key {key}", nameof(key));
        int existing = _fields.FindIndex(f => f.Key == key);
        var field = new KeyValuePair<string, string>(key, value);
        if (existing >= 0) _fields[existing] = field;
        else _fields.Add(field);
        return this;
    }

    public BenchResult Add(string key, long value) => Add(key, value.ToString(CultureInfo.InvariantCulture));

    public BenchResult Add(string key, double value) => Add(key, Format(value));

    /// <summary>A copy under the name <paramref name="scenario"/>, with <paramref name="first"/> ahead of this row's figures (its series kept).</summary>
    public BenchResult As(string scenario, params (string Key, string Value)[] first)
    {
        var copy = new BenchResult(scenario);
        foreach (var (key, value) in first) copy.Add(key, value);
        foreach (var (key, value) in _fields) copy.Add(key, value);
        foreach (var (name, values) in Series) copy.Series[name] = values;
        return copy;
    }

    public string? Get(string key) => _fields.FirstOrDefault(f => f.Key == key).Value;

    public double GetNumber(string key) =>
        double.TryParse(Get(key), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN;

    /// <summary>Three significant figures at least, no exponent for everyday sizes, "nan" for missing.</summary>
    public static string Format(double value)
    {
        if (double.IsNaN(value) || double.IsInfinity(value)) return "nan";
        double magnitude = Math.Abs(value);
        string format = magnitude >= 1000 ? "0" : magnitude >= 100 ? "0.0" : magnitude >= 10 ? "0.00" : magnitude >= 1 ? "0.000" : "0.####";
        return value.ToString(format, CultureInfo.InvariantCulture);
    }

    /// <summary><c>scenario=NAME key=value ...</c>; spaces inside values become underscores.</summary>
    public string SummaryLine()
    {
        var sb = new StringBuilder("scenario=").Append(Scenario);
        foreach (var (key, value) in _fields) sb.Append(' ').Append(key).Append('=').Append(value.Replace(' ', '_'));
        return sb.ToString();
    }

    public string MarkdownHeader() =>
        "| scenario | " + string.Join(" | ", _fields.Select(f => f.Key)) + " |\n|---|" + string.Concat(_fields.Select(_ => "---|"));

    public string MarkdownRow() => "| " + Scenario + " | " + string.Join(" | ", _fields.Select(f => f.Value.Replace("|", "\\|"))) + " |";

    /// <summary>Prints the summary line and the Markdown row (with its header) to stdout.</summary>
    public void Print()
    {
        Console.WriteLine(SummaryLine());
        Console.WriteLine(MarkdownHeader());
        Console.WriteLine(MarkdownRow());
        Console.Out.Flush();
    }
}
