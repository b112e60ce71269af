using System.Linq;
using System.Buffers;
using System.Globalization;
using System.Net;
using System.Text;
using NoBlock.Interop;
using NoBlock.Sockets;

namespace NoBlock;

/// <summary>One listening socket's accept queue: what <c>ss -tln</c> shows as Recv-Q (queued) and Send-Q (backlog).</summary>
/// <param name="Fd">The listening socket's fd.</param>
/// <param name="LocalEndPoint">The address it listens on.</param>
/// <param name="Queued">Connections that finished the handshake and wait for <c>accept</c>.</param>
/// <param name="Backlog">The queue's limit (the listen backlog, capped by <c>net.core.somaxconn</c>).</param>
public readonly record struct ListenerQueue(int Fd, IPEndPoint? LocalEndPoint, int Queued, int Backlog);

/// <summary>
/// What waits in an io_uring loop's completion queue for the loop to take it: the kernel's requests stay armed while
/// the loop is stalled, so connections it accepted and bytes it received pile up here rather than in the listener's
/// accept queue and the connections' receive queues (docs/io_uring.md, "While the loop is stalled").
/// </summary>
/// <param name="Waiting">Completions posted and not yet taken by the loop (CQ tail minus head), of every kind.</param>
/// <param name="AcceptedConnections">Of those, connections accepted (each an open fd the loop has not attached yet).</param>
/// <param name="ReceivedBytes">Bytes received into the loop's receive buffers by those completions.</param>
/// <param name="ReceivingConnections">The connections those bytes came from.</param>
/// <param name="Overflowed">The completion queue was full and the kernel holds more in its overflow list
/// (<c>IORING_SQ_CQ_OVERFLOW</c>): the other figures are then a lower bound.</param>
public readonly record struct CompletionQueueBacklog(int Waiting, int AcceptedConnections, long ReceivedBytes, int ReceivingConnections, bool Overflowed);

/// <summary>
/// What the kernel holds for one loop's own sockets at one moment — what <c>ss -tnm</c> and <c>nstat</c> show,
/// for the TCP connections and listeners of this loop only. Made by <see cref="EventLoop.GetSocketDiagnostics"/>;
/// the stall watchdog attaches one to the "stall ended" report.
/// </summary>
/// <remarks>
/// A healthy loop keeps receive queues and accept queues near zero: it reads what arrives. Bytes piling up in
/// receive queues and an accept queue near its backlog mean the loop is not getting to them (stalled, or
/// overloaded). Send queues fill for a different reason: the peer or the network is slow.
/// </remarks>
public sealed class SocketDiagnostics
{
    internal SocketDiagnostics(string loopName)
    {
        LoopName = loopName;
    }

    /// <summary>The loop's name.</summary>
    public string LoopName { get; }

    /// <summary>When the snapshot was taken (UTC).</summary>
    public DateTimeOffset Timestamp { get; internal set; }

    /// <summary>TCP connections of this loop that were looked at.</summary>
    public int Connections { get; internal set; }

    /// <summary>Bytes received and not yet read, over all connections (<c>FIONREAD</c>/<c>SIOCINQ</c>, Recv-Q).</summary>
    public long ReceiveQueueBytes { get; internal set; }

    /// <summary>Connections with unread bytes.</summary>
    public int ReceiveQueuesNonEmpty { get; internal set; }

    /// <summary>The largest receive queue, in bytes.</summary>
    public int LargestReceiveQueueBytes { get; internal set; }

    /// <summary>The fd of the connection with the largest receive queue, or -1.</summary>
    public int LargestReceiveQueueFd { get; internal set; } = -1;

    /// <summary>Bytes sent and not yet acknowledged by peers, over all connections (<c>SIOCOUTQ</c>, Send-Q).</summary>
    public long SendQueueBytes { get; internal set; }

    /// <summary>Connections with unacknowledged output.</summary>
    public int SendQueuesNonEmpty { get; internal set; }

    /// <summary>The largest send queue, in bytes.</summary>
    public int LargestSendQueueBytes { get; internal set; }

