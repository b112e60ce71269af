using System.Globalization;
using System.Text;

namespace NoBlock;

public sealed partial class StallReport
{
    /// <summary>
    /// On a "stall ended" report (<see cref="StallPhase.Ended"/>) of a loop with TCP sockets of its own: the loop's
    /// sockets as last seen while it was still stalled — what piled up in receive queues, send queues and accept
    /// queues because nobody read them (see <see cref="EventLoop.GetSocketDiagnostics"/>). Null otherwise.
    /// </summary>
    public SocketDiagnostics? Sockets { get; init; }

    /// <summary>
    /// On a "stall ended" report of a loop with TCP sockets: how much <c>ListenOverflows</c>, <c>ListenDrops</c> and
    /// the UDP drop counters grew from the first report of the stall to its end. These counters are the network
    /// namespace's (every process in it), so other servers' drops count too. Null otherwise.
    /// </summary>
    public NetworkCounters? NetworkCountersGrowth { get; init; }

    /// <summary>"; 48 KB queued in 12 receive queues (worst 16 KB on fd 23), accept queue 37/128, ListenOverflows +5", or "".</summary>
    private string DescribeSocketCost()
    {
        if (Sockets is null && NetworkCountersGrowth is null)
        {
            return "";
        }
        var sb = new StringBuilder(96);
        if (Sockets is { } s)
        {
            sb.Append("; ");
            s.AppendQueues(sb);
        }
        if (NetworkCountersGrowth is { } g)
        {
            AppendGrowth(sb, "ListenOverflows", g.ListenOverflows);
            AppendGrowth(sb, "ListenDrops", g.ListenDrops);
            AppendGrowth(sb, "UDP RcvbufErrors", g.UdpRcvbufErrors);
        }
        return sb.ToString();
    }

    private static void AppendGrowth(StringBuilder sb, string name, long growth)
    {
        if (growth > 0)
        {
            sb.Append(sb.Length == 0 ? "; " : ", ").Append(name).Append(" +").Append(growth.ToString(CultureInfo.InvariantCulture));
        }
    }
}
