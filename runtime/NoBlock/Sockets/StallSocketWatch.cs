using System.Linq;
using System.Diagnostics;

namespace NoBlock.Sockets;

/// <summary>
/// What a stall cost in the kernel, for the "stall ended" report: the watchdog (on its own thread) snapshots the
/// loop's sockets when it first reports a stall and again now and then while the stall lasts, and reads the drop
/// counters at the start and at the end. The last snapshot taken while the loop was still stalled is what piled
/// up (queues only grow while nobody reads them; the loop drains them as soon as it runs again, which is why the
/// snapshot cannot wait for the end). Loops with no TCP sockets of their own cost nothing here.
/// </summary>
internal sealed class StallSocketWatch
{
    /// <summary>
    /// Shortest time between two snapshots during one stall. 50 ms: fresh enough that the last one before the end
    /// is close to the peak, rare enough not to busy the watchdog thread (the checks run every eighth threshold).
    /// </summary>
    private static readonly long MinSnapshotIntervalTicks = Stopwatch.Frequency / 20;

    /// <summary>
    /// A snapshot may take a while on a loop with tens of thousands of connections (two ioctls each): wait at least
    /// this many times as long as the last one took before the next, so the watchdog spends at most about a fifth
    /// of its time on them and keeps watching the other loops.
    /// </summary>
    private const int SnapshotCostFactor = 4;

    private readonly EventLoop _loop;
    private SocketDiagnostics? _last;
    private NetworkCounters? _countersAtStart;
    private IReadOnlyList<UdpSocketQueue> _udpAtStart = [];
    private long _nextSnapshot;
    private bool _active;

    public StallSocketWatch(EventLoop loop) => _loop = loop;

    /// <summary>
    /// The watchdog is about to report a stall: note the drop counters first (one /proc read), so that whatever the
    /// report's reader sees happen after it is counted in the growth the end report gives.
    /// </summary>
    public void Start()
    {
        _active = _loop.Sockets.Count > 0;
        _last = null;
        _countersAtStart = _active ? NetworkCounters.Read() : null;
    }

    /// <summary>The stall was reported: take the first snapshot (after the alert, which must not wait for a look at every socket).</summary>
    public void Begin(long now)
    {
        if (!_active)
        {
            return;
        }
        Snapshot(now);
        _udpAtStart = _last?.UdpSockets ?? [];
    }

    /// <summary>The reported stall still lasts: refresh the snapshot when it is due.</summary>
    public void Refresh(long now)
    {
        if (_active && now >= _nextSnapshot)
        {
            Snapshot(now);
        }
    }

    /// <summary>The stall ended: the last snapshot taken during it and the counters' growth since it began (null, null: nothing to say).</summary>
    public (SocketDiagnostics? Sockets, NetworkCounters? Growth, long? UdpDrops) End()
    {
        if (!_active)
        {
            return (null, null, null);
        }
        _active = false;
        var now = NetworkCounters.Read();
        NetworkCounters? growth = now is { } end && _countersAtStart is { } start ? end - start : null;
        var last = _last;
        _last = null;
        // Per-socket drop counters only grow: read them again now (the loop draining its queues does not undo a drop),
        // and compare socket by socket (by inode) with the first report's.
        long? udpDrops = null;
        if (_udpAtStart.Count > 0)
        {
            var before = _udpAtStart.ToDictionary(u => u.Inode, u => u.Drops);
            udpDrops = SocketDiagnostics.CollectUdp(_loop.Sockets).Sum(u => before.TryGetValue(u.Inode, out long d) ? Math.Max(0, u.Drops - d) : 0);
            _udpAtStart = [];
        }
        return (last, growth, udpDrops);
    }

    private void Snapshot(long now)
    {
        long t0 = Stopwatch.GetTimestamp();
        _last = _loop.CollectSockets(includeCounters: false);
        long cost = Stopwatch.GetTimestamp() - t0;
        _nextSnapshot = now + Math.Max(MinSnapshotIntervalTicks, cost * SnapshotCostFactor);
    }
}