    /// <summary>The fd of the connection with the largest send queue, or -1.</summary>
    public int LargestSendQueueFd { get; internal set; } = -1;

    /// <summary>Each listener's accept queue (<c>TCP_INFO</c> on the listening socket).</summary>
    public IReadOnlyList<ListenerQueue> Listeners { get; internal set; } = [];

    /// <summary>Connections waiting for <c>accept</c>, over all listeners.</summary>
    public int AcceptQueued => Listeners.Sum(l => l.Queued);

    /// <summary>The sum of the listeners' backlogs.</summary>
    public int AcceptBacklog => Listeners.Sum(l => l.Backlog);

    /// <summary>
    /// The UDP sockets registered with this loop (<see cref="EventLoop.Register"/> with an IPv4 or IPv6 UDP socket):
    /// each one's receive queue and the datagrams the kernel dropped on it, from <c>/proc/net/udp</c> and
    /// <c>/proc/net/udp6</c>, by inode. Empty when the loop has none.
    /// </summary>
    public IReadOnlyList<UdpSocketQueue> UdpSockets { get; internal set; } = [];

    /// <summary>Bytes waiting in the receive queues of <see cref="UdpSockets"/>.</summary>
    public long UdpReceiveQueueBytes => UdpSockets.Sum(u => (long)u.ReceiveQueueBytes);

    /// <summary>Datagrams dropped on <see cref="UdpSockets"/> since each was opened (per-socket counters: this loop's own, unlike <see cref="Counters"/>).</summary>
    public long UdpDrops => UdpSockets.Sum(u => u.Drops);

    /// <summary>
    /// On an io_uring loop (<see cref="EventLoop.Backend"/>), what waits in its completion queue: connections already
    /// accepted and bytes already received that the loop has not taken yet. While the loop is stalled that is where
    /// its backlog is, alongside (not in) <see cref="ReceiveQueueBytes"/> and <see cref="AcceptQueued"/>. Null on
    /// epoll, and when the loop was taking completions at the moment of the snapshot.
    /// </summary>
    public CompletionQueueBacklog? CompletionQueue { get; internal set; }

    /// <summary>
    /// The network namespace's drop counters when the snapshot was taken (since boot, every process: compare two
    /// snapshots); null when <c>/proc/net</c> cannot be read.
    /// </summary>
    public NetworkCounters? Counters { get; internal set; }

    /// <summary>
    /// "3 connections: 48 KB in 12 receive queues (worst 16 KB on fd 23), 0 B in send queues; accept queue 37/128".
    /// </summary>
    public override string ToString()
    {
        var sb = new StringBuilder(128);
        sb.Append(Connections.ToString(CultureInfo.InvariantCulture)).Append(Connections == 1 ? " connection: " : " connections: ");
        AppendQueues(sb);
        return sb.ToString();
    }

