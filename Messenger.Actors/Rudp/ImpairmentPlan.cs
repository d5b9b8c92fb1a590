namespace Messenger.Rudp;

/// <summary>
/// Deterministic decision-maker for a lossy link: given <see cref="LinkImpairment"/> settings and a
/// seed, decides for each datagram whether it is dropped, duplicated, corrupted or delayed. The same
/// seed and the same sequence of datagram lengths always give the same decisions, so a failing
/// transfer test can be replayed exactly. The socket wrapper applies the decisions; this class only
/// does the arithmetic.
/// </summary>
/// <remarks>
/// Draw order per datagram (fixed, part of the reproducibility contract): loss; if delivered,
/// duplicate, corrupt (+ bit position), reorder (+ extra delay). A transparent plan draws nothing.
/// A reordered datagram is held for base delay + a uniform extra delay in (0, 2 × base + 1 ms].
/// </remarks>
public sealed class ImpairmentPlan
{
    private const long TicksPerMillisecond = TimeSpan.TicksPerMillisecond;

    private readonly Random _random;
    private readonly TimeSpan _baseDelay;
    private readonly long _maxExtraDelayTicks;

    /// <summary>Creates a plan; <paramref name="seed"/> fixes the whole sequence of decisions.</summary>
    public ImpairmentPlan(LinkImpairment impairment, int seed)
    {
        ArgumentNullException.ThrowIfNull(impairment);
        Impairment = impairment;
        _random = new Random(seed);
        _baseDelay = TimeSpan.FromTicks((long)Math.Round(impairment.DelayMilliseconds * TicksPerMillisecond));
        _maxExtraDelayTicks = 2 * _baseDelay.Ticks + TicksPerMillisecond;
    }

    /// <summary>The settings this plan applies.</summary>
    public LinkImpairment Impairment { get; }

    /// <summary>True when the plan never alters a datagram.</summary>
    public bool IsTransparent => Impairment.IsTransparent;

    /// <summary>Decides the fate of the next datagram of <paramref name="datagramLength"/> bytes.</summary>
    public ImpairmentDecision Next(int datagramLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(datagramLength);
        if (Impairment.IsTransparent)
            return ImpairmentDecision.Untouched;
        if (Hit(Impairment.LossRate))
            return new ImpairmentDecision(true, false, -1, TimeSpan.Zero, false);

        var duplicate = Hit(Impairment.DuplicateRate);
        var corruptBit = -1;
        if (Hit(Impairment.CorruptRate) && datagramLength > 0)
            corruptBit = _random.Next(datagramLength * 8);
        var delay = _baseDelay;
        var reordered = Hit(Impairment.ReorderRate);
        if (reordered)
            delay += TimeSpan.FromTicks(1 + _random.NextInt64(_maxExtraDelayTicks));
        return new ImpairmentDecision(false, duplicate, corruptBit, delay, reordered);
    }

    // A zero rate draws nothing: cheaper, and the contract is only "same settings + same seed = same decisions".
    private bool Hit(double rate) => rate > 0 && _random.NextDouble() < rate;
}

/// <summary>
/// The fate of one datagram on an impaired link, as decided by <see cref="ImpairmentPlan"/>.
/// </summary>
/// <param name="Drop">The datagram is lost; nothing else applies.</param>
/// <param name="Duplicate">Deliver an identical second copy.</param>
/// <param name="CorruptBitIndex">Bit to flip (byte = index / 8, bit = index % 8), or −1 for none.</param>
/// <param name="Delay">How long to hold the datagram before delivering it.</param>
/// <param name="Reordered">The delay includes an extra random hold-back so later datagrams overtake it.</param>
public readonly record struct ImpairmentDecision(bool Drop, bool Duplicate, int CorruptBitIndex, TimeSpan Delay, bool Reordered)
{
    /// <summary>Deliver untouched, now.</summary>
    public static ImpairmentDecision Untouched => new(false, false, -1, TimeSpan.Zero, false);

    /// <summary>Whether a bit is flipped.</summary>
    public bool Corrupt => CorruptBitIndex >= 0;

    /// <summary>Applies the corruption (if any) to the datagram in place.</summary>
    public void ApplyCorruption(Span<byte> datagram)
    {
        if (CorruptBitIndex >= 0)
            datagram[CorruptBitIndex >> 3] ^= (byte)(1 << (CorruptBitIndex & 7));
    }
}
