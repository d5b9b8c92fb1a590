namespace Messenger.Rudp;

/// <summary>Why a connection was reset; carried as the single body byte of an Rst.</summary>
public enum RstReason : byte
{
    /// <summary>The Syn's ticket is unknown, expired or already used.</summary>
    BadTicket = 1,
    /// <summary>A datagram arrived for a connection id we do not know.</summary>
    UnknownConnection = 2,
    /// <summary>One side gave up (user cancelled, too many retransmissions).</summary>
    Aborted = 3,
    /// <summary>Handshake rate limit exceeded.</summary>
    TooManyHandshakes = 4,
    /// <summary>Something failed on our side (e.g. the file could not be read).</summary>
    InternalError = 5,
}
