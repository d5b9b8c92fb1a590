namespace Messenger.Rudp;

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
