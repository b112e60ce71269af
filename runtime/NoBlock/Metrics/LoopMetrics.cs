using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace NoBlock;

/// <summary>
/// The loop's instruments on a <c>NoBlock</c> meter (DESIGN.md "Metrics"), tagged <c>noblock.loop.name</c>. One set
/// per meter: the process-wide meter every loop uses by default, or the meter an <see cref="IMeterFactory"/> (a
/// host's) makes when <see cref="EventLoopOptions.MeterFactory"/> is set. Loops on the same meter share its
/// instruments; per-loop recording is skipped entirely when nobody listens.
/// </summary>
internal sealed class LoopMetrics
{
    public const string MeterName = "NoBlock";
    public const string LoopNameTag = "noblock.loop.name";

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

    /// <summary>The instruments of the process-wide meter (no factory): what dotnet-counters and OpenTelemetry see with no setup.</summary>
    public static readonly LoopMetrics Default = new(new Meter(MeterName));

    /// <summary>One instrument set per factory-made meter; the factory owns (and disposes) the meter.</summary>
    private static readonly ConditionalWeakTable<Meter, LoopMetrics> ByMeter = new();

    private readonly ConcurrentDictionary<EventLoop, byte> _loops = new();

    private LoopMetrics(Meter meter)
    {
        Meter = meter;
        Stalls = meter.CreateCounter<long>("noblock.loop.stalls", "{stall}", "Handlers that ran longer than the stall threshold");
        HandlerDuration = SecondsHistogram(meter, "noblock.loop.handler.duration", "Time spent in one handler");
        Lag = SecondsHistogram(meter, "noblock.loop.lag", "How late the loop ran due timers");
        Events = meter.CreateCounter<long>("noblock.loop.events", "{event}", "Readiness events dispatched");
        meter.CreateObservableGauge("noblock.loop.utilization", ObserveUtilization, "1", "Busy share of wall time since the last observation");
    }

    public Meter Meter { get; }

    /// <summary>Incremented by the stall watchdog.</summary>
    public Counter<long> Stalls { get; }

    public Histogram<double> HandlerDuration { get; }

    public Histogram<double> Lag { get; }

    public Counter<long> Events { get; }

    /// <summary>The instruments a loop with these options records on.</summary>
    public static LoopMetrics For(EventLoopOptions options)
    {
        if (options.MeterFactory is not { } factory)
        {
            return Default;
        }
        // The factory caches meters by name (and version, tags): every loop of one host gets the same meter.
        var meter = factory.Create(new MeterOptions(MeterName));
        return ByMeter.GetValue(meter, static m => new LoopMetrics(m));
    }

    public static double Seconds(long stopwatchTicks) => (double)stopwatchTicks / Stopwatch.Frequency;

    public void Track(EventLoop loop) => _loops.TryAdd(loop, 0);

    public void Untrack(EventLoop loop) => _loops.TryRemove(loop, out _);

    private static Histogram<double> SecondsHistogram(Meter meter, string name, string description)
    {
#if NET9_0_OR_GREATER
        return meter.CreateHistogram(name, "s", description, tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
#else
        // InstrumentAdvice arrived in .NET 9: on .NET 8 the listener (OpenTelemetry's View API) sets the buckets.
        return meter.CreateHistogram<double>(name, "s", description);
#endif
    }

    private IEnumerable<Measurement<double>> ObserveUtilization()
    {
        foreach (var loop in _loops.Keys)
        {
            yield return new Measurement<double>(loop.TakeUtilizationSample(), new KeyValuePair<string, object?>(LoopNameTag, loop.Name));
        }
    }
}
