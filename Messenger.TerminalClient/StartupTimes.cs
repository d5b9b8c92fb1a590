using System.Diagnostics;
using System.Globalization;

namespace Messenger.TerminalClient;

/// <summary>
/// Where a headless command's time went before its real work started (the first data byte of a
/// download, the message of <c>say</c>): each phase is marked as it ends and printed as one line.
/// When the command runs as its own process, the first phase (<c>runtime</c>) is launch until the
/// command's action starts: the runtime's start-up, <c>Main</c> and reading the command line. The
/// process start time is read only when the line is printed.
/// </summary>
public sealed class StartupTimes(bool ownProcess)
{
    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly List<(string Phase, long At)> _marks = [];

    /// <summary>The phase called <paramref name="phase"/> ended now (or at <paramref name="at"/>, a <see cref="Stopwatch"/> timestamp).</summary>
    public void Mark(string phase, long? at = null) => _marks.Add((phase, at ?? Stopwatch.GetTimestamp()));

    /// <summary>"before the transfer: 231 ms (runtime 70, actor system 80, ...)", from launch when this is the command's own process.</summary>
    public string Describe(string what)
    {
        var phases = new List<string>();
        double total = 0;
        if (ownProcess)
        {
            // Process.StartTime has the kernel's clock-tick resolution (10 ms).
            double runtime = Math.Max(0, (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds - Stopwatch.GetElapsedTime(_start).TotalMilliseconds);
            phases.Add(Format("runtime", runtime));
            total += runtime;
        }
        long previous = _start;
        foreach (var (phase, at) in _marks)
        {
            double ms = Stopwatch.GetElapsedTime(previous, at).TotalMilliseconds;
            phases.Add(Format(phase, ms));
            total += ms;
            previous = at;
        }
        return string.Create(CultureInfo.InvariantCulture, $"{what}: {total:0} ms{(ownProcess ? " from launch" : "")} ({string.Join(", ", phases)})");
    }

    private static string Format(string phase, double ms) => string.Create(CultureInfo.InvariantCulture, $"{phase} {ms:0}");
}
