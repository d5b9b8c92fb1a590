namespace Messenger.Rudp;

/// <summary>
/// BBR-like congestion control: the window follows a model of the path (bottleneck delivery rate ×
/// minimum RTT) instead of reacting to every loss. This is our default, because file transfers
/// over Wi-Fi and lossy links would otherwise collapse under random, non-congestive loss.
/// </summary>
/// <remarks>
/// <para><b>Model.</b> The delivery rate is sampled once per round trip ("round": the segments that
/// were in flight when the round began have been delivered) as delivered segments / elapsed time,
/// and the bottleneck bandwidth is the maximum of the last <see cref="RudpConstants.BandwidthFilterRounds"/>
/// samples. The minimum RTT is the smallest sample in the last <see cref="RudpConstants.MinRttWindowMicros"/>
/// (an expired minimum is replaced by the next sample).</para>
/// <para><b>Phases.</b> Startup doubles the window per round until the bottleneck estimate stops
/// growing by ≥ 25% for 3 rounds; after one Drain round, ProbeBandwidth keeps window = 2 × BDP.
/// Nothing is paced: the window alone limits what the sender puts on the wire.</para>
/// <para><b>Losses.</b> A loss alone changes nothing. The window is reduced multiplicatively, at most
/// once per round, only on clear congestion evidence — losses in a round whose every RTT sample
/// exceeded 2 × minimum RTT and a congestion delay (default 2 ms) above it, judged when the round
/// ends: a queue that stood the whole round, not one late ack (a busy CPU delays a few acks by
/// milliseconds, and with random loss every round has losses) — or on a retransmission timeout
/// (every timeout counts).
/// The reduction is an in-flight cap that grows back ×1.25 per clean round.</para>
/// <para>The window never leaves [minWindow, maxWindow].</para>
/// </remarks>
public sealed class RateBasedController : ICongestionController
{
    private readonly int _minWindow;
    private readonly int _maxWindow;
    private readonly long _congestionDelayMicros;
    private readonly double[] _bandwidthSamples = new double[RudpConstants.BandwidthFilterRounds];

    private double _cwnd;
    private double _inFlightCap = double.PositiveInfinity;

    private bool _started;
    private long _delivered;
    private long _roundStartMicros;
    private long _deliveredAtRoundStart;
    private long _nextRoundDelivered;

    private long _minRttStampMicros;
    private double _fullBandwidth;
    private int _roundsWithoutGrowth;

    private int _lossesInRound;
    private long _minRttInRoundMicros = long.MaxValue;
    private long _lastReductionRound = -1;

