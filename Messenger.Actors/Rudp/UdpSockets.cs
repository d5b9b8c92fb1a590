using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Messenger.Rudp;

/// <summary>
/// Opening, configuring and reading the UDP sockets both sides use. On Linux the fast paths are
/// UDP segmentation offload (GSO: one <c>sendto</c> puts a whole <see cref="DatagramBurst"/> on
/// the wire), generic receive offload (GRO: one coalesced run of a peer's burst arrives as one
/// piece) and <c>recvmmsg</c> (one system call returns everything waiting); elsewhere, or when
/// the kernel refuses them, plain <c>sendto</c>/<c>recvfrom</c> per datagram do the same job.
/// </summary>
public static class UdpSockets
{
    /// <summary>
    /// Received batches one socket has at most (taken and given back; 8 MiB with GRO's 512 KiB
    /// batches). When all are waiting in the receiver's mailbox, the receive loop waits for one to
    /// come back and the datagrams wait in the kernel's socket buffer, which holds a whole window
    /// (see max-window). Allocating more instead cost a warm client 217 fresh 512 KiB buffers for
    /// one 67.7 MB download, 1,638 for eight at once, and a full collection every few of them:
    /// a busy receiver's batches are many and sparse.
    /// </summary>
    internal const int MaxBatches = 16;

    /// <summary>How long the receive loop waits for a batch before it looks whether its socket was closed.</summary>
    internal static readonly TimeSpan BatchWaitSlice = TimeSpan.FromMilliseconds(100);

    private const int SolUdp = 17, UdpSegment = 103, UdpGro = 104;

    /// <summary>A UDP socket bound to <paramref name="endpoint"/> with large kernel buffers (bursts of a window must not overflow them).</summary>
    public static Socket Bind(IPEndPoint endpoint, int bufferBytes)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.ReceiveBufferSize = bufferBytes;
            socket.SendBufferSize = bufferBytes;
            socket.Bind(endpoint);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Makes every send longer than <paramref name="segmentSize"/> leave as datagrams of that size
    /// (GSO; 0 turns it off). False when this platform or kernel cannot: then send one by one.
    /// </summary>
    public static bool TrySetSegmentation(Socket socket, int segmentSize) =>
        LinuxBatchReceiver.IsSupported && TrySetOption(socket, UdpSegment, segmentSize);

    /// <summary>Opens the loop that reads <paramref name="socket"/>; <paramref name="coalesce"/> asks the kernel for GRO (a receiver of bursts wants it, a receiver of acks does not).</summary>
    internal static BatchReceiver OpenReceiver(Socket socket, bool coalesce)
    {
        if (!LinuxBatchReceiver.IsSupported) return new PortableBatchReceiver(socket);
        bool gro = coalesce && TrySetOption(socket, UdpGro, 1);
        return new LinuxBatchReceiver(socket, gro);
    }

