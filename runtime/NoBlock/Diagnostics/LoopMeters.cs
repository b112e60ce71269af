using System.Diagnostics.Metrics;

namespace NoBlock.Diagnostics;

/// <summary>How the loop's histograms are made: seconds, with buckets that fit event-loop times.</summary>
internal static class LoopMeters
{
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

    public static Histogram<double> SecondsHistogram(Meter meter, string name, string description)
    {
#if NET9_0_OR_GREATER
        return meter.CreateHistogram(name, "s", description, tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
#else
        // InstrumentAdvice arrived in .NET 9: on .NET 8 the listener (OpenTelemetry's View API) sets the buckets.
        return meter.CreateHistogram<double>(name, "s", description);
#endif
    }
}
