using System.Diagnostics;

namespace NoBlock.Metrics;

/// <summary>
/// Node's event-loop delay monitor for an <see cref="EventLoop"/>, driven by the watchdog thread: every
/// <see cref="Interval"/> it posts a stamped no-op to the loop, and the loop records how long the no-op waited as
/// <c>noblock.loop.lag</c>. Runs only while someone listens to that instrument.
/// </summary>
/// <remarks>
/// Not a loop timer: a pending timer turns every <c>epoll_wait</c> into a timed wait, and arming a kernel hrtimer on
/// each turn cost 3–4% CPU per request in a virtual machine (bench/WATCHDOG.md). A post costs the busy loop one
/// queue operation and wakes an idle loop 20 times a second.
/// </remarks>
internal sealed class LagProbe
{
    /// <summary>
    /// 50 ms: two samples inside the default 100 ms stall threshold, so any stall long enough to report also shows
    /// up as lag; 20 posts a second cost nothing measurable, and only while metrics are read.
    /// </summary>
    internal static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    private static readonly long IntervalTicks = (long)(Interval.TotalSeconds * Stopwatch.Frequency);

    private readonly EventLoop _loop;
    private readonly KeyValuePair<string, object?> _nameTag;
    private readonly Action _run;
    private long _postedAt;     // 0 while no probe is pending
    private long _lastPost;

    public LagProbe(EventLoop loop)
    {
        _loop = loop;
        _nameTag = new KeyValuePair<string, object?>(LoopMetrics.LoopNameTag, loop.Name);
        _run = Run;
    }

    /// <summary>Called on the watchdog thread at each check: posts a probe when one is due and none is pending.</summary>
    public void Tick(long now)
    {
        if (!_loop.Metrics.Lag.Enabled || !_loop.IsRunning || Volatile.Read(ref _postedAt) != 0 || now - _lastPost < IntervalTicks)
        {
            return;
        }
        _lastPost = now;
        Volatile.Write(ref _postedAt, now);
        try
        {
            _loop.Post(_run);
        }
        catch (ObjectDisposedException)
        {
            Volatile.Write(ref _postedAt, 0);
        }
    }

    /// <summary>Runs on the loop: how late it ran is the lag.</summary>
    private void Run()
    {
        long postedAt = Volatile.Read(ref _postedAt);
        if (postedAt != 0)
        {
            _loop.Metrics.Lag.Record(LoopMetrics.Seconds(Stopwatch.GetTimestamp() - postedAt), _nameTag);
        }
        Volatile.Write(ref _postedAt, 0);
    }

    /// <summary>A probe posted to a loop that stopped before running it never runs: forget it (the next Run posts anew).</summary>
    public void Reset() => Volatile.Write(ref _postedAt, 0);
}
