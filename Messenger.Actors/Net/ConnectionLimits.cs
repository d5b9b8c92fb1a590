using System.Net;

namespace Messenger.Net;

/// <summary>How many connections one listener admits: in all, from one address, and still before login (or in the TLS handshake).</summary>
public sealed record ConnectionLimitSettings(int Total, int PerAddress, int PreLogin);

/// <summary>Why a connection was turned away; <see cref="Limit"/> names the setting for the log.</summary>
public sealed record LimitRefusal(string Limit, string Message);

/// <summary>
/// Counts a listener's connections and decides whether one more may come in. Pure bookkeeping:
/// the acceptor calls <see cref="TryAdmit"/> on accept, <see cref="LoggedIn"/> when a connection
/// leaves the pre-login phase, and <see cref="Release"/> when it ends.
/// </summary>
public sealed class ConnectionLimits(ConnectionLimitSettings settings)
{
    private readonly Dictionary<IPAddress, int> _perAddress = new();

    public int Open { get; private set; }
    public int PreLogin { get; private set; }

    public LimitRefusal? TryAdmit(IPAddress address)
    {
        if (Open >= settings.Total)
            return new LimitRefusal("max-connections", $"the server is full ({settings.Total} connections); try again later");
        _perAddress.TryGetValue(address, out int fromAddress);
        if (fromAddress >= settings.PerAddress)
            return new LimitRefusal("max-connections-per-address", $"too many connections from your address (at most {settings.PerAddress})");
        if (PreLogin >= settings.PreLogin)
            return new LimitRefusal("max-pre-login", $"too many connections are logging in ({settings.PreLogin}); try again later");
        _perAddress[address] = fromAddress + 1;
        Open++;
        PreLogin++;
        return null;
    }

    public void LoggedIn() => PreLogin--;

    public void Release(IPAddress address, bool wasPreLogin)
    {
        Open--;
        if (wasPreLogin) PreLogin--;
        if (_perAddress.TryGetValue(address, out int n) && n > 1) _perAddress[address] = n - 1;
        else _perAddress.Remove(address);
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
