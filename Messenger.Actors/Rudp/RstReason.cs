namespace Messenger.Rudp;

/// <summary>Why a connection was reset; carried as the single body byte of an Rst.</summary>
public enum RstReason : byte
{
    /// <summary>The Syn's ticket is unknown, expired or already used.</summary>
    BadTicket = 1,
    /// <summary>A datagram arrived for a connection id we do not know.</summary>
    UnknownConnection = 2,
    /// <summary>One side gave up (user cancelled, silence, no progress, too many retransmissions of one segment).</summary>
    Aborted = 3,
    /// <summary>The server is at one of its limits: half-open handshakes, transfers in total or per client address.</summary>
    Busy = 4,
    /// <summary>The server could not read the file (it shrank or vanished during the transfer).</summary>
    InternalError = 5,
}
