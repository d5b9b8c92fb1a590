using System.IO.Pipelines;
using Akka.Actor;
using Messenger.Protocol;

namespace Messenger.Chat;

// ---- what the reader tells its ConnectionActor ----

/// <summary>One parsed line; <paramref name="Bytes"/> go back to <see cref="ChatInput.Return"/> once it has been acted on.</summary>
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
/// The edge of a chat connection: reads its pipe, cuts lines (<see cref="LineFramer"/>), applies
/// the rate limit (<see cref="FloodGuard"/>) and parses each line (<see cref="ChatCodec"/>), then
/// tells the <see cref="ConnectionActor"/> typed messages. Only complete lines count as input:
/// a client trickling half a line never resets anything. Runs as one async loop per connection
/// (<see cref="RunAsync"/>) that holds no buffer while the client is idle.
/// <para>Input is bounded by credit: the bytes of the lines handed to the actor and not yet given
/// back (<see cref="Return"/>, once a line has been acted on). The loop stops reading while
/// <c>creditBytes</c> are out, so a client that sends faster than the server acts is slowed by its
/// own socket (the transport pauses too, at its own threshold) instead of growing the server's
/// memory.</para>
/// <para>The loop's state, its line handler and the credit are one object: as a closure, a credit
/// and its lock they cost about 130 bytes more on each of ten thousand idle connections.</para>
/// </summary>
public sealed class ChatInput
{
    private readonly IActorRef _connection;
    private readonly long _creditBytes;
    private readonly RateLimitSettings? _rateLimit;
    private readonly FloodGuard? _guard;
    private readonly LineFramer _framer = new(ProtocolLimits.MaxLineBytes);
    private long _inFlight;
    private TaskCompletionSource? _waiter;
    private bool _stop;

    public ChatInput(IActorRef connection, long creditBytes, RateLimitSettings? rateLimit)
    {
        _connection = connection;
        _creditBytes = creditBytes;
        _rateLimit = rateLimit;
        _guard = rateLimit?.NewGuard(MonotonicClock.Now.Ticks);
    }

    /// <summary>Gives back the bytes of lines that have been acted on (from the actor's thread).</summary>
    public void Return(long bytes)
    {
        if (Interlocked.Add(ref _inFlight, -bytes) < _creditBytes) Interlocked.Exchange(ref _waiter, null)?.TrySetResult();
    }

    /// <summary>Completes when there is credit to read more.</summary>
    private Task WhenCreditAvailable()
    {
        if (Volatile.Read(ref _inFlight) < _creditBytes) return Task.CompletedTask;
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _waiter, waiter);
        // Given back since the first look, before the waiter was there to be woken: wake it here.
        if (Volatile.Read(ref _inFlight) < _creditBytes) Interlocked.Exchange(ref _waiter, null)?.TrySetResult();
        return waiter.Task;
    }

    public async Task RunAsync(PipeReader input, CancellationToken closing)
    {
        InputEnded? ended = null;
        try
        {
            while (!_stop)
            {
                await WhenCreditAvailable().WaitAsync(closing);
                // No token here: an idle connection would hold a registration on it (about 150
                // bytes). Closing cancels the pending read itself (ClientConnection.CloseAsync).
                var result = await input.ReadAsync();
                if (result.IsCanceled) break;
                var buffer = result.Buffer;
                foreach (var segment in buffer)
                {
                    if (_framer.Feed(segment.Span, OnLine)) continue;
                    ended = new InputEnded("line too long", LineTooLong: true);
                    _stop = true;
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
        if (!_stop || ended?.LineTooLong == true) _connection.Tell(ended ?? new InputEnded("the client closed the connection"));
    }

    private void OnLine(byte[] line)
    {
        if (_stop) return;
        switch (_guard?.Check(MonotonicClock.Now.Ticks) ?? FloodVerdict.Accept)
        {
            case FloodVerdict.RefuseAndTell:
                _connection.Tell(new InputRateLimited(_rateLimit!.Bucket.PerSecond, _rateLimit.Bucket.Burst));
                return;
            case FloodVerdict.RefuseSilently:
                return;
            case FloodVerdict.Close:
                _connection.Tell(new InputFlooding(_guard!.Refused));
                _stop = true;
                return;
        }
        var parsed = ChatCodec.ParseCommand(line);
        Interlocked.Add(ref _inFlight, line.Length);
        _connection.Tell(parsed.Error is { } error ? new InboundError(error, line.Length) : new Inbound(parsed.Value!, line.Length));
        if (parsed.Error is { ClosesConnection: true }) _stop = true;
    }
}
