using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using NoBlock.Tests.Runtime;
using Xunit;

namespace NoBlock.Tests.Diagnostics;

/// <summary>The five instruments of meter NoBlock, observed the way dotnet-counters and OpenTelemetry see them: a MeterListener.</summary>
public sealed class LoopMetricsTests
{
    private sealed class Recorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<(string Instrument, double Value, string? Loop)> _measurements = new();

        public Recorder()
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "NoBlock")
                {
                    Instruments[instrument.Name] = instrument;
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
            _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
            _listener.Start();
        }

        public ConcurrentDictionary<string, Instrument> Instruments { get; } = new();

        public (string Instrument, double Value, string? Loop)[] Measurements => _measurements.ToArray();

        public double[] Of(string instrument, string loop) =>
            Measurements.Where(m => m.Instrument == instrument && m.Loop == loop).Select(m => m.Value).ToArray();

        public void Observe() => _listener.RecordObservableInstruments();

        private void Add(Instrument i, double v, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? loop = null;
            foreach (var t in tags)
            {
                if (t.Key == "noblock.loop.name")
                {
                    loop = t.Value as string;
                }
            }
            _measurements.Enqueue((i.Name, v, loop));
        }

        public void Dispose() => _listener.Dispose();
    }

    [Fact]
    public void All_five_instruments_report_with_the_loop_name_tag()
    {
        using var recorder = new Recorder();
        var reports = new ReportCollector();
        var (r, w) = Fds.Pipe();
        try
        {
            using var lt = new LoopThread(reports.Options("metered", TimeSpan.FromMilliseconds(50)));
            lt.Invoke(() => lt.Loop.Register(r, IoEvents.Readable, e => Fds.Drain(e.Fd)));
            Fds.Write(w);
            Waits.Until(() => recorder.Of("noblock.loop.events", "metered").Sum() >= 1, "an event counted");
            lt.Loop.Post(() => Thread.Sleep(200));
            reports.WaitFor(StallPhase.Ended);

            Assert.Equal(1, recorder.Of("noblock.loop.stalls", "metered").Sum());
            Assert.Contains(recorder.Of("noblock.loop.handler.duration", "metered"), s => s >= 0.2); // seconds
            // The lag probe runs while someone listens; the sleep above made at least one probe late.
            Waits.Until(() => recorder.Of("noblock.loop.lag", "metered").Length > 0, "a lag sample from the probe");
            recorder.Observe();
            var utilization = recorder.Of("noblock.loop.utilization", "metered");
            Assert.NotEmpty(utilization);
            Assert.All(utilization, u => Assert.InRange(u, 0.0, 1.0));

            Assert.Equal("s", recorder.Instruments["noblock.loop.handler.duration"].Unit);
            Assert.Equal("s", recorder.Instruments["noblock.loop.lag"].Unit);
            Assert.Equal("{stall}", recorder.Instruments["noblock.loop.stalls"].Unit);
            Assert.Equal("{event}", recorder.Instruments["noblock.loop.events"].Unit);
            Assert.Equal("1", recorder.Instruments["noblock.loop.utilization"].Unit);
            var advice = ((Histogram<double>)recorder.Instruments["noblock.loop.handler.duration"]).Advice?.HistogramBucketBoundaries;
            Assert.NotNull(advice);
            Assert.Contains(0.1, advice!); // the default threshold is a bucket boundary
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Fact]
    public void A_busy_loop_shows_high_utilization_and_an_idle_one_low()
    {
        using var recorder = new Recorder();
        using var busy = new LoopThread(new EventLoopOptions { Name = "busy", StallThreshold = Timeout.InfiniteTimeSpan });
        using var idle = new LoopThread(new EventLoopOptions { Name = "idle" });
        recorder.Observe(); // start both windows
        using var done = new ManualResetEventSlim();
        busy.Loop.Post(() => StallWatchdogTests.Spin(TimeSpan.FromMilliseconds(300)));
        busy.RunTurns(1);
        recorder.Observe();
        var busyShare = recorder.Of("noblock.loop.utilization", "busy")[^1];
        var idleShare = recorder.Of("noblock.loop.utilization", "idle")[^1];
        Assert.True(busyShare > idleShare, $"busy {busyShare:0.00}, idle {idleShare:0.00}");
    }
}
