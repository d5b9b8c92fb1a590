using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Akka.Actor;
using Messenger.Client;
using Messenger.Protocol;
using Messenger.Rudp;

namespace Messenger.TerminalClient;

/// <summary>The headless commands: no screen, a clear exit code, errors on stderr.</summary>
public static class Headless
{
    /// <summary>How long logging in, or waiting for an answer from the control channel, may take.</summary>
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(30);

    public static async Task<int> SayAsync(ChatSessionSettings settings, string host, int port, string user, string text,
        TextWriter stderr, CancellationToken cancel, ClientTls? tls = null, string? room = null, StartupTimes? times = null, Password? password = null)
    {
        if (!Usernames.IsValid(user)) return Fail(stderr, $"\"{user}\" is not a valid username (1-32 of A-Z a-z 0-9 _ - .)", Cli.BadUsage);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(ReplyTimeout);
        try
        {
            await using var session = await ControlChannel.ConnectAsync(host, port, settings, tls, timeout.Token);
            times?.Mark("connect");
            await session.SendAsync(new HelloCommand(user, password), timeout.Token);
            var welcome = await ExpectWelcomeAsync(session, host, port, timeout.Token);
            times?.Mark("login");
            if (room is not null && room != RoomNames.Lobby)
            {
                await session.SendAsync(new JoinCommand(room), timeout.Token);
                await session.ExpectAsync<JoinedFrame>(j => j.Room == room && j.Users is not null, timeout.Token);
                times?.Mark("join");
            }
            await session.SendAsync(new SayCommand(text, room), timeout.Token);
            // Said only once the echo proves the message was taken (a refused one was not sent).
            var sent = times?.Describe("before the message was sent");
            await session.ExpectAsync<MessageFrame>(m => Usernames.Comparer.Equals(m.From, welcome.User) && m.Text == text
                && (room is null || m.Room == room), timeout.Token);
            if (sent is not null) stderr.WriteLine(sent);
            await session.QuitAsync(timeout.Token);
            return 0;
        }
        catch (Exception e) when (IsExpected(e))
        {
            return Fail(stderr, Describe(e, cancel));
        }
    }

    /// <param name="system">
    /// The actor system a reliable-UDP download runs in, still starting while this logs in and asks for the ticket;
    /// a TCP download needs none.
    /// </param>
    /// <param name="rudp">A reliable-UDP download's settings (by default its actor system's <c>messenger.rudp</c>).</param>
    public static async Task<int> DownloadAsync(ChatSessionSettings settings, Task<ActorSystem>? system, RudpSettings? rudp, string host, int port, string file, TransferVia via,
        string outputFolder, TextWriter stdout, TextWriter stderr, CancellationToken cancel, ClientTls? tls = null, StartupTimes? times = null)
    {
        var user = string.Create(CultureInfo.InvariantCulture, $"dl-{Random.Shared.Next(0x1000000):x6}");
        try
        {
            TicketFrame ticket;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter(ReplyTimeout);
            await using var session = await ControlChannel.ConnectAsync(host, port, settings, tls, timeout.Token);
            times?.Mark("connect");
            await session.SendAsync(new HelloCommand(user), timeout.Token);
            await ExpectWelcomeAsync(session, host, port, timeout.Token);
            times?.Mark("login");
            await session.SendAsync(new GetCommand(file, via), timeout.Token);
            ticket = await session.ExpectAsync<TicketFrame>(t => t.File == file, timeout.Token);
            times?.Mark("ticket");
            ActorSystem? actors = null;
            if (ticket.Via == TransferVia.Udp)
            {
                actors = await (system ?? throw new ArgumentNullException(nameof(system), "a reliable-UDP download runs in an actor system"));
                times?.Mark("actor system");
            }

            var progress = new StderrProgress(stderr);
            long downloadStart = Stopwatch.GetTimestamp();
            var result = await Download.RunAsync(actors, host, session.Remote.Address, ticket, outputFolder, progress, cancel, tls, rudp);
            await session.SendAsync(ByeCommand.Instance, cancel);

            stdout.WriteLine(Summary(result));
            if (times is not null && result.FirstByte is { } firstByte)
            {
                times.Mark("first data byte", downloadStart + (long)(firstByte.TotalSeconds * Stopwatch.Frequency));
                stderr.WriteLine(times.Describe("before the transfer started"));
            }
            if (result.Stats is { } stats) stderr.WriteLine($"receiver: {stats}");
            if (!result.Verified) return Fail(stderr, $"{file}: {result.Error ?? "SHA-256 mismatch"}; the file was not kept");
            return 0;
        }
        catch (Exception e) when (IsExpected(e))
        {
            return Fail(stderr, Describe(e, cancel));
        }
    }

