namespace Messenger.Protocol;

/// <summary>A control-channel frame from a client, parsed and validated at the edge.</summary>
public abstract record ClientCommand;

/// <summary>Log in as <paramref name="User"/>; a registered name needs its <paramref name="Password"/>.</summary>
public sealed record HelloCommand(string User, Password? Password = null) : ClientCommand;
/// <summary>Say <paramref name="Text"/> in <paramref name="Room"/> (null: the lobby).</summary>
public sealed record SayCommand(string Text, string? Room = null) : ClientCommand;
public sealed record PmCommand(string To, string Text) : ClientCommand;
public sealed record WhoCommand : ClientCommand { public static readonly WhoCommand Instance = new(); }
public sealed record PingCommand : ClientCommand { public static readonly PingCommand Instance = new(); }
public sealed record ByeCommand : ClientCommand { public static readonly ByeCommand Instance = new(); }
/// <summary>One page of the file listing: from <paramref name="Offset"/>, at most <paramref name="Limit"/> entries (null: the server's page size).</summary>
public sealed record FilesCommand(int Offset = 0, int? Limit = null) : ClientCommand { public static readonly FilesCommand Instance = new(); }
public sealed record GetCommand(string File, TransferVia Via) : ClientCommand;
/// <summary>Rooms: <paramref name="Room"/> is already normalized by <see cref="RoomNames"/>.</summary>
public sealed record JoinCommand(string Room) : ClientCommand;
public sealed record PartCommand(string Room) : ClientCommand;
/// <summary>Up to <paramref name="Limit"/> messages of <paramref name="Room"/> with ids below <paramref name="Before"/> (null: the newest).</summary>
public sealed record HistoryCommand(string Room, long? Before, int Limit) : ClientCommand;
public sealed record RoomsCommand : ClientCommand { public static readonly RoomsCommand Instance = new(); }
/// <summary>Register the name this connection is logged in with.</summary>
public sealed record RegisterCommand(Password Password) : ClientCommand;
public sealed record PasswdCommand(Password Old, Password New) : ClientCommand;

/// <summary>A password as it came off the wire. Its text never appears in logs: <see cref="ToString"/> hides it.</summary>
public sealed record Password(string Text)
{
    public override string ToString() => "Password(hidden)";
}

/// <summary>How a file is to be downloaded.</summary>
public enum TransferVia { Tcp, Udp }

/// <summary>The first and only line a client sends on the TCP file channel.</summary>
public sealed record TicketRequest(string Ticket, long Offset);

/// <summary>
/// A frame that could not be accepted: the error to answer with. <paramref name="ClosesConnection"/>
/// is set where the stream can no longer be trusted (invalid UTF-8).
/// </summary>
public sealed record ProtocolError(string Code, string Message, bool ClosesConnection = false);
