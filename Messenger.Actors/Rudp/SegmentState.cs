namespace Messenger.Rudp;

/// <summary>Where one segment stands from the sender's point of view.</summary>
public enum SegmentState : byte
{
    /// <summary>Never transmitted.</summary>
    NotSent,
    /// <summary>Transmitted, neither acknowledged nor declared lost.</summary>
    InFlight,
    /// <summary>Acknowledged (cumulatively or by SACK); final.</summary>
    Acked,
    /// <summary>Declared lost; waiting to be retransmitted.</summary>
    Lost,
}
