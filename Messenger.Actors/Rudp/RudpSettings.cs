using Akka.Configuration;

namespace Messenger.Rudp;

/// <summary>Tunables of the reliable-UDP transport, read from <c>messenger.rudp</c> (server and client HOCON share the keys).</summary>
public sealed record RudpSettings(
    int SegmentPayloadBytes,
    TimeSpan InitialRto,
    TimeSpan MinRto,
    TimeSpan MaxRto,
    TimeSpan IdleTimeout,
    TimeSpan HandshakeRetryInterval,
    int HandshakeRetries,
    int FinRetries,
    TimeSpan StallTimeout,
    int MaxRetransmissions,
    int TailCopies,
    int MaxSackRanges,
    string CongestionControl,
    int MinWindow,
    int MaxWindow,
    int ReorderThreshold,
    int ReceiveCapacity,
    int AckEvery,
    int BatchAckEvery,
    TimeSpan DelayedAck,
    int SocketBufferBytes,
    LinkImpairment Impairment,
    int LossSeed)
{
    public static RudpSettings FromConfig(Config config)
    {
        var c = config.GetConfig("messenger.rudp") ?? throw new ConfigurationException("missing messenger.rudp");
        var lossy = c.GetConfig("lossy");
        var settings = new RudpSettings(
            c.GetInt("segment-size"),
            c.GetTimeSpan("initial-rto"),
            c.GetTimeSpan("min-rto"),
            c.GetTimeSpan("max-rto"),
            c.GetTimeSpan("idle-timeout"),
            c.GetTimeSpan("handshake-retry-interval"),
            c.GetInt("handshake-retries"),
            c.GetInt("fin-retries"),
            c.GetTimeSpan("stall-timeout"),
            c.GetInt("max-retransmissions"),
            c.GetInt("tail-copies"),
            c.GetInt("max-sack-ranges"),
            c.GetString("congestion-control"),
            c.GetInt("min-window"),
            c.GetInt("max-window"),
            c.GetInt("reorder-threshold"),
            c.GetInt("receive-capacity"),
            c.GetInt("ack-every"),
            c.GetInt("batch-ack-every"),
            c.GetTimeSpan("delayed-ack"),
            (int)(c.GetByteSize("socket-buffer") ?? throw new ConfigurationException("missing messenger.rudp.socket-buffer")),
            new LinkImpairment(lossy.GetDouble("loss"), lossy.GetDouble("duplicate"), lossy.GetDouble("reorder"),
                lossy.GetDouble("corrupt"), lossy.GetTimeSpan("delay").TotalMilliseconds),
            lossy.GetInt("seed"));
        if (settings.SegmentPayloadBytes is < 1 or > RudpConstants.MaxPayload)
            throw new ConfigurationException($"messenger.rudp.segment-size must be 1..{RudpConstants.MaxPayload}");
        if (settings.CongestionControl is not ("rate" or "newreno"))
            throw new ConfigurationException("messenger.rudp.congestion-control must be \"rate\" or \"newreno\"");
        if (settings.MinRto <= TimeSpan.Zero || settings.MaxRto < settings.MinRto || settings.InitialRto <= TimeSpan.Zero)
            throw new ConfigurationException("messenger.rudp RTOs must be positive with min-rto <= max-rto");
        if (settings.ReceiveCapacity > RudpConstants.MaxReceiveCapacity)
            throw new ConfigurationException($"messenger.rudp.receive-capacity must be at most {RudpConstants.MaxReceiveCapacity} (what one ack can describe)");
        if (settings.AckEvery < 1 || settings.BatchAckEvery < 1 || settings.ReorderThreshold < 1 || settings.MinWindow < 1 || settings.MaxWindow < settings.MinWindow || settings.ReceiveCapacity < 2)
            throw new ConfigurationException("messenger.rudp: ack-every, batch-ack-every, reorder-threshold and min-window must be >= 1, max-window >= min-window");
        if (settings.MaxRetransmissions < 1 || settings.TailCopies < 1 || settings.MaxSackRanges < 1 || settings.StallTimeout <= TimeSpan.Zero)
            throw new ConfigurationException("messenger.rudp: max-retransmissions, tail-copies and max-sack-ranges must be >= 1, stall-timeout positive");
        return settings;
    }

    public ICongestionController NewCongestionController() => CongestionControl == "newreno"
        ? new NewRenoController(maxWindow: MaxWindow)
        : new RateBasedController(minWindow: MinWindow, maxWindow: MaxWindow);

    public RttEstimator NewRttEstimator() => new(
        (long)InitialRto.TotalMicroseconds, (long)MinRto.TotalMicroseconds, (long)MaxRto.TotalMicroseconds);
}

/// <summary>What the server's UDP port admits, read from <c>messenger.rudp</c> in hocon/server.hocon (clients have none).</summary>
public sealed record RudpServerLimits(int MaxHalfOpen, int MaxTransfers, int MaxTransfersPerAddress, int MaxQueuedDatagrams, TimeSpan LogInterval)
{
    public static RudpServerLimits FromConfig(Config config)
    {
        var c = config.GetConfig("messenger.rudp") ?? throw new ConfigurationException("missing messenger.rudp");
        var limits = new RudpServerLimits(c.GetInt("max-half-open"), c.GetInt("max-transfers"), c.GetInt("max-transfers-per-address"),
            c.GetInt("max-queued-datagrams"), c.GetTimeSpan("log-interval"));
        if (limits.MaxHalfOpen < 1 || limits.MaxTransfers < 1 || limits.MaxTransfersPerAddress < 1 || limits.MaxQueuedDatagrams < 1 || limits.LogInterval <= TimeSpan.Zero)
            throw new ConfigurationException("messenger.rudp: max-half-open, max-transfers, max-transfers-per-address and max-queued-datagrams must be at least 1, log-interval positive");
        // Half-open handshakes and one address's transfers count toward max-transfers: above it they could never be reached.
        if (limits.MaxHalfOpen > limits.MaxTransfers || limits.MaxTransfersPerAddress > limits.MaxTransfers)
            throw new ConfigurationException($"messenger.rudp: max-half-open ({limits.MaxHalfOpen}) and max-transfers-per-address ({limits.MaxTransfersPerAddress}) must be at most max-transfers ({limits.MaxTransfers}), which counts them too");
        return limits;
    }
}
