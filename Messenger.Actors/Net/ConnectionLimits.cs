using System.Net;

namespace Messenger.Net;

/// <summary>
/// How many connections one listener admits: in all, from one address, and still before login (or
/// in the TLS handshake); the pre-login slots are shared fairly among networks of these prefix lengths.
/// </summary>
public sealed record ConnectionLimitSettings(int Total, int PerAddress, int PreLogin, int IPv4Prefix, int IPv6Prefix)
{
    /// <summary>The network <paramref name="address"/> belongs to, for sharing the pre-login slots.</summary>
    public IPAddress NetworkOf(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        var bytes = address.GetAddressBytes();
        int keep = bytes.Length == 4 ? IPv4Prefix : IPv6Prefix;
        for (int i = 0; i < bytes.Length; i++)
        {
            int bits = Math.Clamp(keep - 8 * i, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - bits));
        }
        return new IPAddress(bytes);
    }
}

/// <summary>Why a connection was turned away; <see cref="Limit"/> names the setting for the log.</summary>
public sealed record LimitRefusal(string Limit, string Message);

/// <summary>
/// Counts a listener's connections and decides whether one more may come in. Pure bookkeeping,
/// keyed by the acceptor's connection number: the acceptor calls <see cref="TryAdmit"/> on accept,
/// <see cref="LoggedIn"/> when a connection leaves the pre-login phase, and <see cref="Release"/>
/// when it ends.
/// When every pre-login slot is taken, a newcomer is not simply refused (that would let a few
/// silent networks lock everyone out): it takes the slot of the oldest connection still logging in
/// from the network that holds the most of them, unless its own network already holds as many.
/// So each network gets an equal share of the slots, and the newest connections of the lightest
/// networks stay longest.
/// </summary>
public sealed class ConnectionLimits(ConnectionLimitSettings settings)
{
    private readonly Dictionary<IPAddress, int> _perAddress = new();
    private readonly Dictionary<long, (IPAddress Network, LinkedListNode<long> Node)> _loggingIn = new();
    // Connections still logging in, per network, oldest first.
    private readonly Dictionary<IPAddress, LinkedList<long>> _loggingInFrom = new();

    public int Open { get; private set; }
    public int PreLogin => _loggingIn.Count;

    /// <summary>
    /// Admits connection <paramref name="id"/> from <paramref name="address"/>, or says why not.
    /// <paramref name="displaced"/> is the connection whose pre-login slot it took, if any: that one
    /// no longer counts as logging in, and the acceptor closes it.
    /// </summary>
    public LimitRefusal? TryAdmit(long id, IPAddress address, out long? displaced)
    {
        displaced = null;
        if (Open >= settings.Total)
            return new LimitRefusal("max-connections", $"the server is full ({settings.Total} connections); try again later");
        _perAddress.TryGetValue(address, out int fromAddress);
        if (fromAddress >= settings.PerAddress)
            return new LimitRefusal("max-connections-per-address", $"too many connections from your address (at most {settings.PerAddress})");
        var network = settings.NetworkOf(address);
        if (PreLogin >= settings.PreLogin)
        {
            var heaviest = HeaviestLoggingIn();
            int own = _loggingInFrom.TryGetValue(network, out var mine) ? mine.Count : 0;
            if (heaviest is null || own >= heaviest.Count)
                return new LimitRefusal("max-pre-login", $"too many connections are logging in ({settings.PreLogin}); try again later");
            displaced = heaviest.First!.Value;
            LoggedIn(displaced.Value);
        }
        _perAddress[address] = fromAddress + 1;
        Open++;
        if (!_loggingInFrom.TryGetValue(network, out var queue)) _loggingInFrom[network] = queue = new LinkedList<long>();
        _loggingIn[id] = (network, queue.AddLast(id));
        return null;
    }

    /// <summary>Connection <paramref name="id"/> logged in (or was displaced): it no longer holds a pre-login slot.</summary>
    public void LoggedIn(long id)
    {
        if (!_loggingIn.Remove(id, out var entry)) return;
        var queue = entry.Node.List!;
        queue.Remove(entry.Node);
        if (queue.Count == 0) _loggingInFrom.Remove(entry.Network);
    }

    public void Release(long id, IPAddress address)
    {
        LoggedIn(id);
        Open--;
        if (_perAddress.TryGetValue(address, out int n) && n > 1) _perAddress[address] = n - 1;
        else _perAddress.Remove(address);
    }

    /// <summary>The connections logging in from the network with the most of them; of equals, the one whose oldest is oldest.</summary>
    private LinkedList<long>? HeaviestLoggingIn()
    {
        LinkedList<long>? heaviest = null;
        foreach (var queue in _loggingInFrom.Values)
            if (heaviest is null || queue.Count > heaviest.Count || (queue.Count == heaviest.Count && queue.First!.Value < heaviest.First!.Value))
                heaviest = queue;
        return heaviest;
    }
}

/// <summary>
/// Lets one log line through per interval and counts what it held back, so a flood of the same
/// event costs one line a minute, not one line each.
/// </summary>
public sealed class LogThrottle(TimeSpan interval)
{
    private long _nextTicks = long.MinValue;
    private long _suppressed;

    /// <summary>True if this event should be logged now; <paramref name="suppressed"/> is how many were held back since the last line.</summary>
    public bool ShouldLog(long nowTicks, out long suppressed)
    {
        if (nowTicks < _nextTicks)
        {
            _suppressed++;
            suppressed = 0;
            return false;
        }
        suppressed = _suppressed;
        _suppressed = 0;
        _nextTicks = nowTicks + interval.Ticks;
        return true;
    }
}