    /// <summary>"48 KB queued in 12 receive queues (worst 16 KB on fd 23), accept queue 37/128" — only what is non-zero.</summary>
    internal void AppendQueues(StringBuilder sb)
    {
        int start = sb.Length;
        bool tcp = Connections > 0 || Listeners.Count > 0 || UdpSockets.Count == 0;
        if (!tcp)
        {
            // a loop with UDP sockets only: nothing to say about TCP queues
        }
        else if (ReceiveQueueBytes > 0)
        {
            sb.Append(FormatBytes(ReceiveQueueBytes)).Append(" queued in ").Append(ReceiveQueuesNonEmpty.ToString(CultureInfo.InvariantCulture))
              .Append(ReceiveQueuesNonEmpty == 1 ? " receive queue" : " receive queues");
            if (ReceiveQueuesNonEmpty > 1)
            {
                sb.Append(" (worst ").Append(FormatBytes(LargestReceiveQueueBytes)).Append(" on fd ").Append(LargestReceiveQueueFd.ToString(CultureInfo.InvariantCulture)).Append(')');
            }
            else
            {
                sb.Append(" (fd ").Append(LargestReceiveQueueFd.ToString(CultureInfo.InvariantCulture)).Append(')');
            }
        }
        else
        {
            sb.Append("receive queues empty");
        }
        if (SendQueueBytes > 0)
        {
            sb.Append(sb.Length == start ? "" : ", ").Append(FormatBytes(SendQueueBytes)).Append(" unacknowledged in ").Append(SendQueuesNonEmpty.ToString(CultureInfo.InvariantCulture))
              .Append(SendQueuesNonEmpty == 1 ? " send queue" : " send queues");
        }
        foreach (var l in Listeners)
        {
            sb.Append(", accept queue ").Append(l.Queued.ToString(CultureInfo.InvariantCulture)).Append('/').Append(l.Backlog.ToString(CultureInfo.InvariantCulture));
            if (Listeners.Count > 1)
            {
                sb.Append(" (fd ").Append(l.Fd.ToString(CultureInfo.InvariantCulture)).Append(')');
            }
        }
        if (UdpSockets.Count > 0)
        {
            sb.Append(sb.Length == start ? "UDP: " : ", UDP: ").Append(FormatBytes(UdpReceiveQueueBytes)).Append(" queued in ").Append(UdpSockets.Count.ToString(CultureInfo.InvariantCulture))
              .Append(UdpSockets.Count == 1 ? " socket" : " sockets");
            if (UdpDrops > 0)
            {
                sb.Append(", ").Append(UdpDrops.ToString(CultureInfo.InvariantCulture)).Append(" datagrams dropped since opened");
            }
        }
        if (CompletionQueue is { Waiting: > 0 } cq)
        {
            // "completion queue: 5 accepted connections, 3 KB received on 3 connections (8 completions)"
            sb.Append(sb.Length == start ? "" : ", ").Append("completion queue: ");
            int before = sb.Length;
            if (cq.AcceptedConnections > 0)
            {
                sb.Append(cq.AcceptedConnections.ToString(CultureInfo.InvariantCulture)).Append(cq.AcceptedConnections == 1 ? " accepted connection" : " accepted connections");
            }
            if (cq.ReceivedBytes > 0)
            {
                sb.Append(sb.Length == before ? "" : ", ").Append(FormatBytes(cq.ReceivedBytes)).Append(" received on ")
                  .Append(cq.ReceivingConnections.ToString(CultureInfo.InvariantCulture)).Append(cq.ReceivingConnections == 1 ? " connection" : " connections");
            }
            bool named = sb.Length > before;
            sb.Append(named ? " (" : "").Append(cq.Waiting.ToString(CultureInfo.InvariantCulture)).Append(cq.Waiting == 1 ? " completion" : " completions");
            if (cq.Overflowed)
            {
                sb.Append(", and more in the kernel's overflow list");
            }
            sb.Append(named ? ")" : "");
        }
        if (sb.Length == start)
        {
            sb.Append("nothing queued");
        }
    }

    /// <summary>Bytes as people read them: "512 B", "48 KB", "3.5 MB" (1 KB = 1024 bytes).</summary>
    internal static string FormatBytes(long bytes) => bytes switch
    {
        < 1024 => bytes.ToString(CultureInfo.InvariantCulture) + " B",
        < 1024 * 1024 => (bytes / 1024).ToString(CultureInfo.InvariantCulture) + " KB",
        _ => (bytes / (1024.0 * 1024)).ToString("0.#", CultureInfo.InvariantCulture) + " MB",
    };

