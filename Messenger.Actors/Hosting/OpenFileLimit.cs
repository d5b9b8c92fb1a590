using System.Runtime.InteropServices;

namespace Messenger.Hosting;

/// <summary>This process's limit on open file descriptors (<c>RLIMIT_NOFILE</c>), read and raised through libc.</summary>
public static class OpenFileLimit
{
    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int getrlimit(int resource, out RLimit limit);

    [DllImport("libc", SetLastError = true)]
    private static extern int setrlimit(int resource, in RLimit limit);

    private static int Resource => OperatingSystem.IsLinux() ? 7 : 8; // RLIMIT_NOFILE on Linux, on macOS

    /// <summary>The soft limit in force, or null where it cannot be read (not Linux or macOS).</summary>
    public static long? Current()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return null;
        try
        {
            return getrlimit(Resource, out var limit) == 0 ? (long)Math.Min(limit.Current, long.MaxValue) : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Raises the soft limit towards <paramref name="wanted"/> (never above the hard limit). Child
    /// processes started afterwards inherit it. Returns the soft limit now in force, or null when it
    /// cannot be read.
    /// </summary>
    public static long? Raise(long wanted)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return null;
        try
        {
            if (getrlimit(Resource, out var limit) != 0) return null;
            if (limit.Current >= (ulong)wanted) return (long)Math.Min(limit.Current, long.MaxValue);
            var raised = new RLimit { Current = Math.Min((ulong)wanted, limit.Maximum), Maximum = limit.Maximum };
            return setrlimit(Resource, raised) == 0 ? (long)raised.Current : (long)limit.Current;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }
}
