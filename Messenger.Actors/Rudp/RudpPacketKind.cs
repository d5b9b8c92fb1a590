namespace Messenger.Rudp;

/// <summary>Byte 1 of every datagram: what the rest of the datagram means.</summary>
public enum RudpPacketKind : byte
{
    /// <summary>Client → server: open a transfer with a ticket (padded to <see cref="RudpConstants.SynSize"/>).</summary>
    Syn = 1,
    /// <summary>Server → client: the transfer's file size, digest and segmentation.</summary>
    SynAck = 2,
    /// <summary>Client → server: handshake complete, start sending; carries the receiver window.</summary>
    HandshakeAck = 3,
    /// <summary>One file segment.</summary>
    Data = 4,
    /// <summary>Cumulative + selective acknowledgement.</summary>
    Ack = 5,
    /// <summary>Sender: everything was acknowledged, closing.</summary>
    Fin = 6,
    /// <summary>Receiver: close acknowledged.</summary>
    FinAck = 7,
    /// <summary>Abort the connection, with a reason.</summary>
    Rst = 8,
}