    /// <summary>
    /// Queries every tracked socket of <paramref name="table"/>, and <paramref name="completions"/> (an io_uring
    /// loop's backend) for what waits in its completion queue. Any thread; the loop does not have to be running.
    /// </summary>
    internal static SocketDiagnostics Collect(string loopName, SocketTable table, bool includeCounters, IoUring.IoUringBackend? completions = null)
    {
        // The completion queue first: a connection taken from it by the loop meanwhile then shows up among the
        // sockets below rather than in neither.
        var d = new SocketDiagnostics(loopName) { Timestamp = DateTimeOffset.UtcNow, CompletionQueue = completions?.PeekWaiting() };
        var sockets = table.Rent(out int count);
        List<ListenerQueue>? listeners = null;
        List<RegisteredUdpSocket>? udp = null;
        try
        {
            for (int i = 0; i < count; i++)
            {
                var s = sockets[i];
                if (s is RegisteredUdpSocket u)
                {
                    (udp ??= new List<RegisteredUdpSocket>()).Add(u);
                    continue;
                }
                var handle = s.TrackedHandle;
                if (handle is null)
                {
                    continue;
                }
                // Hold a reference so the fd is not closed (and its number reused) while we ask about it; a socket
                // closed since the copy was made is simply skipped.
                bool added = false;
                try
                {
                    handle.DangerousAddRef(ref added);
                }
                catch (ObjectDisposedException)
                {
                    continue;
                }
                try
                {
                    int fd = handle.Fd;
                    if (s.IsListener)
                    {
                        if (Sys.ListenQueue(fd, out int queued, out int backlog, out _))
                        {
                            (listeners ??= new List<ListenerQueue>()).Add(new ListenerQueue(fd, s.ListenEndPoint, queued, backlog));
                        }
                        continue;
                    }
                    d.Connections++;
                    if (Sys.ReceiveQueue(fd, out int rq, out _) && rq > 0)
                    {
                        d.ReceiveQueueBytes += rq;
                        d.ReceiveQueuesNonEmpty++;
                        if (rq > d.LargestReceiveQueueBytes)
                        {
                            d.LargestReceiveQueueBytes = rq;
                            d.LargestReceiveQueueFd = fd;
                        }
                    }
                    if (Sys.SendQueue(fd, out int sq, out _) && sq > 0)
                    {
                        d.SendQueueBytes += sq;
                        d.SendQueuesNonEmpty++;
                        if (sq > d.LargestSendQueueBytes)
                        {
                            d.LargestSendQueueBytes = sq;
                            d.LargestSendQueueFd = fd;
                        }
                    }
                }
                finally
                {
                    if (added)
                    {
                        handle.DangerousRelease();
                    }
                }
            }
        }
        finally
        {
            Array.Clear(sockets, 0, count);
            ArrayPool<ITrackedSocket>.Shared.Return(sockets);
        }
        if (listeners is not null)
        {
            listeners.Sort(static (a, b) => a.Fd.CompareTo(b.Fd));
            d.Listeners = listeners;
        }
        if (udp is not null)
        {
            d.UdpSockets = ReadUdp(udp);
        }
        if (includeCounters)
        {
            d.Counters = NetworkCounters.Read();
        }
        return d;
    }

    /// <summary>The loop's UDP sockets only (their lines in /proc/net/udp*), for the drops a stall cost. Any thread.</summary>
    internal static IReadOnlyList<UdpSocketQueue> CollectUdp(SocketTable table)
    {
        var sockets = table.Rent(out int count);
        List<RegisteredUdpSocket>? udp = null;
        try
        {
            for (int i = 0; i < count; i++)
            {
                if (sockets[i] is RegisteredUdpSocket u)
                {
                    (udp ??= new List<RegisteredUdpSocket>()).Add(u);
                }
            }
        }
        finally
        {
            Array.Clear(sockets, 0, count);
            ArrayPool<ITrackedSocket>.Shared.Return(sockets);
        }
        return udp is null ? [] : ReadUdp(udp);
    }

    private static IReadOnlyList<UdpSocketQueue> ReadUdp(List<RegisteredUdpSocket> udp)
    {
        var wanted = new HashSet<ulong>(udp.Select(u => u.Inode));
        var lines = ProcNetUdp.Read(wanted, ipv4: udp.Exists(u => !u.IsIpv6), ipv6: udp.Exists(u => u.IsIpv6));
        var result = new List<UdpSocketQueue>(udp.Count);
        foreach (var u in udp.OrderBy(u => u.Fd))
        {
            if (lines.TryGetValue(u.Inode, out var line))
            {
                result.Add(new UdpSocketQueue(u.Fd, u.Inode, line.Local, line.ReceiveQueue, line.Drops));
            }
        }
        return result;
    }
}
