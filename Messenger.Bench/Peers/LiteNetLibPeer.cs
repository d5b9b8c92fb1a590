using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using LiteNetLib;

namespace Messenger.Bench.Peers;

/// <summary>
/// LiteNetLib (ReliableOrdered) moving one file over loopback, as a yardstick for our reliable UDP
/// (bench/udp-peers.sh runs it beside ours, a fresh process per download). <c>litenetlib-serve</c>
/// sends the file to every client that connects, in 1,400-byte messages (under LiteNetLib's MTU,
/// so nothing is fragmented); <c>litenetlib-get</c> connects, receives and hashes the bytes and
/// prints one line like our client's: <c>bytes=N seconds=S MB/s=M sha256=HEX</c>. Both are bounded
/// by a deadline. Tuned as far as its API allows: its logic thread ticks every millisecond (the
/// default 15 ms caps a 64-packet reliable window at ~6 MB/s) and calls our handlers directly.
/// </summary>
public static class LiteNetLibPeer
{
    private const string Key = "messenger-bench";
    private const int ChunkBytes = 1400;

    /// <summary>Serves <paramref name="file"/> on 127.0.0.1 (a free port, printed as <c>listening PORT</c>) until the deadline.</summary>
    public static int Serve(string file, TimeSpan deadline, TextWriter stdout)
    {
        var content = File.ReadAllBytes(file);
        var listener = new EventBasedNetListener();
        var manager = new NetManager(listener) { UpdateTime = 1, UnsyncedEvents = true };
        listener.ConnectionRequestEvent += request => request.AcceptIfKey(Key);
        listener.PeerConnectedEvent += peer =>
        {
            for (int offset = 0; offset < content.Length; offset += ChunkBytes)
                peer.Send(content, offset, Math.Min(ChunkBytes, content.Length - offset), DeliveryMethod.ReliableOrdered);
        };
        if (!manager.Start(IPAddress.Loopback, IPAddress.IPv6Loopback, 0)) return 1;
        stdout.WriteLine($"listening {manager.LocalPort}");
        stdout.Flush();
        Thread.Sleep(deadline);
        manager.Stop();
        return 0;
    }

    /// <summary>Downloads <paramref name="size"/> bytes from the server on <paramref name="port"/>; 0 when all arrived in time.</summary>
    public static int Get(int port, long size, TimeSpan deadline, TextWriter stdout)
    {
        var listener = new EventBasedNetListener();
        var manager = new NetManager(listener) { UpdateTime = 1, UnsyncedEvents = true };
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long received = 0;
        Stopwatch? clock = null;
        listener.NetworkReceiveEvent += (_, reader, _, _) =>
        {
            clock ??= Stopwatch.StartNew();
            var bytes = reader.GetRemainingBytesSpan();
            hash.AppendData(bytes);
            Interlocked.Add(ref received, bytes.Length);
            reader.Recycle();
        };
        manager.Start();
        manager.Connect("127.0.0.1", port, Key);
        var limit = Stopwatch.StartNew();
        while (Interlocked.Read(ref received) < size && limit.Elapsed < deadline) Thread.Sleep(1);
        manager.Stop();
        double seconds = clock?.Elapsed.TotalSeconds ?? 0;
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"bytes={received} seconds={seconds:0.000} MB/s={received / Math.Max(seconds, 1e-9) / 1e6:0.00} sha256={Convert.ToHexStringLower(hash.GetHashAndReset())}"));
        return received == size ? 0 : 1;
    }
}
