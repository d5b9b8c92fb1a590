namespace Messenger.Rudp;

/// <summary>
/// The validated common header of a datagram, returned by <see cref="RudpCodec.TryRead"/>.
/// Once a header exists, the body has also been validated, so the typed body readers cannot fail.
/// </summary>
/// <param name="Kind">What the datagram is.</param>
/// <param name="Flags">Kind-specific flags (only <see cref="RudpConstants.RetransmissionFlag"/> is defined).</param>
/// <param name="ConnectionId">Connection the datagram belongs to (0 in a Syn).</param>
/// <param name="Length">Total datagram length in bytes.</param>
public readonly record struct RudpHeader(RudpPacketKind Kind, ushort Flags, uint ConnectionId, int Length)
{
    /// <summary>Data: the segment is a retransmission. Ack: the echoed segment was a retransmission.</summary>
    public bool IsRetransmission => (Flags & RudpConstants.RetransmissionFlag) != 0;
}
