using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;
using Terminal.Gui.App;
using Terminal.Gui.Drivers;

namespace Messenger.TerminalClient;

/// <summary>
/// Makes an idle client cost next to nothing. Terminal.Gui 2.5 polls: its input thread checks
/// stdin and sleeps 20 ms (<c>Task.Delay(20).Wait()</c>), and the main loop runs 25 times a second
/// whether or not anything happened. Each of those 75 wake-ups a second goes through a timer and a
/// thread-pool thread that spins before it sleeps again: about 8–13 % of a core with the client
/// doing nothing. Here the input thread blocks in <c>poll()</c> until a key arrives, and the main
/// loop, at the start of each iteration, waits until there is something to do: a key, a post from
/// another thread (<see cref="Wake"/>), a window resize (SIGWINCH), or at the latest
/// <see cref="IdleTick"/> for Terminal.Gui's own timers. After any wake it runs at full speed for
/// <see cref="BusyFor"/>, so escape sequences, layout passes and redraws finish as before.
/// On Windows, or if Terminal.Gui's internals are not as expected, the stock loop runs.
/// </summary>
public sealed class QuietMainLoop : IDisposable
{
    public static readonly TimeSpan IdleTick = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan BusyFor = TimeSpan.FromMilliseconds(500);

    private readonly ManualResetEventSlim _signal = new(false, spinCount: 0);
    private readonly PosixSignalRegistration? _resize;
    private long _busyUntil;
    private bool _enabled;

    private QuietMainLoop()
    {
        if (!OperatingSystem.IsWindows()) _resize = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, _ => Wake());
        Wake();
    }

    /// <summary>A Terminal.Gui application whose input and main loop sleep while idle (the stock one on Windows).</summary>
    public static (IApplication App, QuietMainLoop Loop) CreateApplication()
    {
        var loop = new QuietMainLoop();
        var ctor = OperatingSystem.IsWindows() ? null
            : Type.GetType("Terminal.Gui.App.ApplicationImpl, Terminal.Gui")
                ?.GetConstructor(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, [typeof(IComponentFactory)]);
        if (ctor?.Invoke([new Factory(loop)]) is not IApplication app) return (Application.Create(), loop);
        loop._enabled = true;
        app.Iteration += (_, _) => loop.WaitForWork();
        return (app, loop);
    }

    /// <summary>Something happened that the UI thread must see: run the main loop now.</summary>
    public void Wake()
    {
        Volatile.Write(ref _busyUntil, Environment.TickCount64 + (long)BusyFor.TotalMilliseconds);
        _signal.Set();
    }

    private void WaitForWork()
    {
        if (!_enabled || Environment.TickCount64 < Volatile.Read(ref _busyUntil)) return;
        _signal.Wait(IdleTick);
        _signal.Reset();
    }

    public void Dispose()
    {
        _resize?.Dispose();
        _signal.Dispose();
    }

    private sealed class Factory(QuietMainLoop loop) : AnsiComponentFactory
    {
        public override IInput<char> CreateInput() => new BlockingInput(loop);
    }

    /// <summary>The stock <see cref="AnsiInput"/>, read only when <c>poll()</c> says stdin has bytes.</summary>
    private sealed class BlockingInput(QuietMainLoop loop) : IInput<char>
    {
        private const short PollIn = 1;
        private const int ShutdownCheckMs = 250;

        private readonly AnsiInput _ansi = new();
        private ConcurrentQueue<char>? _queue;

        public CancellationTokenSource? ExternalCancellationTokenSource { get; set; }

        public void Initialize(ConcurrentQueue<char> inputQueue)
        {
            _queue = inputQueue;
            _ansi.Initialize(inputQueue);
        }

        public void Run(CancellationToken runCancellationToken)
        {
            var queue = _queue ?? throw new InvalidOperationException("the input runs only after Initialize");
            while (!runCancellationToken.IsCancellationRequested && ExternalCancellationTokenSource?.IsCancellationRequested != true)
            {
                bool read = false;
                while (_ansi.Peek())
                {
                    foreach (var c in _ansi.Read()) queue.Enqueue(c);
                    read = true;
                }
                if (read) loop.Wake();
                var fd = new PollFd { Fd = 0, Events = PollIn };
                _ = poll(ref fd, 1, ShutdownCheckMs);
            }
        }

        public void Dispose() => _ansi.Dispose();

        [StructLayout(LayoutKind.Sequential)]
        private struct PollFd
        {
            public int Fd;
            public short Events;
            public short REvents;
        }

        [DllImport("libc", SetLastError = true)]
        private static extern int poll(ref PollFd fds, uint count, int timeoutMs);
    }
}
