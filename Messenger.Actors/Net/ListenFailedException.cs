using System.Net.Sockets;

namespace Messenger.Net;

/// <summary>
/// A port the server cannot listen on, said in one line that names it and its channel:
/// <c>cannot listen on 127.0.0.1:7400 (chat): address already in use</c>.
/// </summary>
public sealed class ListenFailedException(string endpoint, string channel, Exception cause)
    : Exception($"cannot listen on {endpoint} ({channel}): {Reason(cause)}", cause)
{
    /// <summary>The socket's error under <paramref name="e"/> (the cluster's transport wraps it in several layers), or null.</summary>
    public static SocketException? SocketErrorOf(Exception? e) => e switch
    {
        null => null,
        SocketException socket => socket,
        AggregateException all => all.InnerExceptions.Select(SocketErrorOf).FirstOrDefault(s => s is not null),
        _ => SocketErrorOf(e.InnerException),
    };

    private static string Reason(Exception cause) => SocketErrorOf(cause) switch
    {
        { SocketErrorCode: SocketError.AddressAlreadyInUse } => "address already in use",
        { SocketErrorCode: SocketError.AccessDenied } => "permission denied",
        { SocketErrorCode: SocketError.AddressNotAvailable } => "no such address on this machine",
        { } socket => socket.Message,
        null => cause.Message,
    };
}