    private static bool TrySetOption(Socket socket, int option, int value)
    {
        try
        {
            socket.SetRawSocketOption(SolUdp, option, BitConverter.GetBytes(value));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The sender of a datagram as an <see cref="IPEndPoint"/>, reusing the last one when it is the same (no allocation per datagram).</summary>
    internal sealed class SenderCache
    {
        private readonly byte[] _last = new byte[28];
        private int _lastLength;
        private IPEndPoint? _lastEndPoint;

        /// <summary>The endpoint last remembered for <paramref name="sockaddr"/>, if it was the last one seen.</summary>
        public bool TryGet(ReadOnlySpan<byte> sockaddr, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPEndPoint? endpoint)
        {
            endpoint = _lastEndPoint is not null && sockaddr.SequenceEqual(_last.AsSpan(0, _lastLength)) ? _lastEndPoint : null;
            return endpoint is not null;
        }

        public IPEndPoint Remember(ReadOnlySpan<byte> sockaddr, IPEndPoint endpoint)
        {
            _lastLength = Math.Min(sockaddr.Length, _last.Length);
            sockaddr[.._lastLength].CopyTo(_last);
            return _lastEndPoint = endpoint;
        }
    }
}

/// <summary>Blocks for the next datagrams of one socket and returns them as a batch; returns null once the socket is shut or closed.</summary>
internal abstract class BatchReceiver(Socket socket)
{
    private readonly BatchPool _pool = new();

    protected Socket Socket { get; } = socket;

    /// <summary>The next datagrams (at least one), or null when the socket was shut down or closed.</summary>
    public abstract DatagramsReceived? Receive();

    /// <summary>Frees what the loop holds (called by the loop's own thread once it ends).</summary>
    public virtual void Close() { }

    /// <summary>A batch to read into, or null when the socket was closed while every batch was out.</summary>
    protected DatagramsReceived? Rent(int bufferBytes) => _pool.Rent(bufferBytes, () => Socket.SafeHandle.IsClosed);
}

/// <summary>
/// The batches of one socket, reused: at most <see cref="UdpSockets.MaxBatches"/>; when all are
/// out, <see cref="Rent"/> waits for one to be given back (<see cref="DatagramsReceived.Release"/>).
/// </summary>
internal sealed class BatchPool
{
    private readonly ConcurrentQueue<DatagramsReceived> _free = new();
    private readonly ManualResetEventSlim _returned = new();
    private int _created;

    /// <summary>A free batch, a new one while fewer than the most exist, else the next one given back; null once <paramref name="closed"/>.</summary>
    public DatagramsReceived? Rent(int bufferBytes, Func<bool> closed)
    {
        while (true)
        {
            if (_free.TryDequeue(out var batch)) return batch;
            if (_created < UdpSockets.MaxBatches)
            {
                _created++;
                return new DatagramsReceived(bufferBytes, this);
            }
            _returned.Reset();
            if (_free.TryDequeue(out batch)) return batch; // given back before the reset
            if (!_returned.Wait(UdpSockets.BatchWaitSlice) && closed()) return null;
        }
    }

    public void Return(DatagramsReceived batch)
    {
        _free.Enqueue(batch);
        _returned.Set();
    }
}

/// <summary>Anywhere: <c>recvfrom</c> for the first datagram, then whatever else is already waiting (up to a batch).</summary>
internal sealed class PortableBatchReceiver(Socket socket) : BatchReceiver(socket)
{
    private const int BatchBytes = 64 * 2048;
    private readonly SocketAddress _address = new(socket.AddressFamily);
    private readonly UdpSockets.SenderCache _senders = new();
    private readonly IPEndPoint _template = new(socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);

    public override DatagramsReceived? Receive()
    {
        if (Rent(BatchBytes) is not { } batch) return null;
        int offset = 0;
        try
        {
            do
            {
                int n = Socket.ReceiveFrom(batch.Buffer.AsSpan(offset, Math.Min(RudpConstants.MaxDatagram + 1, BatchBytes - offset)), SocketFlags.None, _address);
                var raw = _address.Buffer.Span[.._address.Size];
                var from = _senders.TryGet(raw, out var known) ? known : _senders.Remember(raw, (IPEndPoint)_template.Create(_address));
                batch.Add(offset, n, from);
                offset += n;
            } while (BatchBytes - offset > RudpConstants.MaxDatagram && Socket.Available > 0); // blocks only for the first of a batch
            return batch;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize)
        {
            // An ICMP error for an earlier send (Windows reports these), or an oversized datagram: skip it.
            return batch;
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            return null; // the socket was closed: the actor stopped
        }
    }
}

/// <summary>
/// Linux (64-bit): one <c>recvmmsg</c> returns every datagram waiting (up to a batch) straight into
/// the batch's pinned buffer; with GRO, each coalesced run is split at the segment size the kernel
/// reports. Shutting the socket down for receiving wakes the loop (and it then ends).
/// </summary>
internal sealed unsafe partial class LinuxBatchReceiver : BatchReceiver
{
    public static bool IsSupported => OperatingSystem.IsLinux() && Environment.Is64BitProcess;

    private const int MsgWaitForOne = 0x10000, MsgTrunc = 0x20, PollIn = 0x1;
    private const int EIntr = 4, EAgain = 11, EConnRefused = 111;
    private const int SolUdp = 17, UdpGro = 104;
    private const int AddressBytes = 32, ControlBytes = 32;

    private readonly Socket _socket;
    private readonly int _slots, _slotBytes;
    private readonly MMsgHdr* _headers;
    private readonly IoVec* _iov;
    private readonly byte* _addresses, _controls;
    private readonly UdpSockets.SenderCache _senders = new();
    private bool _closed;

    public LinuxBatchReceiver(Socket socket, bool gro) : base(socket)
    {
        _socket = socket;
        // With GRO a slot takes a whole coalesced run; without, one datagram (a larger one is cut and dropped).
        (_slots, _slotBytes) = gro ? (8, 65_536) : (64, 2_048);
        _headers = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(_slots * sizeof(MMsgHdr)));
        _iov = (IoVec*)NativeMemory.AllocZeroed((nuint)(_slots * sizeof(IoVec)));
        _addresses = (byte*)NativeMemory.AllocZeroed((nuint)(_slots * AddressBytes));
        _controls = (byte*)NativeMemory.AllocZeroed((nuint)(_slots * ControlBytes));
    }

    public override DatagramsReceived? Receive()
    {
        if (Rent(_slots * _slotBytes) is not { } batch) return null;
        bool added = false;
        var handle = _socket.SafeHandle;
        try
        {
            handle.DangerousAddRef(ref added); // the descriptor cannot be closed and reused while we read it
            int fd = (int)handle.DangerousGetHandle();
            fixed (byte* buffer = batch.Buffer)
            {
                while (true)
                {
                    for (int i = 0; i < _slots; i++)
                    {
                        _iov[i] = new IoVec { Base = buffer + i * _slotBytes, Length = (nuint)_slotBytes };
                        _headers[i] = new MMsgHdr
                        {
                            Header = new MsgHdr
                            {
                                Name = _addresses + i * AddressBytes, NameLength = AddressBytes,
                                Iov = _iov + i, IovLength = 1,
                                Control = _controls + i * ControlBytes, ControlLength = ControlBytes,
                            },
                        };
                    }
                    int n = recvmmsg(fd, _headers, (uint)_slots, MsgWaitForOne, null);
                    if (n > 0)
                    {
                        Split(batch, n);
                        if (batch.Count > 0) return batch;
                        continue; // only cut datagrams: wait for the next
                    }
                    if (n == 0) return null; // shut down for receiving: the actor stopped
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno is EIntr or EConnRefused) continue; // a signal, or an ICMP error for an earlier send
                    if (errno != EAgain) return null; // closed, or broken
                    var wait = new PollFd { Fd = fd, Events = PollIn }; // a non-blocking descriptor: wait for data (or the shutdown)
                    if (poll(&wait, 1, -1) < 0 && Marshal.GetLastPInvokeError() != EIntr) return null;
                }
            }
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private void Split(DatagramsReceived batch, int messages)
    {
        for (int i = 0; i < messages; i++)
        {
            ref var header = ref _headers[i];
            if ((header.Header.Flags & MsgTrunc) != 0) continue; // longer than any datagram of ours
            int length = (int)header.Length;
            var raw = new ReadOnlySpan<byte>(header.Header.Name, (int)header.Header.NameLength);
            var from = _senders.TryGet(raw, out var known) ? known : _senders.Remember(raw, ToEndPoint(header.Header.Name));
            int segment = GroSegmentSize(ref header.Header);
            int offset = i * _slotBytes;
            if (segment <= 0 || segment >= length)
            {
                batch.Add(offset, length, from);
                continue;
            }
            for (int at = 0; at < length; at += segment)
                batch.Add(offset + at, Math.Min(segment, length - at), from);
        }
    }

    /// <summary>The segment size of a coalesced run (the UDP_GRO control message), or 0.</summary>
    private static int GroSegmentSize(ref MsgHdr header)
    {
        byte* control = (byte*)header.Control;
        long left = (long)header.ControlLength;
        while (left >= sizeof(CMsgHdr))
        {
            var cmsg = (CMsgHdr*)control;
            if (cmsg->Length < (nuint)sizeof(CMsgHdr)) break;
            if (cmsg->Level == SolUdp && cmsg->Type == UdpGro) return *(int*)(control + sizeof(CMsgHdr));
            long step = ((long)cmsg->Length + 7) & ~7L;
            control += step;
            left -= step;
        }
        return 0;
    }

    private static IPEndPoint ToEndPoint(void* sockaddr)
    {
        var bytes = (byte*)sockaddr;
        int family = *(ushort*)bytes;
        int port = bytes[2] << 8 | bytes[3];
        return family == 10 // AF_INET6
            ? new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(bytes + 8, 16), *(uint*)(bytes + 24)), port)
            : new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(bytes + 4, 4)), port);
    }

    public override void Close()
    {
        if (_closed) return;
        _closed = true;
        NativeMemory.Free(_headers);
        NativeMemory.Free(_iov);
        NativeMemory.Free(_addresses);
        NativeMemory.Free(_controls);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CMsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int recvmmsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(PollFd* fds, nuint count, int timeout);
}
