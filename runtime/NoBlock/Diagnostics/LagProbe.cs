using System.Runtime.CompilerServices;

namespace NoBlock.Diagnostics;

/// <summary>
/// Node's event-loop delay monitor for an <see cref="EventLoop"/>: a timer that re-arms itself every
/// <see cref="Interval"/>; how late it runs is recorded as <c>noblock.loop.lag</c> by the loop's timer phase (which
/// records the lateness of every timer). Runs only while someone listens to that instrument.
/// </summary>
internal sealed class LagProbe
{
    /// <summary>
    /// 50 ms: two samples inside the default 100 ms stall threshold, so any stall long enough to report also shows
    /// up as lag; 20 timer wake-ups a second cost an idle loop nothing measurable, and only while metrics are read.
    /// </summary>
    internal static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    private static readonly ConditionalWeakTable<EventLoop, LagProbe> Probes = new();

    private readonly EventLoop _loop;
    private int _armed;

    private LagProbe(EventLoop loop) => _loop = loop;

    /// <summary>Starts the probe on <paramref name="loop"/> unless it already runs. Thread-safe. True when it runs.</summary>
    public static bool Start(EventLoop loop)
    {
        var probe = Probes.GetValue(loop, static l => new LagProbe(l));
        if (Interlocked.CompareExchange(ref probe._armed, 1, 0) != 0)
        {
            return true;
        }
        try
        {
            loop.Schedule(Interval, probe.Tick);
            return true;
        }
        catch (ObjectDisposedException)
        {
            Volatile.Write(ref probe._armed, 0);
            return false;
        }
    }

    /// <summary>True while a probe timer is pending on <paramref name="loop"/>.</summary>
    public static bool IsRunning(EventLoop loop) => Probes.TryGetValue(loop, out var p) && Volatile.Read(ref p._armed) == 1;

    private void Tick()
    {
        if (LoopMetrics.Lag.Enabled && _loop.IsRunning)
        {
            _loop.Schedule(Interval, Tick);
            return;
        }
        Volatile.Write(ref _armed, 0); // nobody listens any more: the watchdog starts it again if someone does
    }
}