    /// <summary>Creates a controller (the windows come from <c>min-window</c> and <c>max-window</c>). The effective window starts at max(initialWindow, minWindow).</summary>
    public RateBasedController(
        int minWindow,
        int maxWindow,
        int initialWindow = RudpConstants.InitialWindow,
        long congestionDelayMicros = RudpConstants.DefaultCongestionDelayMicros)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(minWindow);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWindow, minWindow);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(initialWindow);
        _minWindow = minWindow;
        _maxWindow = maxWindow;
        _congestionDelayMicros = Math.Max(0, congestionDelayMicros);
        _cwnd = Math.Clamp(initialWindow, minWindow, maxWindow);
    }

    /// <inheritdoc />
    public string Name => "rate";

    /// <summary>Current phase of the state machine.</summary>
    public RateBasedPhase Phase { get; private set; } = RateBasedPhase.Startup;

    /// <summary>Bottleneck bandwidth estimate in segments per second (0 until the first round completes).</summary>
    public double BottleneckBandwidth { get; private set; }

    /// <summary>Minimum RTT estimate in microseconds, or null before the first RTT sample.</summary>
    public long? MinRttMicros { get; private set; }

    /// <summary>Bandwidth-delay product in segments (0 while either estimate is missing).</summary>
    public double BandwidthDelayProduct =>
        MinRttMicros is { } minRtt ? BottleneckBandwidth * minRtt / 1_000_000.0 : 0;

    /// <summary>Completed rounds (round trips) so far.</summary>
    public long RoundCount { get; private set; }

    /// <summary>Multiplicative reductions applied so far (congestion evidence and timeouts).</summary>
    public int Reductions { get; private set; }

    /// <inheritdoc />
    public int Window => (int)Math.Clamp(Math.Min(_cwnd, _inFlightCap), _minWindow, _maxWindow);


    /// <inheritdoc />
    public int AllowedInFlight(int receiverWindow) => Math.Max(0, Math.Min(Window, receiverWindow));

    /// <inheritdoc />
    public void OnAck(long nowMicros, int newlyAckedSegments, long? rttSampleMicros, int inFlight)
    {
        if (rttSampleMicros is { } rtt and >= 0)
            TakeRttSample(nowMicros, rtt);
        if (newlyAckedSegments <= 0)
            return;

        _delivered += newlyAckedSegments;
        if (!_started)
        {
            // The first ack only starts the clock: its segments were sent before we could time them.
            _started = true;
            StartRound(nowMicros, inFlight);
        }

        if (Phase == RateBasedPhase.Startup)
            _cwnd = Math.Min(_cwnd + newlyAckedSegments, _maxWindow);

        if (_delivered >= _nextRoundDelivered)
            EndRound(nowMicros, inFlight);

        if (Phase == RateBasedPhase.Drain && inFlight <= BandwidthDelayProduct)
            Phase = RateBasedPhase.ProbeBandwidth;
        if (Phase != RateBasedPhase.Startup && BandwidthDelayProduct > 0)
            _cwnd = Math.Clamp(RudpConstants.SteadyWindowGain * BandwidthDelayProduct, _minWindow, _maxWindow);
    }

    /// <inheritdoc />
    public void OnLoss(long lostTransmissionNumber, long nextTransmissionNumber)
    {
        _lossesInRound++;
    }

    /// <inheritdoc />
    public void OnRetransmissionTimeout(long nextTransmissionNumber)
    {
        Reduce(RudpConstants.TimeoutDecrease);
    }

    private void TakeRttSample(long nowMicros, long rtt)
    {
        if (MinRttMicros is not { } minRtt || rtt <= minRtt
            || nowMicros - _minRttStampMicros > RudpConstants.MinRttWindowMicros)
        {
            MinRttMicros = rtt;
            _minRttStampMicros = nowMicros;
        }
        _minRttInRoundMicros = Math.Min(_minRttInRoundMicros, rtt);
    }

    private void CheckCongestionEvidence()
    {
        if (_lossesInRound > 0
            && MinRttMicros is { } minRtt
            && _minRttInRoundMicros != long.MaxValue
            && _minRttInRoundMicros > Math.Max(RudpConstants.CongestionRttInflation * minRtt, minRtt + _congestionDelayMicros)
            && _lastReductionRound != RoundCount)
            Reduce(RudpConstants.CongestionDecrease);
    }

    private void Reduce(double factor)
    {
        _inFlightCap = Math.Max(_minWindow, Window * factor);
        _lastReductionRound = RoundCount;
        Reductions++;
        if (Phase == RateBasedPhase.Startup)
            Phase = RateBasedPhase.ProbeBandwidth; // the pipe is evidently full
        _cwnd = Math.Min(_cwnd, _inFlightCap);
    }

    private void EndRound(long nowMicros, int inFlight)
    {
        var elapsed = nowMicros - _roundStartMicros;
        var sample = elapsed > 0 ? (_delivered - _deliveredAtRoundStart) * 1_000_000.0 / elapsed : 0;
        _bandwidthSamples[RoundCount % _bandwidthSamples.Length] = sample;
        var max = 0.0;
        foreach (var s in _bandwidthSamples)
            max = Math.Max(max, s);
        BottleneckBandwidth = max;

        switch (Phase)
        {
            case RateBasedPhase.Startup:
                if (BottleneckBandwidth >= _fullBandwidth * RudpConstants.FullBandwidthGrowth)
                {
                    _fullBandwidth = BottleneckBandwidth;
                    _roundsWithoutGrowth = 0;
                }
                else if (++_roundsWithoutGrowth >= RudpConstants.FullBandwidthRounds)
                {
                    Phase = RateBasedPhase.Drain;
                }
                break;
            case RateBasedPhase.Drain:
                Phase = RateBasedPhase.ProbeBandwidth; // drain lasts one round
                break;
        }

        CheckCongestionEvidence();

        // A round without a reduction lets the in-flight cap grow back towards the model's window.
        if (_lastReductionRound != RoundCount && !double.IsPositiveInfinity(_inFlightCap))
        {
            _inFlightCap *= RudpConstants.CapRegrowth;
            if (_inFlightCap >= _maxWindow)
                _inFlightCap = double.PositiveInfinity;
        }

        RoundCount++;
        StartRound(nowMicros, inFlight);
    }

    private void StartRound(long nowMicros, int inFlight)
    {
        _roundStartMicros = nowMicros;
        _deliveredAtRoundStart = _delivered;
        _nextRoundDelivered = _delivered + Math.Max(0, inFlight);
        _lossesInRound = 0;
        _minRttInRoundMicros = long.MaxValue;
    }
}

/// <summary>The state machine of <see cref="RateBasedController"/> (BBR's names).</summary>
public enum RateBasedPhase
{
    /// <summary>Exponential search for the bottleneck rate: the window doubles every round trip.</summary>
    Startup,
    /// <summary>One round after Startup in which the window drops to 2 × BDP, letting the queue Startup built empty.</summary>
    Drain,
    /// <summary>Steady state: window = 2 × BDP.</summary>
    ProbeBandwidth,
}
