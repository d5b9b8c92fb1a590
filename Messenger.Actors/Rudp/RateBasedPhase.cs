namespace Messenger.Rudp;

/// <summary>The state machine of <see cref="RateBasedController"/> (BBR's names).</summary>
public enum RateBasedPhase
{
    /// <summary>Exponential search for the bottleneck rate: the window doubles every round trip.</summary>
    Startup,
    /// <summary>Empty the queue Startup built (pacing below the bottleneck rate), for at most one round.</summary>
    Drain,
    /// <summary>Steady state: window = 2 × BDP, pacing cycles around the bottleneck rate.</summary>
    ProbeBandwidth,
}
