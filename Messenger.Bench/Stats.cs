namespace Messenger.Bench;

/// <summary>The pure statistics every scenario reports: percentiles, means and Jain's fairness index.</summary>
public static class Stats
{
    /// <summary>
    /// The <paramref name="percent"/>-th percentile (0-100) of already sorted values, linearly
    /// interpolated between the two nearest ranks (the "R-7" rule of most spreadsheets);
    /// NaN when there are no values.
    /// </summary>
    public static double Percentile(IReadOnlyList<double> sorted, double percent)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(percent, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percent, 100);
        if (sorted.Count == 0) return double.NaN;
        if (sorted.Count == 1) return sorted[0];
        double rank = percent / 100 * (sorted.Count - 1);
        int below = (int)Math.Floor(rank);
        int above = Math.Min(below + 1, sorted.Count - 1);
        return sorted[below] + (rank - below) * (sorted[above] - sorted[below]);
    }

    /// <summary>The values sorted ascending, as a new array.</summary>
    public static double[] Sorted(IEnumerable<double> values)
    {
        var array = values.ToArray();
        Array.Sort(array);
        return array;
    }

    /// <summary>Arithmetic mean; NaN when empty.</summary>
    public static double Mean(IReadOnlyCollection<double> values) => values.Count == 0 ? double.NaN : values.Sum() / values.Count;

    /// <summary>
    /// Jain's fairness index (Σx)² / (n·Σx²): 1 when every share is equal, 1/n when one takes
    /// everything. NaN when empty; 1 when every share is zero (all equally starved).
    /// Negative shares are a caller's mistake.
    /// </summary>
    public static double JainIndex(IReadOnlyCollection<double> shares)
    {
        if (shares.Count == 0) return double.NaN;
        double sum = 0, sumOfSquares = 0;
        foreach (var x in shares)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(x, nameof(shares));
            sum += x;
            sumOfSquares += x * x;
        }
        return sumOfSquares == 0 ? 1 : sum * sum / (shares.Count * sumOfSquares);
    }

    /// <summary>
    /// At most <paramref name="points"/> (value, cumulative fraction) pairs describing the
    /// empirical CDF of sorted values, for plotting without millions of points.
    /// </summary>
    public static (double[] Values, double[] Fractions) Cdf(IReadOnlyList<double> sorted, int points = 500)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(points, 2);
        if (sorted.Count == 0) return ([], []);
        int n = Math.Min(points, sorted.Count);
        var values = new double[n];
        var fractions = new double[n];
        for (int i = 0; i < n; i++)
        {
            int index = n == 1 ? 0 : (int)Math.Round((double)i * (sorted.Count - 1) / (n - 1));
            values[i] = sorted[index];
            fractions[i] = (index + 1.0) / sorted.Count;
        }
        return (values, fractions);
    }
}
