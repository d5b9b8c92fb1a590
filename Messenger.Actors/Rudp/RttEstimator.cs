namespace Messenger.Rudp;

/// <summary>
/// Retransmission timeout computation of RFC 6298, in microseconds.
/// </summary>
/// <remarks>
/// <para>SRTT and RTTVAR are kept as doubles so the RFC arithmetic (α = 1/8, β = 1/4) is exact;
/// the RTO is rounded up to whole microseconds.</para>
/// <para><b>Karn's rule is the caller's job:</b> feed <see cref="AddSample"/> only with RTTs measured
/// from segments that were transmitted exactly once (the Ack's echoed-retransmission flag tells),
/// because an ack for a retransmitted segment cannot say which transmission it answers.</para>
/// <para>No clock inside: the caller measures the sample and decides when the timer fired.</para>
/// </remarks>
public sealed class RttEstimator
{
    private readonly long _minRtoMicros;
    private readonly long _maxRtoMicros;
    private readonly long _granularityMicros;
    private long _baseRtoMicros;

    /// <summary>Creates an estimator; defaults are the RFC 6298 values (1 s initial and minimum, 60 s maximum).</summary>
    public RttEstimator(
        long initialRtoMicros = RudpConstants.RfcInitialRtoMicros,
        long minRtoMicros = RudpConstants.RfcMinRtoMicros,
        long maxRtoMicros = RudpConstants.MaxRtoMicros,
        long clockGranularityMicros = RudpConstants.DefaultClockGranularityMicros)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(minRtoMicros);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRtoMicros, minRtoMicros);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(initialRtoMicros);
        ArgumentOutOfRangeException.ThrowIfNegative(clockGranularityMicros);
        _minRtoMicros = minRtoMicros;
        _maxRtoMicros = maxRtoMicros;
        _granularityMicros = clockGranularityMicros;
        _baseRtoMicros = Math.Min(initialRtoMicros, maxRtoMicros);
        RtoMicros = _baseRtoMicros;
    }

    /// <summary>True once a first RTT sample has been taken.</summary>
    public bool HasSample { get; private set; }

    /// <summary>Smoothed RTT (SRTT) in microseconds; 0 before the first sample.</summary>
    public double SmoothedRttMicros { get; private set; }

    /// <summary>RTT variation (RTTVAR) in microseconds; 0 before the first sample.</summary>
    public double RttVariationMicros { get; private set; }

    /// <summary>Current retransmission timeout in microseconds, including any backoff.</summary>
    public long RtoMicros { get; private set; }

    /// <summary>Number of consecutive <see cref="Backoff"/> calls since the last sample.</summary>
    public int BackoffCount { get; private set; }

    /// <summary>
    /// RFC 6298 §2.2/2.3: takes an RTT measurement and recomputes the RTO, which also clears any
    /// backoff (§5.7: a new sample after backoff restores the computed value).
    /// Negative samples (clock wrap, bogus echo) are ignored and return false.
    /// </summary>
    public bool AddSample(long rttMicros)
    {
        if (rttMicros < 0)
            return false;
        double r = rttMicros;
        if (!HasSample)
        {
            SmoothedRttMicros = r;
            RttVariationMicros = r / 2;
            HasSample = true;
        }
        else
        {
            // RTTVAR is updated first, using the old SRTT, as the RFC requires.
            RttVariationMicros = (1 - RudpConstants.RttBeta) * RttVariationMicros
                                 + RudpConstants.RttBeta * Math.Abs(SmoothedRttMicros - r);
            SmoothedRttMicros = (1 - RudpConstants.RttAlpha) * SmoothedRttMicros + RudpConstants.RttAlpha * r;
        }

        var rto = SmoothedRttMicros + Math.Max(_granularityMicros, RudpConstants.RttK * RttVariationMicros);
        _baseRtoMicros = Math.Clamp((long)Math.Ceiling(rto), _minRtoMicros, _maxRtoMicros);
        RtoMicros = _baseRtoMicros;
        BackoffCount = 0;
        return true;
    }

    /// <summary>RFC 6298 §5.5: the retransmission timer expired; double the RTO, up to the maximum.</summary>
    public void Backoff()
    {
        RtoMicros = RtoMicros >= _maxRtoMicros / 2 ? _maxRtoMicros : RtoMicros * 2;
        BackoffCount++;
    }
}
