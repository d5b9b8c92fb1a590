using System.Globalization;

namespace Messenger.Rudp;

/// <summary>
/// How bad a simulated link is: probabilities of loss, duplication, reordering and corruption, and a
/// base one-way delay. Validated on construction, so an <see cref="ImpairmentPlan"/> never has to
/// second-guess its settings. Used to test and benchmark the transfer over a hostile network.
/// </summary>
public sealed record LinkImpairment
{
    /// <summary>A perfect link.</summary>
    public static LinkImpairment None { get; } = new();

    /// <summary>Creates settings; every rate must be in [0, 1] and the delay must be ≥ 0.</summary>
    public LinkImpairment(double lossRate = 0, double duplicateRate = 0, double reorderRate = 0,
        double corruptRate = 0, double delayMilliseconds = 0)
    {
        LossRate = ValidateRate(lossRate, nameof(lossRate));
        DuplicateRate = ValidateRate(duplicateRate, nameof(duplicateRate));
        ReorderRate = ValidateRate(reorderRate, nameof(reorderRate));
        CorruptRate = ValidateRate(corruptRate, nameof(corruptRate));
        if (!(delayMilliseconds >= 0) || double.IsInfinity(delayMilliseconds))
            throw new ArgumentException(
                $"{nameof(delayMilliseconds)} must be a finite number of milliseconds ≥ 0 (was {delayMilliseconds.ToString(CultureInfo.InvariantCulture)}).",
                nameof(delayMilliseconds));
        DelayMilliseconds = delayMilliseconds;
    }

    /// <summary>Probability a datagram is dropped.</summary>
    public double LossRate { get; }

    /// <summary>Probability a delivered datagram is delivered twice.</summary>
    public double DuplicateRate { get; }

    /// <summary>Probability a delivered datagram is held back so later ones overtake it.</summary>
    public double ReorderRate { get; }

    /// <summary>Probability a delivered datagram has one bit flipped.</summary>
    public double CorruptRate { get; }

    /// <summary>Base one-way delay added to every datagram.</summary>
    public double DelayMilliseconds { get; }

    /// <summary>True when the link changes nothing (every rate and the delay are 0).</summary>
    public bool IsTransparent =>
        LossRate == 0 && DuplicateRate == 0 && ReorderRate == 0 && CorruptRate == 0 && DelayMilliseconds == 0;

    private static double ValidateRate(double rate, string name)
    {
        if (!(rate >= 0 && rate <= 1)) // also rejects NaN
            throw new ArgumentException(
                $"{name} is a probability and must be between 0 and 1 (was {rate.ToString(CultureInfo.InvariantCulture)}).", name);
        return rate;
    }
}
