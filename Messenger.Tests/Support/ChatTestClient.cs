using System.Net;
using System.Net.Sockets;
using System.Text;
using Messenger.Protocol;

namespace Messenger.Tests.Support;

/// <summary>
/// A raw-socket client for end-to-end tests: it speaks the wire protocol by hand (bytes and
/// lines), so the tests check what a real client sees on 127.0.0.1.
/// </summary>
public sealed class ChatTestClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;

    private ChatTestClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _reader = new StreamReader(_stream, new UTF8Encoding(false), false, 65536);
    }

    public Socket Socket => _tcp.Client;

    /// <summary>Connects, from the loopback address <paramref name="from"/> when given.</summary>
    public static async Task<ChatTestClient> ConnectAsync(IPEndPoint endpoint, IPAddress? from = null)
    {
        var tcp = from is null ? new TcpClient() : new TcpClient(new IPEndPoint(from, 0));
        await tcp.ConnectAsync(endpoint);
        return new ChatTestClient(tcp);
    }

    /// <summary>Connects and logs in, checking the welcome.</summary>
    public static async Task<ChatTestClient> LoginAsync(IPEndPoint endpoint, string user, IPAddress? from = null)
    {
        var client = await ConnectAsync(endpoint, from);
        await client.SendAsync(new HelloCommand(user));
        var welcome = await client.ExpectAsync<WelcomeFrame>();
        Assert.Equal(user, welcome.User);
        return client;
    }

    public Task SendAsync(ClientCommand command) => SendRawAsync(ChatCodec.EncodeCommand(command));

    public Task SendLineAsync(string json) => SendRawAsync(Encoding.UTF8.GetBytes(json + "\n"));

    public async Task SendRawAsync(byte[] bytes) => await _stream.WriteAsync(bytes);

    /// <summary>The next line from the server, or null when the server closed the connection.</summary>
    public async Task<string?> ReadLineAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            return await _reader.ReadLineAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no line from the server within {(timeout ?? DefaultTimeout).TotalSeconds} s");
        }
        catch (IOException)
        {
            return null; // reset by the server
        }
    }

    public async Task<ServerFrame> ReadFrameAsync(TimeSpan? timeout = null)
    {
        var line = await ReadLineAsync(timeout) ?? throw new EndOfStreamException("the server closed the connection");
        var parsed = ChatCodec.ParseFrame(Encoding.UTF8.GetBytes(line));
        Assert.True(parsed.Error is null, $"unparseable frame {line}: {parsed.Error?.Message}");
        return parsed.Value!;
    }

    /// <summary>The next frame, which must be a <typeparamref name="T"/>.</summary>
    public async Task<T> ExpectAsync<T>(TimeSpan? timeout = null) where T : ServerFrame
    {
        var frame = await ReadFrameAsync(timeout);
        return Assert.IsType<T>(frame);
    }

    /// <summary>The next frame that is not a joined/left notice, which must be a <typeparamref name="T"/>.</summary>
    public async Task<T> ExpectIgnoringPresenceAsync<T>() where T : ServerFrame
    {
        while (true)
        {
            var frame = await ReadFrameAsync();
            if (frame is JoinedFrame or LeftFrame) continue;
            return Assert.IsType<T>(frame);
        }
    }

    /// <summary>The next frame that is a <typeparamref name="T"/>, skipping any other; an error frame fails.</summary>
    public async Task<T> ExpectIgnoringOtherAsync<T>(TimeSpan? timeout = null) where T : ServerFrame
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            var frame = await ReadFrameAsync(TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, (deadline - DateTime.UtcNow).Ticks)));
            if (frame is T wanted) return wanted;
            if (frame is ErrorFrame error) throw new InvalidOperationException($"error {error.Code}: {error.Message}");
        }
    }

    public async Task<ErrorFrame> ExpectErrorAsync(string code)
    {
        var error = await ExpectAsync<ErrorFrame>();
        Assert.Equal(code, error.Code);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        return error;
    }

    /// <summary>Reads until the server closes the connection; returns the frames read meanwhile.</summary>
    public async Task<List<string>> ReadUntilClosedAsync(TimeSpan? timeout = null)
    {
        var lines = new List<string>();
        while (await ReadLineAsync(timeout) is { } line) lines.Add(line);
        return lines;
    }

    /// <summary>Closes the socket without saying bye, as a crashed client would.</summary>
    public void Vanish()
    {
        _tcp.Client.LingerState = new LingerOption(true, 0); // reset, not FIN
        _tcp.Close();
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