    /// <summary>The welcome, or a refusal said for a person: a peer that is no chat server (the file port, say), a name that needs <c>--password</c>.</summary>
    private static async Task<WelcomeFrame> ExpectWelcomeAsync(ControlChannel session, string host, int port, CancellationToken cancel)
    {
        try
        {
            return await session.ExpectAsync<WelcomeFrame>(cancel: cancel);
        }
        catch (ServerErrorException e) when (ChatSessionActor.IsNotAChatServer(e.Code))
        {
            throw new SessionEndedException(ChatSessionActor.NotAChatServer($"{host}:{port}", e.Message));
        }
        catch (ServerErrorException e) when (e.Code == ErrorCodes.NameRegistered)
        {
            throw new SessionEndedException($"the server refused: the name is registered: give its password with --password ({e.Code})");
        }
    }

    /// <summary>The one summary line of <c>download</c>.</summary>
    public static string Summary(DownloadResult r) => string.Create(CultureInfo.InvariantCulture,
        $"file={r.File} bytes={r.Bytes} seconds={r.Elapsed.TotalSeconds:0.000} MB/s={r.MegabytesPerSecond:0.00} datagrams={r.Datagrams} retransmits={r.Retransmits} sha256={(r.Verified ? "ok" : "bad")}");

    private static bool IsExpected(Exception e) => e is SessionEndedException or ServerErrorException or DownloadFailedException
        or SocketException or IOException or NotSupportedException or OperationCanceledException or UnauthorizedAccessException;

    private static string Describe(Exception e, CancellationToken cancel) => e switch
    {
        OperationCanceledException when cancel.IsCancellationRequested => "cancelled",
        OperationCanceledException => $"the server did not answer within {ReplyTimeout.TotalSeconds:0} s",
        ServerErrorException s => $"the server refused: {s.Message}",
        _ => e.Message,
    };

    private static int Fail(TextWriter stderr, string message, int code = 1)
    {
        stderr.WriteLine($"error: {message}");
        return code;
    }

    /// <summary>Progress lines on stderr, at most two a second and the last one always.</summary>
    private sealed class StderrProgress(TextWriter stderr) : IProgress<DownloadProgress>
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private TimeSpan _last = TimeSpan.FromSeconds(-1);
        private bool _doneShown;

        public void Report(DownloadProgress p)
        {
            bool done = p.BytesDone >= p.TotalBytes;
            if (done ? _doneShown : _clock.Elapsed - _last < TimeSpan.FromMilliseconds(500)) return;
            _doneShown |= done;
            _last = _clock.Elapsed;
            var line = string.Create(CultureInfo.InvariantCulture,
                $"{p.File}: {p.Fraction * 100,5:0.0}% {p.BytesDone}/{p.TotalBytes} bytes {p.BytesPerSecond / 1e6:0.00} MB/s");
            if (p.Eta is { } eta && !done) line += string.Create(CultureInfo.InvariantCulture, $" ETA {eta.TotalSeconds:0}s");
            if (p.Retransmits > 0 || p.Window > 0) line += $" retransmits {p.Retransmits} window {p.Window}";
            lock (stderr) stderr.WriteLine(line);
        }
    }
}
