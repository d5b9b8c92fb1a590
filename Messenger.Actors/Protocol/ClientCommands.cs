namespace Messenger.Protocol;

/// <summary>A control-channel frame from a client, parsed and validated at the edge.</summary>
public abstract record ClientCommand;

public sealed record HelloCommand(string User) : ClientCommand;
public sealed record SayCommand(string Text) : ClientCommand;
public sealed record PmCommand(string To, string Text) : ClientCommand;
public sealed record WhoCommand : ClientCommand { public static readonly WhoCommand Instance = new(); }
public sealed record PingCommand : ClientCommand { public static readonly PingCommand Instance = new(); }
public sealed record ByeCommand : ClientCommand { public static readonly ByeCommand Instance = new(); }
/// <summary>One page of the file listing: from <paramref name="Offset"/>, at most <paramref name="Limit"/> entries (null: the server's page size).</summary>
public sealed record FilesCommand(int Offset = 0, int? Limit = null) : ClientCommand { public static readonly FilesCommand Instance = new(); }
public sealed record GetCommand(string File, TransferVia Via) : ClientCommand;

/// <summary>How a file is to be downloaded.</summary>
public enum TransferVia { Tcp, Udp }

/// <summary>The first and only line a client sends on the TCP file channel.</summary>
public sealed record TicketRequest(string Ticket, long Offset);

/// <summary>
/// A frame that could not be accepted: the error to answer with. <paramref name="ClosesConnection"/>
/// is set where the stream can no longer be trusted (invalid UTF-8).
/// </summary>
public sealed record ProtocolError(string Code, string Message, bool ClosesConnection = false);
