using System.Globalization;

namespace NoBlock;

/// <summary>
/// The kernel's drop counters that say what a slow loop cost, read from <c>/proc/net/netstat</c> (TcpExt) and
/// <c>/proc/net/snmp</c> (Udp) — what <c>nstat -az</c> shows. They count since boot for the whole network namespace
/// (every process in it, not only this loop): compare two readings (<see cref="op_Subtraction"/>) taken around the
/// time of interest.
/// </summary>
public readonly record struct NetworkCounters
{
    private const string NetstatPath = "/proc/net/netstat", SnmpPath = "/proc/net/snmp";

    /// <summary>Creates a reading (or a difference of two).</summary>
    /// <param name="listenOverflows">TcpExtListenOverflows.</param>
    /// <param name="listenDrops">TcpExtListenDrops.</param>
    /// <param name="udpInErrors">Udp InErrors.</param>
    /// <param name="udpRcvbufErrors">Udp RcvbufErrors.</param>
    public NetworkCounters(long listenOverflows, long listenDrops, long udpInErrors, long udpRcvbufErrors)
    {
        ListenOverflows = listenOverflows;
        ListenDrops = listenDrops;
        UdpInErrors = udpInErrors;
        UdpRcvbufErrors = udpRcvbufErrors;
    }

    /// <summary>
    /// TcpExtListenOverflows: a completed handshake found the accept queue full (the connection is not queued; the
    /// client retransmits its ACK, or is reset if <c>tcp_abort_on_overflow</c> is set).
    /// </summary>
    public long ListenOverflows { get; }

    /// <summary>TcpExtListenDrops: SYNs and handshakes a listener dropped, overflows included.</summary>
    public long ListenDrops { get; }

    /// <summary>Udp InErrors: datagrams that could not be delivered, receive-buffer drops included.</summary>
    public long UdpInErrors { get; }

    /// <summary>Udp RcvbufErrors: datagrams dropped because a socket's receive buffer was full.</summary>
    public long UdpRcvbufErrors { get; }

    /// <summary>The growth from <paramref name="before"/> to <paramref name="after"/>.</summary>
    public static NetworkCounters operator -(NetworkCounters after, NetworkCounters before) => new(
        after.ListenOverflows - before.ListenOverflows,
        after.ListenDrops - before.ListenDrops,
        after.UdpInErrors - before.UdpInErrors,
        after.UdpRcvbufErrors - before.UdpRcvbufErrors);

    /// <summary>Reads the counters now; null when <c>/proc/net</c> cannot be read (not Linux, no procfs).</summary>
    public static NetworkCounters? Read()
    {
        try
        {
            var tcpExt = ParsePairs(File.ReadAllText(NetstatPath), "TcpExt:");
            var udp = ParsePairs(File.ReadAllText(SnmpPath), "Udp:");
            return new NetworkCounters(
                tcpExt.GetValueOrDefault("ListenOverflows"),
                tcpExt.GetValueOrDefault("ListenDrops"),
                udp.GetValueOrDefault("InErrors"),
                udp.GetValueOrDefault("RcvbufErrors"));
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// /proc/net/netstat and /proc/net/snmp hold pairs of lines with the same prefix: names, then values
    /// ("TcpExt: SyncookiesSent ... ListenOverflows ..." / "TcpExt: 0 ... 5 ...").
    /// </summary>
    internal static Dictionary<string, long> ParsePairs(string text, string prefix)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        string? names = null;
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }
            if (names is null)
            {
                names = line;
                continue;
            }
            var keys = names.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var values = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            for (int i = 1; i < Math.Min(keys.Length, values.Length); i++)
            {
                if (long.TryParse(values[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out long v))
                {
                    result[keys[i]] = v;
                }
            }
            break;
        }
        return result;
    }
}
