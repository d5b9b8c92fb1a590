using System.CommandLine;
using System.Globalization;

namespace Messenger.Hosting;

/// <summary>
/// The lossy-socket flags shared by the server and the client (<c>--loss 0.05 --seed 42</c> …),
/// turned into HOCON under a given path so the configuration stays the one source of truth.
/// </summary>
public static class LossFlags
{
    public static readonly Option<double?> Loss = Rate("--loss", "Fraction of datagrams dropped, each direction (0-1)");
    public static readonly Option<double?> Duplicate = Rate("--duplicate", "Fraction of datagrams delivered twice (0-1)");
    public static readonly Option<double?> Reorder = Rate("--reorder", "Fraction of datagrams held back so later ones overtake them (0-1)");
    public static readonly Option<double?> Corrupt = Rate("--corrupt", "Fraction of datagrams with one bit flipped (0-1)");
    public static readonly Option<int?> DelayMs = new("--delay-ms") { Description = "Extra delay added to every datagram, in milliseconds" };
    public static readonly Option<int?> Seed = new("--seed") { Description = "Seed of the lossy socket's random generator (same seed, same losses)" };

    public static IReadOnlyList<Option> All { get; } = [Loss, Duplicate, Reorder, Corrupt, DelayMs, Seed];

    static LossFlags()
    {
        DelayMs.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is < 0) r.AddError("--delay-ms must not be negative");
        });
    }

    private static Option<double?> Rate(string name, string description)
    {
        var option = new Option<double?>(name) { Description = description };
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double?>() is { } v && (v < 0 || v > 1 || double.IsNaN(v)))
                r.AddError($"{name} must be between 0 and 1");
        });
        return option;
    }

    /// <summary>HOCON assignments for the flags that were given.</summary>
    public static IEnumerable<string> ToHocon(ParseResult parsed, string path)
    {
        string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        if (parsed.GetValue(Loss) is { } loss) yield return $"{path}.loss = {F(loss)}";
        if (parsed.GetValue(Duplicate) is { } dup) yield return $"{path}.duplicate = {F(dup)}";
        if (parsed.GetValue(Reorder) is { } reorder) yield return $"{path}.reorder = {F(reorder)}";
        if (parsed.GetValue(Corrupt) is { } corrupt) yield return $"{path}.corrupt = {F(corrupt)}";
        if (parsed.GetValue(DelayMs) is { } delay) yield return $"{path}.delay = {delay}ms";
        if (parsed.GetValue(Seed) is { } seed) yield return $"{path}.seed = {seed}";
    }
}
