using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Messenger.Bench.Scenarios;

/// <summary>
/// The yardstick for downloads: the same file copied over a plain loopback TCP socket by a tiny
/// in-process server (<see cref="Socket.SendFileAsync(string, CancellationToken)"/>) into a file,
/// with the same number of clients at once. No protocol, no hashing, no actors.
/// </summary>
public static class LoopbackBaseline
{
    public sealed record Outcome(long Bytes, double WallSeconds, double[] PerClientMegabytesPerSecond)
    {
        public double MegabytesPerSecond => Bytes / Math.Max(WallSeconds, 1e-9) / 1e6;
    }

    public static async Task<Outcome> RunAsync(string file, int clients, string outputFolder, CancellationToken cancel)
    {
        long size = new FileInfo(file).Length;
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(BenchConfig.Host, 0));
        listener.Listen(clients);
        var endpoint = (IPEndPoint)listener.LocalEndPoint!;
        var serve = Task.Run(async () =>
        {
            var sends = new List<Task>();
            for (int i = 0; i < clients; i++)
            {
                var socket = await listener.AcceptAsync(cancel);
                sends.Add(Task.Run(async () =>
                {
                    using (socket)
                    {
                        await socket.SendFileAsync(file, cancel);
                        socket.Shutdown(SocketShutdown.Send);
                    }
                }, cancel));
            }
            await Task.WhenAll(sends);
        }, cancel);

        Directory.CreateDirectory(outputFolder);
        long start = Stopwatch.GetTimestamp();
        var receivers = Enumerable.Range(0, clients).Select(i => Task.Run(async () =>
        {
            long clientStart = Stopwatch.GetTimestamp();
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 1 << 20 };
            await socket.ConnectAsync(endpoint, cancel);
            var path = Path.Combine(outputFolder, $"baseline-{i}.bin");
            long received = 0;
            await using (var output = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, useAsync: true))
            {
                var buffer = new byte[256 * 1024];
                while (true)
                {
                    int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancel);
                    if (n == 0) break;
                    await output.WriteAsync(buffer.AsMemory(0, n), cancel);
                    received += n;
                }
            }
            File.Delete(path);
            if (received != size) throw new IOException($"baseline copy got {received} of {size} bytes");
            return (received, Stopwatch.GetElapsedTime(clientStart).TotalSeconds);
        }, cancel)).ToArray();
        var results = await Task.WhenAll(receivers);
        double wall = BenchConfig.SecondsSince(start);
        await serve;
        return new Outcome(results.Sum(r => r.received), wall, results.Select(r => r.received / r.Item2 / 1e6).ToArray());
    }
}
