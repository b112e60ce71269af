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

    /// <summary>
    /// Bucket boundaries in seconds. The OpenTelemetry default (0, 5, 10, 25 … 10 000) is meant for milliseconds
    /// and would put every handler in the first bucket. A healthy handler takes microseconds, a stall starts at the
    /// 100 ms default threshold and a bad one lasts seconds: 10 µs to 10 s, about three buckets a decade, with 0.1 s
    /// (the default threshold) and its 2×/4× escalation points on boundaries.
    /// </summary>
    internal static readonly double[] SecondsBuckets =
    [
        0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
        0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 10,
    ];

    /// <summary>Incremented by the stall watchdog.</summary>
    public static readonly Counter<long> Stalls = Meter.CreateCounter<long>("noblock.loop.stalls", "{stall}", "Handlers that ran longer than the stall threshold");
    public static readonly Histogram<double> HandlerDuration = SecondsHistogram("noblock.loop.handler.duration", "Time spent in one handler");
    public static readonly Histogram<double> Lag = SecondsHistogram("noblock.loop.lag", "How late the loop ran due timers");
    public static readonly Counter<long> Events = Meter.CreateCounter<long>("noblock.loop.events", "{event}", "Readiness events dispatched");

    static LoopMetrics()
    {
        Meter.CreateObservableGauge("noblock.loop.utilization", ObserveUtilization, "1", "Busy share of wall time since the last observation");
    }

    public static void Track(EventLoop loop) => Loops.TryAdd(loop, 0);

    public static void Untrack(EventLoop loop) => Loops.TryRemove(loop, out _);

    public static double Seconds(long stopwatchTicks) => (double)stopwatchTicks / Stopwatch.Frequency;

    private static Histogram<double> SecondsHistogram(string name, string description)
    {
#if NET9_0_OR_GREATER
        return Meter.CreateHistogram(name, "s", description, tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
#else
        // InstrumentAdvice arrived in .NET 9: on .NET 8 the listener (OpenTelemetry's View API) sets the buckets.
        return Meter.CreateHistogram<double>(name, "s", description);
#endif
    }

    private static IEnumerable<Measurement<double>> ObserveUtilization()
    {
        foreach (var loop in Loops.Keys)
        {
            yield return new Measurement<double>(loop.TakeUtilizationSample(), new KeyValuePair<string, object?>(LoopNameTag, loop.Name));
        }
    }
}
