namespace Messenger.Rudp;

/// <summary>What <see cref="ReceiveWindow.Accept"/> made of an arriving segment.</summary>
public enum AcceptResult
{
    /// <summary>It was the next expected segment: the cumulative ack advanced (possibly over buffered ones).</summary>
    Delivered,
    /// <summary>New, above a hole: kept (and SACKed) until the hole is filled.</summary>
    Buffered,
    /// <summary>Already received: drop it, but still acknowledge (the sender may have missed our Ack).</summary>
    Duplicate,
    /// <summary>Beyond the receive buffer or beyond the file: drop it without storing.</summary>
    OutOfWindow,
}
