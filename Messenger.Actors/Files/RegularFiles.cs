using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Messenger.Files;

/// <summary>
/// Tells regular files from everything else a folder can hold, and opens only regular files.
/// Opening a FIFO for reading blocks until a writer comes (possibly never), and a device or a
/// socket is no file to serve. .NET shows none of this (a FIFO is <c>FileAttributes.Normal</c>), so
/// on Linux the type comes from <c>statx(2)</c>: it is checked on the path before anything is
/// opened, the open itself cannot block (<c>O_NONBLOCK</c>), and the type is checked again on the
/// open descriptor, so a file swapped for a FIFO in between is refused too. Windows keeps no
/// FIFOs, sockets or devices in a folder; other systems get only the <see cref="FileInfo"/> check.
/// </summary>
public static class RegularFiles
{
    /// <summary>True when <paramref name="path"/> (links followed) is a regular file.</summary>
    public static bool IsRegular(string path)
    {
        if (OperatingSystem.IsLinux()) return Linux.TypeOfPath(path) == Linux.RegularType;
        var attributes = File.GetAttributes(path);
        return (attributes & (FileAttributes.Directory | FileAttributes.Device)) == 0;
    }

    /// <summary>Opens a regular file for reading; anything else is an <see cref="IOException"/>, never a wait.</summary>
    public static FileStream OpenRead(string path, int bufferSize)
    {
        if (!OperatingSystem.IsLinux())
        {
            if (!IsRegular(path)) throw NotRegular(path);
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize);
        }
        if (Linux.TypeOfPath(path) != Linux.RegularType) throw NotRegular(path);
        var handle = Linux.OpenWithoutBlocking(path);
        try
        {
            if (Linux.TypeOfDescriptor(handle) != Linux.RegularType) throw NotRegular(path);
            return new FileStream(handle, FileAccess.Read, bufferSize);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static IOException NotRegular(string path) => new($"{Path.GetFileName(path)} is not a regular file");

    private static class Linux
    {
        public const int RegularType = 0x8000; // S_IFREG
        private const int TypeMask = 0xF000;   // S_IFMT
        private const int AtCurrentDirectory = -100; // AT_FDCWD
        private const int AtEmptyPath = 0x1000;      // AT_EMPTY_PATH: the descriptor itself
        private const uint StatxType = 0x1;          // STATX_TYPE
        private const int StatxModeOffset = 28;      // struct statx: u16 stx_mode
        private const int StatxSize = 256;           // sizeof(struct statx)
        private const int OpenFlags = 0x800 | 0x100 | 0x80000; // O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC

        [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
        private static extern int Statx(int dirFd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);

        [DllImport("libc", EntryPoint = "open", SetLastError = true)]
        private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        public static int TypeOfPath(string path) => Type(AtCurrentDirectory, path, 0, path);

        public static int TypeOfDescriptor(SafeFileHandle handle)
        {
            bool added = false;
            handle.DangerousAddRef(ref added);
            try { return Type((int)handle.DangerousGetHandle(), "", AtEmptyPath, "descriptor"); }
            finally { if (added) handle.DangerousRelease(); }
        }

        public static SafeFileHandle OpenWithoutBlocking(string path)
        {
            int fd = Open(path, OpenFlags);
            if (fd < 0) throw Failure("open", path);
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        private static int Type(int dirFd, string path, int flags, string what)
        {
            var buffer = new byte[StatxSize];
            if (Statx(dirFd, path, flags, StatxType, buffer) != 0) throw Failure("statx", what);
            return BitConverter.ToUInt16(buffer, StatxModeOffset) & TypeMask;
        }

        private static IOException Failure(string call, string path)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno == 2 // ENOENT
                ? new FileNotFoundException($"{Path.GetFileName(path)} does not exist", path)
                : new IOException($"{call} {Path.GetFileName(path)}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }
}
