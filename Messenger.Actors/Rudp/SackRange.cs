namespace Messenger.Rudp;

/// <summary>
/// A run of segments [<paramref name="Start"/>, <paramref name="End"/>) received above the cumulative
/// ack. Ranges let the sender retransmit only what is actually missing (selective repeat).
/// </summary>
public readonly record struct SackRange(uint Start, uint End)
{
    /// <summary>Number of segments in the range.</summary>
    public uint Count => End - Start;
}
