using System.IO.Pipelines;
using Akka.Actor;
using Messenger.Protocol;

namespace Messenger.Chat;

// ---- what the reader tells its ConnectionActor ----

/// <summary>One parsed line; <paramref name="Bytes"/> goes back to <see cref="InputCredit"/> once it has been acted on.</summary>
public sealed record Inbound(ClientCommand Command, int Bytes);
/// <summary>A line that did not parse; answered with the error (and closes the connection if the error says so).</summary>
public sealed record InboundError(ProtocolError Error, int Bytes);
/// <summary>The client went over the rate limit: the first line of a run of refused ones.</summary>
public sealed record InputRateLimited(double PerSecond, int Burst);
/// <summary>The client keeps sending far over the rate limit.</summary>
public sealed record InputFlooding(long Refused);
/// <summary>Reading is over: end of stream, a reset, or a line over the limit.</summary>
public sealed record InputEnded(string Why, bool LineTooLong = false);

/// <summary>
/// How many bytes of complete lines a connection has been handed but not yet acted on. The
/// reader stops reading while the budget is spent; the actor gives bytes back as it finishes
/// each line, so a client that sends faster than the server acts is slowed by its own socket
/// (the transport pauses too, at its own threshold) instead of growing the server's memory.
/// </summary>
public sealed class InputCredit(long limitBytes)
{
    private readonly object _lock = new();
    private long _inFlight;
    private TaskCompletionSource? _waiter;

    public long InFlight { get { lock (_lock) return _inFlight; } }

    public void Spend(int bytes)
    {
        lock (_lock) _inFlight += bytes;
    }

    public void Return(long bytes)
    {
        TaskCompletionSource? wake = null;
        lock (_lock)
        {
            _inFlight -= bytes;
            if (_inFlight < limitBytes && _waiter is not null)
            {
                wake = _waiter;
                _waiter = null;
            }
        }
        wake?.TrySetResult();
    }

    /// <summary>Completes when there is room to read more.</summary>
    public Task WhenAvailable()
    {
        lock (_lock)
        {
            if (_inFlight < limitBytes) return Task.CompletedTask;
            _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _waiter.Task;
        }
    }
}

/// <summary>
/// The edge of a chat connection: reads its pipe, cuts lines (<see cref="LineFramer"/>), applies
/// the rate limit (<see cref="FloodGuard"/>) and parses each line (<see cref="ChatCodec"/>), then
/// tells the <see cref="ConnectionActor"/> typed messages. Only complete lines count as input:
/// a client trickling half a line never resets anything. Runs as one async loop per connection
/// that holds no buffer while the client is idle.
/// </summary>
public static class ChatInput
{
    public static async Task RunAsync(PipeReader input, IActorRef connection, InputCredit credit, RateLimitSettings? rateLimit, CancellationToken closing)
    {
        var framer = new LineFramer(ProtocolLimits.MaxLineBytes);
        var guard = rateLimit?.NewGuard(MonotonicClock.Now.Ticks);
        bool stop = false;

        void OnLine(byte[] line)
        {
            if (stop) return;
            switch (guard?.Check(MonotonicClock.Now.Ticks) ?? FloodVerdict.Accept)
            {
                case FloodVerdict.RefuseAndTell:
                    connection.Tell(new InputRateLimited(rateLimit!.PerSecond, rateLimit.Burst));
                    return;
                case FloodVerdict.RefuseSilently:
                    return;
                case FloodVerdict.Close:
                    connection.Tell(new InputFlooding(guard!.Refused));
                    stop = true;
                    return;
            }
            var parsed = ChatCodec.ParseCommand(line);
            credit.Spend(line.Length);
            connection.Tell(parsed.Error is { } error ? new InboundError(error, line.Length) : new Inbound(parsed.Value!, line.Length));
            if (parsed.Error is { ClosesConnection: true }) stop = true;
        }

        InputEnded? ended = null;
        try
        {
            while (!stop)
            {
                await credit.WhenAvailable().WaitAsync(closing);
                // No token here: an idle connection would hold a registration on it (about 150
                // bytes). Closing cancels the pending read itself (ClientConnection.CloseAsync).
                var result = await input.ReadAsync();
                if (result.IsCanceled) break;
                var buffer = result.Buffer;
                foreach (var segment in buffer)
                {
                    if (framer.Feed(segment.Span, OnLine)) continue;
                    ended = new InputEnded("line too long", LineTooLong: true);
                    stop = true;
                    break;
                }
                input.AdvanceTo(buffer.End);
                if (result.IsCompleted) break;
            }
        }
        catch (OperationCanceledException) when (closing.IsCancellationRequested)
        {
            return; // the connection is closing: its owner knows
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException
                                      or System.Security.Authentication.AuthenticationException)
        {
            ended = new InputEnded($"the connection broke ({e.GetBaseException().Message})");
        }
        if (closing.IsCancellationRequested) return;
        if (!stop || ended?.LineTooLong == true) connection.Tell(ended ?? new InputEnded("the client closed the connection"));
    }
}
