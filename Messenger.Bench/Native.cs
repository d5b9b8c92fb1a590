using System.Runtime.InteropServices;

namespace Messenger.Bench;

/// <summary>The few libc calls the harness needs on Linux: signals, clock ticks (the descriptor limit is <see cref="Hosting.OpenFileLimit"/>).</summary>
internal static partial class Native
{
    private const int ScClkTck = 2;     // _SC_CLK_TCK
    public const int SigTerm = 15;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    [LibraryImport("libc")]
    private static partial long sysconf(int name);

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
