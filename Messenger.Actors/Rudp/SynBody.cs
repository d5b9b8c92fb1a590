namespace Messenger.Rudp;

/// <summary>
/// Body of a Syn: the ticket that authorises the transfer and the client's receive window.
/// A ref struct so reading it never copies the ticket out of the datagram buffer.
/// </summary>
public readonly ref struct SynBody
{
    /// <summary>Creates a body view.</summary>
    public SynBody(ReadOnlySpan<byte> ticket, uint receiverWindow)
    {
        Ticket = ticket;
        ReceiverWindow = receiverWindow;
    }

    /// <summary>The 16-byte transfer ticket (a view into the datagram).</summary>
    public ReadOnlySpan<byte> Ticket { get; }

    /// <summary>Segments the client can buffer out of order.</summary>
    public uint ReceiverWindow { get; }
}
