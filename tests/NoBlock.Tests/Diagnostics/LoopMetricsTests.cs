using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using NoBlock.Tests.Runtime;
using Xunit;

namespace NoBlock.Tests.Diagnostics;

/// <summary>
/// The five instruments of meter NoBlock, observed the way dotnet-counters and OpenTelemetry see them: through a
/// MeterListener, here the one inside <see cref="MetricCollector{T}"/>.
/// </summary>
public sealed class LoopMetricsTests
{
    private const string Meter = "NoBlock";
    private const string LoopTag = "noblock.loop.name";

    private static T[] Of<T>(MetricCollector<T> collector, string loop) where T : struct =>
        collector.GetMeasurementSnapshot().Where(m => m.Tags.TryGetValue(LoopTag, out var v) && (string?)v == loop).Select(m => m.Value).ToArray();

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void All_five_instruments_report_with_the_loop_name_tag(EventLoopBackend backend)
    {
        using var events = new MetricCollector<long>(null, Meter, "noblock.loop.events");
        using var stalls = new MetricCollector<long>(null, Meter, "noblock.loop.stalls");
        using var duration = new MetricCollector<double>(null, Meter, "noblock.loop.handler.duration");
        using var lag = new MetricCollector<double>(null, Meter, "noblock.loop.lag");
        using var utilization = new MetricCollector<double>(null, Meter, "noblock.loop.utilization");
        var reports = new ReportCollector();
        var (r, w) = Fds.Pipe();
        try
        {
            using var lt = new LoopThread(Backends.Loop(backend, reports.Options("metered", TimeSpan.FromMilliseconds(50))));
            lt.Invoke(() => lt.Loop.Register(r, IoEvents.Readable, e => Fds.Drain(e.Fd)));
            Fds.Write(w);
            Waits.Until(() => Of(events, "metered").Sum() >= 1, "an event counted");
            lt.Loop.Post(() => Thread.Sleep(200));
            reports.WaitFor(StallPhase.Ended);

            Assert.Equal(1, Of(stalls, "metered").Sum());
            Assert.Contains(Of(duration, "metered"), s => s >= 0.2); // seconds
            // The lag probe runs while someone listens; the sleep above made at least one probe late.
            Waits.Until(() => Of(lag, "metered").Length > 0, "a lag sample from the probe");
            utilization.RecordObservableInstruments();
            var shares = Of(utilization, "metered");
            Assert.NotEmpty(shares);
            Assert.All(shares, u => Assert.InRange(u, 0.0, 1.0));

            Assert.Equal("s", duration.Instrument!.Unit);
            Assert.Equal("s", lag.Instrument!.Unit);
            Assert.Equal("{stall}", stalls.Instrument!.Unit);
            Assert.Equal("{event}", events.Instrument!.Unit);
            Assert.Equal("1", utilization.Instrument!.Unit);
            var advice = ((Histogram<double>)duration.Instrument).Advice?.HistogramBucketBoundaries;
            Assert.NotNull(advice);
            Assert.Contains(0.1, advice!); // the default threshold is a bucket boundary
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_busy_loop_shows_high_utilization_and_an_idle_one_low(EventLoopBackend backend)
    {
        using var utilization = new MetricCollector<double>(null, Meter, "noblock.loop.utilization");
        using var busy = new LoopThread(Backends.Loop(backend, new EventLoopOptions { Name = "busy", StallThreshold = Timeout.InfiniteTimeSpan }));
        using var idle = new LoopThread(Backends.Loop(backend, new EventLoopOptions { Name = "idle" }));
        utilization.RecordObservableInstruments(); // start both windows
        busy.Loop.Post(() => StallWatchdogTests.Spin(TimeSpan.FromMilliseconds(300)));
        busy.RunTurns(1);
        utilization.RecordObservableInstruments();
        var busyShare = Of(utilization, "busy")[^1];
        var idleShare = Of(utilization, "idle")[^1];
        Assert.True(busyShare > idleShare, $"busy {busyShare:0.00}, idle {idleShare:0.00}");
    }
}
