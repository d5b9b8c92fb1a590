namespace Messenger.Rudp;

/// <summary>What applying one Ack to a <see cref="SendWindow"/> changed.</summary>
/// <param name="Accepted">False when the Ack acknowledged segments never sent (corrupt or hostile); nothing was applied.</param>
/// <param name="NewlyAcked">Segments acknowledged for the first time.</param>
/// <param name="HighestAckedTransmission">Highest transmission number among them, or −1 when none.</param>
public readonly record struct AckOutcome(bool Accepted, int NewlyAcked, long HighestAckedTransmission)
{
    /// <summary>The outcome of an Ack that was rejected.</summary>
    public static AckOutcome Rejected => new(false, 0, -1);
}
