namespace Messenger.Rudp;

/// <summary>
/// Classic loss-based congestion control (RFC 5681 / RFC 6582 window arithmetic, in segments).
/// </summary>
/// <remarks>
/// <para>Slow start adds one segment per acked segment (doubling per round trip) until ssthresh;
/// congestion avoidance adds acked/cwnd (one segment per round trip). A loss event halves the
/// window once: losses of transmissions numbered below the recovery point (the transmission
/// number current when we reacted) belong to the event already handled and are ignored.</para>
/// <para>Kept as the baseline: it treats every loss as congestion, which is exactly what the
/// <see cref="RateBasedController"/> avoids on randomly lossy links.</para>
/// </remarks>
public sealed class NewRenoController : ICongestionController
{
    private readonly int _maxWindow;
    private long _recoveryPoint;

    /// <summary>Creates a controller with the given maximum (<c>max-window</c>) and initial window (segments).</summary>
    public NewRenoController(int maxWindow, int initialWindow = RudpConstants.InitialWindow)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(initialWindow);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWindow, initialWindow);
        _maxWindow = maxWindow;
        CongestionWindow = initialWindow;
        SlowStartThreshold = maxWindow;
    }

    /// <inheritdoc />
    public string Name => "newreno";

    /// <summary>cwnd in (fractional) segments.</summary>
    public double CongestionWindow { get; private set; }

    /// <summary>ssthresh in segments (starts at the maximum window: "arbitrarily high").</summary>
    public double SlowStartThreshold { get; private set; }

    /// <summary>True while cwnd &lt; ssthresh.</summary>
    public bool InSlowStart => CongestionWindow < SlowStartThreshold;

    /// <summary>Loss events that reduced the window (including timeouts).</summary>
    public int LossEvents { get; private set; }

    /// <inheritdoc />
    public int Window => Math.Max(1, (int)CongestionWindow);

    /// <inheritdoc />

    /// <inheritdoc />
    public int AllowedInFlight(int receiverWindow) => Math.Max(0, Math.Min(Window, receiverWindow));

    /// <inheritdoc />
    public void OnAck(long nowMicros, int newlyAckedSegments, long? rttSampleMicros, int inFlight)
    {
        if (newlyAckedSegments <= 0)
            return;
        double acked = newlyAckedSegments;
        if (CongestionWindow < SlowStartThreshold)
        {
            // Slow start up to ssthresh; whatever is left over counts as congestion avoidance.
            var slowStartPart = Math.Min(acked, SlowStartThreshold - CongestionWindow);
            CongestionWindow += slowStartPart;
            acked -= slowStartPart;
        }
        if (acked > 0)
            CongestionWindow += acked / CongestionWindow;
        CongestionWindow = Math.Min(CongestionWindow, _maxWindow);
    }

    /// <inheritdoc />
    public void OnLoss(long lostTransmissionNumber, long nextTransmissionNumber)
    {
        if (lostTransmissionNumber < _recoveryPoint)
            return; // part of a loss event we already reacted to
        SlowStartThreshold = Math.Max(CongestionWindow / 2, RudpConstants.MinSlowStartThreshold);
        CongestionWindow = SlowStartThreshold;
        _recoveryPoint = nextTransmissionNumber;
        LossEvents++;
    }

    /// <inheritdoc />
    public void OnRetransmissionTimeout(long nextTransmissionNumber)
    {
        SlowStartThreshold = Math.Max(CongestionWindow / 2, RudpConstants.MinSlowStartThreshold);
        CongestionWindow = RudpConstants.LossWindow;
        _recoveryPoint = Math.Max(_recoveryPoint, nextTransmissionNumber);
        LossEvents++;
    }
}
