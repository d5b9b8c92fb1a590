using System.Runtime.InteropServices;

namespace Messenger.Bench;

/// <summary>The few libc calls the harness needs on Linux: file-descriptor limit, signals, clock ticks.</summary>
internal static partial class Native
{
    private const int RlimitNoFile = 7; // RLIMIT_NOFILE on Linux
    private const int ScClkTck = 2;     // _SC_CLK_TCK
    public const int SigTerm = 15;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, out RLimit limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setrlimit(int resource, in RLimit limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    [LibraryImport("libc")]
    private static partial long sysconf(int name);

    /// <summary>
    /// Raises this process's soft limit on open files towards <paramref name="wanted"/> (never above
    /// the hard limit). Child processes started afterwards (the server) inherit it. Returns the soft
    /// limit now in force, or null when it cannot be read (not Linux).
    /// </summary>
    public static long? RaiseOpenFileLimit(long wanted)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            if (getrlimit(RlimitNoFile, out var limit) != 0) return null;
            if (limit.Current >= (ulong)wanted) return (long)Math.Min(limit.Current, long.MaxValue);
            var raised = new RLimit { Current = Math.Min((ulong)wanted, limit.Maximum), Maximum = limit.Maximum };
            if (setrlimit(RlimitNoFile, raised) == 0) return (long)raised.Current;
            return (long)limit.Current;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Sends SIGTERM (what Ctrl+C's coordinated shutdown also handles); false if it could not.</summary>
    public static bool Terminate(int pid)
    {
        try { return kill(pid, SigTerm) == 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    /// <summary>Clock ticks per second for /proc CPU times (100 almost everywhere).</summary>
    public static long ClockTicksPerSecond
    {
        get
        {
            try { long t = sysconf(ScClkTck); return t > 0 ? t : 100; }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return 100; }
        }
    }
}
