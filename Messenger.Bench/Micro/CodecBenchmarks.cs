using System.Text;
using BenchmarkDotNet.Attributes;
using Messenger.Protocol;
using Messenger.Rudp;

namespace Messenger.Bench.Micro;

/// <summary>The control channel's codec: what every chat line costs the server and a client.</summary>
[MemoryDiagnoser]
public class ChatCodecBenchmarks
{
    private readonly byte[] _sayLine = Encoding.UTF8.GetBytes("{\"type\":\"say\",\"text\":\"hello there, this is a typical chat line of medium length\"}");
    private readonly byte[] _msgLine = Encoding.UTF8.GetBytes("{\"type\":\"msg\",\"from\":\"alice\",\"text\":\"hello there, this is a typical chat line of medium length\",\"ts\":1764000000000}");
    private readonly SayCommand _say = new("hello there, this is a typical chat line of medium length");

    [Benchmark(Description = "ParseCommand(say)")]
    public object? ParseSay() => ChatCodec.ParseCommand(_sayLine).Value;

    [Benchmark(Description = "EncodeCommand(say)")]
    public byte[] EncodeSay() => ChatCodec.EncodeCommand(_say);

    [Benchmark(Description = "Encode(msg frame)")]
    public byte[] EncodeMsg() => new MessageFrame("alice", "hello there, this is a typical chat line of medium length", 1764000000000).Line;

    [Benchmark(Description = "ParseFrame(msg)")]
    public object? ParseMsg() => ChatCodec.ParseFrame(_msgLine).Value;
}

/// <summary>RUDP datagrams: the per-datagram cost of the reliable-UDP channel (CRC-32 included).</summary>
[MemoryDiagnoser]
public class RudpCodecBenchmarks
{
    private readonly byte[] _payload = new byte[RudpConstants.MaxPayload];
    private readonly byte[] _datagram = new byte[RudpConstants.MaxDatagram];
    private readonly byte[] _ack = new byte[RudpConstants.MaxAckSize];
    private readonly SackRange[] _ranges = new SackRange[RudpConstants.MaxSackRanges];
    private int _dataLength, _ackLength;

    [GlobalSetup]
    public void Setup()
    {
        new Random(1).NextBytes(_payload);
        _dataLength = RudpCodec.WriteData(_datagram, 7, 1234, 99, false, _payload);
        var sacks = Enumerable.Range(0, 8).Select(i => new SackRange((uint)(2000 + i * 10), (uint)(2005 + i * 10))).ToArray();
        _ackLength = RudpCodec.WriteAck(_ack, 7, 1990, 512, 99, 2075, false, sacks);
    }

    [Benchmark(Description = "WriteData(1452 B)")]
    public int WriteData() => RudpCodec.WriteData(_datagram, 7, 1234, 99, false, _payload);

    [Benchmark(Description = "TryRead+ReadData(1452 B)")]
    public int ReadData()
    {
        RudpCodec.TryRead(_datagram.AsSpan(0, _dataLength), out _, out _);
        return RudpCodec.ReadData(_datagram.AsSpan(0, _dataLength)).Payload.Length;
    }

    [Benchmark(Description = "TryRead+ReadAck(8 SACK)")]
    public uint ReadAck()
    {
        RudpCodec.TryRead(_ack.AsSpan(0, _ackLength), out _, out _);
        return RudpCodec.ReadAck(_ack.AsSpan(0, _ackLength), _ranges).CumulativeAck;
    }
}
