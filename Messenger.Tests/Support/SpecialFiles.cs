using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Messenger.Tests.Support;

/// <summary>Makes the kinds of folder entries that are not regular files (Linux).</summary>
public static class SpecialFiles
{
    [DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int MkFifo([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);

    /// <summary>A named pipe: opening it for reading waits for a writer.</summary>
    public static void MakeFifo(string path)
    {
        if (MkFifo(path, 0b110_100_100) != 0) // 0644
            throw new IOException($"mkfifo {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>A listening Unix-domain socket file; dispose the socket to stop listening (the file stays).</summary>
    public static Socket MakeSocket(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        socket.Listen();
        return socket;
    }
}
