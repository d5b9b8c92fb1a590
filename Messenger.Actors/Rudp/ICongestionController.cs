namespace Messenger.Rudp;

/// <summary>
/// Decides how many segments the sender may have in flight.
/// Two strategies share this shape so the sender can be configured with either and compared.
/// </summary>
/// <remarks>
/// <para>Time is always passed in (<c>nowMicros</c>, any monotonic microsecond clock); no
/// implementation reads a clock, so behaviour is deterministic under test.</para>
/// <para>Transmission numbers are the sender's monotonically increasing counter over every
/// transmission, including retransmissions (see <see cref="SendWindow"/>). They let a controller
/// recognise that several losses belong to one loss event: everything sent before the reaction
/// to a loss is covered by that reaction.</para>
/// </remarks>
public interface ICongestionController
{
    /// <summary>Short name for logs and benchmark output.</summary>
    string Name { get; }

    /// <summary>Segments allowed in flight by congestion control alone (≥ 1), before the receiver window cap.</summary>
    int Window { get; }

    /// <summary>
    /// The number the sender should actually use: <see cref="Window"/> capped by the receiver's
    /// advertised window (never negative; 0 means the receiver is full).
    /// </summary>
    int AllowedInFlight(int receiverWindow);

    /// <summary>
    /// New segments were acknowledged (cumulatively or selectively).
    /// </summary>
    /// <param name="nowMicros">Current time.</param>
    /// <param name="newlyAckedSegments">Segments acknowledged for the first time by this Ack.</param>
    /// <param name="rttSampleMicros">RTT measured from this Ack, or null when Karn's rule forbids one.</param>
    /// <param name="inFlight">Segments still in flight after applying this Ack (before sending more).</param>
    void OnAck(long nowMicros, int newlyAckedSegments, long? rttSampleMicros, int inFlight);

    /// <summary>
    /// A transmission was declared lost.
    /// </summary>
    /// <param name="lostTransmissionNumber">Transmission number of the lost transmission.</param>
    /// <param name="nextTransmissionNumber">Number the next transmission will get (the recovery point).</param>
    void OnLoss(long lostTransmissionNumber, long nextTransmissionNumber);

    /// <summary>The retransmission timer expired (the strongest congestion signal there is).</summary>
    /// <param name="nextTransmissionNumber">Number the next transmission will get; losses of earlier transmissions are part of this event.</param>
    void OnRetransmissionTimeout(long nextTransmissionNumber);
}
