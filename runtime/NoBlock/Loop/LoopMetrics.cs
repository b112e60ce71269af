using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace NoBlock;

/// <summary>
/// The loop's instruments on the <c>NoBlock</c> meter (DESIGN.md "Metrics"), tagged <c>noblock.loop.name</c>.
/// Instruments are shared by all loops; per-loop recording is skipped entirely when nobody listens.
/// </summary>
internal static class LoopMetrics
{
    public const string MeterName = "NoBlock";
    public const string LoopNameTag = "noblock.loop.name";

    private static readonly Meter Meter = new(MeterName);
    private static readonly ConcurrentDictionary<EventLoop, byte> Loops = new();

    /// <summary>Incremented by the stall watchdog.</summary>
    public static readonly Counter<long> Stalls = Meter.CreateCounter<long>("noblock.loop.stalls", "{stall}", "Handlers that ran longer than the stall threshold");
    public static readonly Histogram<double> HandlerDuration = Diagnostics.LoopMeters.SecondsHistogram(Meter, "noblock.loop.handler.duration", "Time spent in one handler");
    public static readonly Histogram<double> Lag = Diagnostics.LoopMeters.SecondsHistogram(Meter, "noblock.loop.lag", "How late the loop ran due timers");
    public static readonly Counter<long> Events = Meter.CreateCounter<long>("noblock.loop.events", "{event}", "Readiness events dispatched");

    static LoopMetrics()
    {
        Meter.CreateObservableGauge("noblock.loop.utilization", ObserveUtilization, "1", "Busy share of wall time since the last observation");
    }

    public static void Track(EventLoop loop) => Loops.TryAdd(loop, 0);

    public static void Untrack(EventLoop loop) => Loops.TryRemove(loop, out _);

    public static double Seconds(long stopwatchTicks) => (double)stopwatchTicks / Stopwatch.Frequency;

    private static IEnumerable<Measurement<double>> ObserveUtilization()
    {
        foreach (var loop in Loops.Keys)
        {
            yield return new Measurement<double>(loop.TakeUtilizationSample(), new KeyValuePair<string, object?>(LoopNameTag, loop.Name));
        }
    }
}
