using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using NoBlock;
using NoBlock.Tcp;

namespace WatchdogCost;

/// <summary>
/// Two measurements for bench/watchdog.sh:
/// <list type="bullet">
/// <item><c>serve --port N --mode on|off</c>: a one-loop TCP echo server (NoBlock's TcpAcceptor/TcpConnection, level-
/// triggered). <c>on</c>: the stall watchdog watches the loop and an in-process MeterListener aggregates all five
/// NoBlock instruments the way an exporter does (histogram buckets, counter sums, the gauge read once a second).
/// <c>off</c>: watchdog disabled, nobody listens (the instruments are then skipped entirely).</item>
/// <item><c>pingpong --slices N --slice-ms MS --conns C</c>: the same echo server in-process with C client connections
/// ping-ponging 64-byte messages from one client thread, and the mode flipped every slice (the loop is stopped, its
/// options changed, and run again; the metrics listener created or disposed): on and off share the machine's noise
/// at a fine grain. Prints round trips per second for each slice, the medians, and the median of the ratios of
/// neighbouring on/off slices.</item>
/// <item><c>latency --stalls N</c>: N stalls (alternately a 300 ms sleep and a 300 ms spin) on a loop with the
/// default 100 ms threshold; prints, per stall, the time from the handler's start to the first report's arrival
/// in OnStall, and the median and max.</item>
/// </list>
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "serve")
        {
            return Serve(Arg(args, "--port", 7301), Arg(args, "--mode", "on") == "on");
        }
        if (args.Length > 0 && args[0] == "pingpong")
        {
            string what = Arg(args, "--on", "watchdog,metrics");
            return PingPong(Arg(args, "--slices", 20), Arg(args, "--slice-ms", 1000), Arg(args, "--conns", 1), what.Contains("watchdog"), what.Contains("metrics"));
        }
        if (args.Length > 0 && args[0] == "latency")
        {
            return Latency(Arg(args, "--stalls", 20));
        }
        Console.Error.WriteLine("usage: WatchdogCost serve --port N --mode on|off | pingpong --slices N --slice-ms MS --conns C | latency --stalls N");
        return 2;
    }

    private static int Arg(string[] args, string name, int fallback) =>
        int.TryParse(Arg(args, name, ""), out int v) ? v : fallback;

    private static string Arg(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    private static int Serve(int port, bool on)
    {
        var options = new EventLoopOptions
        {
            Name = "bench",
            Watchdog = { Enabled = on },
            Guards = { EdgeTriggeredLeftovers = false, SyncWaits = false },
        };
        using var exporter = on ? new InProcessExporter() : null;
        using var loop = new EventLoop(options);
        TcpAcceptor.Listen(loop, new IPEndPoint(IPAddress.Loopback, port), () => new Echo(), new TcpServerOptions { Backlog = 4096 });
        var thread = new Thread(loop.Run) { Name = "bench loop" };
        thread.Start();
        using var stop = new ManualResetEventSlim();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Set(); });
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.Set(); });
        Console.WriteLine($"WatchdogCost listening on 127.0.0.1:{port}, watchdog and metrics {(on ? "on" : "off")}");
        Console.Out.Flush();
        stop.Wait();
        loop.Stop();
        thread.Join();
        if (exporter is not null)
        {
            Console.WriteLine($"exported: {exporter.Summary()}");
        }
        return 0;
    }

    private sealed class Echo : TcpConnection
    {
        protected override void OnData(ReadOnlySpan<byte> data) => Send(data);
    }

    /// <summary>What an exporter does with the measurements: bucket the histograms, sum the counters, poll the gauge.</summary>
    private sealed class InProcessExporter : IDisposable
    {
        private static readonly double[] Bounds = [0.00001, 0.0001, 0.001, 0.01, 0.1, 1, 10];
        private readonly MeterListener _listener = new();
        private readonly long[] _durationBuckets = new long[Bounds.Length + 1];
        private readonly long[] _lagBuckets = new long[Bounds.Length + 1];
        private readonly Timer _poll;
        private long _events, _stalls;
        private double _utilization;

        public InProcessExporter()
        {
            _listener.InstrumentPublished = (i, l) =>
            {
                // WATCHDOGCOST_ONLY=instrument limits the listener to one instrument (to find where a cost comes from).
                var only = Environment.GetEnvironmentVariable("WATCHDOGCOST_ONLY");
                if (i.Meter.Name == "NoBlock" && (string.IsNullOrEmpty(only) || i.Name == only))
                {
                    l.EnableMeasurementEvents(i);
                }
            };
            _listener.SetMeasurementEventCallback<long>((i, v, _, _) =>
            {
                if (i.Name == "noblock.loop.events")
                {
                    Interlocked.Add(ref _events, v);
                }
                else
                {
                    Interlocked.Add(ref _stalls, v);
                }
            });
            _listener.SetMeasurementEventCallback<double>((i, v, _, _) =>
            {
                switch (i.Name)
                {
                    case "noblock.loop.handler.duration":
                        Interlocked.Increment(ref _durationBuckets[Bucket(v)]);
                        break;
                    case "noblock.loop.lag":
                        Interlocked.Increment(ref _lagBuckets[Bucket(v)]);
                        break;
                    default:
                        _utilization = v;
                        break;
                }
            });
            _listener.Start();
            // dotnet-counters' default refresh interval.
            _poll = new Timer(_ => _listener.RecordObservableInstruments(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        }

        private static int Bucket(double v)
        {
            int i = 0;
            while (i < Bounds.Length && v > Bounds[i])
            {
                i++;
            }
            return i;
        }

        public string Summary() =>
            $"events {_events}, handler durations {_durationBuckets.Sum()}, lag samples {_lagBuckets.Sum()}, stalls {_stalls}, utilization {_utilization.ToString("0.00", CultureInfo.InvariantCulture)}";

        public void Dispose()
        {
            _poll.Dispose();
            _listener.Dispose();
        }
    }

    private static int PingPong(int slices, int sliceMs, int conns, bool watchdog, bool metrics)
    {
        const int MessageSize = 64;
        var options = new EventLoopOptions { Name = "pingpong", Guards = { EdgeTriggeredLeftovers = false, SyncWaits = false } };
        using var loop = new EventLoop(options);
        var acceptor = TcpAcceptor.Listen(loop, new IPEndPoint(IPAddress.Loopback, 0), () => new Echo(), new TcpServerOptions { Backlog = 256 });
        Thread StartLoop()
        {
            var t = new Thread(loop.Run) { Name = "pingpong loop" };
            t.Start();
            while (!loop.IsRunning)
            {
                Thread.Yield();
            }
            return t;
        }
        var thread = StartLoop();
        var clients = Enumerable.Range(0, conns).Select(_ =>
        {
            var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
            s.Connect(acceptor.LocalEndPoint);
            return s;
        }).ToArray();
        long roundTrips = 0;
        bool stop = false;
        var client = new Thread(() =>
        {
            var msg = new byte[MessageSize];
            var buf = new byte[MessageSize];
            while (!Volatile.Read(ref stop))
            {
                foreach (var c in clients)
                {
                    c.Send(msg);
                }
                foreach (var c in clients)
                {
                    int got = 0;
                    while (got < MessageSize)
                    {
                        got += c.Receive(buf, got, MessageSize - got, System.Net.Sockets.SocketFlags.None);
                    }
                }
                Interlocked.Add(ref roundTrips, clients.Length);
            }
        }) { Name = "pingpong client" };
        client.Start();
        Thread.Sleep(1000); // warm-up: JIT, tiering

        var results = new List<(int Slice, string Mode, double Rps, double LoopCpuUs, double WatchdogCpuUs)>();
        InProcessExporter? exporter = null;
        for (int i = 0; i < slices; i++)
        {
            // on/off, off/on, on/off …: each pair starts with the other mode than the previous pair.
            bool on = (i % 2 == 0) == (i / 2 % 2 == 0);
            loop.Stop();
            thread.Join();
            options.Watchdog.Enabled = on && watchdog;
            if (on && metrics && exporter is null)
            {
                exporter = new InProcessExporter();
            }
            else if (!(on && metrics) && exporter is not null)
            {
                exporter.Dispose();
                exporter = null;
            }
            thread = StartLoop();
            long loopCpu0 = ThreadCpuNs("pingpong loop"), watchdogCpu0 = ThreadCpuNs("NoBlock watchdo");
            long before = Interlocked.Read(ref roundTrips);
            var clock = Stopwatch.StartNew();
            Thread.Sleep(sliceMs);
            long after = Interlocked.Read(ref roundTrips);
            double seconds = clock.Elapsed.TotalSeconds;
            long loopCpu = ThreadCpuNs("pingpong loop") - loopCpu0, watchdogCpu = ThreadCpuNs("NoBlock watchdo") - watchdogCpu0;
            long n = Math.Max(1, after - before);
            results.Add((i, on ? "on" : "off", (after - before) / seconds, loopCpu / 1000.0 / n, watchdogCpu / 1000.0 / n));
        }
        Volatile.Write(ref stop, true);
        client.Join(TimeSpan.FromSeconds(5));
        loop.Stop();
        thread.Join();
        exporter?.Dispose();
        foreach (var c in clients)
        {
            c.Dispose();
        }

        foreach (var r in results)
        {
            Console.WriteLine($"{{\"slice\":{r.Slice},\"conns\":{conns},\"mode\":\"{r.Mode}\",\"rps\":{r.Rps.ToString("0", CultureInfo.InvariantCulture)}," +
                $"\"loop_cpu_us_per_rt\":{r.LoopCpuUs.ToString("0.000", CultureInfo.InvariantCulture)},\"watchdog_cpu_us_per_rt\":{r.WatchdogCpuUs.ToString("0.0000", CultureInfo.InvariantCulture)}}}");
        }
        double Median(IEnumerable<double> xs)
        {
            var a = xs.Order().ToArray();
            if (a.Length == 0)
            {
                return double.NaN;
            }
            return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
        }
        var ratios = new List<double>();
        var cpuRatios = new List<double>();
        for (int i = 0; i + 1 < results.Count; i += 2)
        {
            var pair = results.Skip(i).Take(2).ToArray();
            var onR = pair.First(p => p.Mode == "on");
            var offR = pair.First(p => p.Mode == "off");
            ratios.Add(onR.Rps / offR.Rps);
            cpuRatios.Add((onR.LoopCpuUs + onR.WatchdogCpuUs) / (offR.LoopCpuUs + offR.WatchdogCpuUs));
        }
        double cpuOn = Median(results.Where(r => r.Mode == "on").Select(r => r.LoopCpuUs + r.WatchdogCpuUs));
        double cpuOff = Median(results.Where(r => r.Mode == "off").Select(r => r.LoopCpuUs + r.WatchdogCpuUs));
        double medOn = Median(results.Where(r => r.Mode == "on").Select(r => r.Rps));
        double medOff = Median(results.Where(r => r.Mode == "off").Select(r => r.Rps));
        Console.WriteLine(
            $"{{\"summary\":true,\"conns\":{conns},\"slices\":{slices},\"slice_ms\":{sliceMs},\"median_on\":{medOn.ToString("0", CultureInfo.InvariantCulture)},\"median_off\":{medOff.ToString("0", CultureInfo.InvariantCulture)}," +
            $"\"ratio_of_medians\":{(medOn / medOff).ToString("0.000", CultureInfo.InvariantCulture)},\"median_pair_ratio\":{Median(ratios).ToString("0.000", CultureInfo.InvariantCulture)}," +
            $"\"cpu_us_per_rt_on\":{cpuOn.ToString("0.000", CultureInfo.InvariantCulture)},\"cpu_us_per_rt_off\":{cpuOff.ToString("0.000", CultureInfo.InvariantCulture)}," +
            $"\"cpu_ratio_of_medians\":{(cpuOn / cpuOff).ToString("0.000", CultureInfo.InvariantCulture)},\"cpu_median_pair_ratio\":{Median(cpuRatios).ToString("0.000", CultureInfo.InvariantCulture)}}}");
        return 0;
    }

    /// <summary>Time on CPU (schedstat, ns) of this process's threads whose name (comm, 15 characters) is <paramref name="comm"/>.</summary>
    private static long ThreadCpuNs(string comm)
    {
        long total = 0;
        foreach (var dir in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "comm")).Trim() == comm)
                {
                    total += long.Parse(File.ReadAllText(Path.Combine(dir, "schedstat")).Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
            catch (IOException)
            {
                // the thread exited while we looked
            }
        }
        return total;
    }

    private static int Latency(int stalls)
    {
        var threshold = TimeSpan.FromMilliseconds(100);
        long handlerStart = 0;
        var latencies = new List<(string Kind, double Ms, double ReportedMs)>();
        using var reported = new AutoResetEvent(false);
        var options = new EventLoopOptions
        {
            Name = "latency",
            StallThreshold = threshold,
            // Every stall must be reported: the per-minute limit would drop all but five.
            Watchdog = { MaxReportsPerMinute = int.MaxValue, Escalate = false, ReportEnd = false },
            OnStall = r =>
            {
                long now = Stopwatch.GetTimestamp();
                if (r.Phase == StallPhase.Stalled)
                {
                    latencies.Add((r.Kind.ToString(), Stopwatch.GetElapsedTime(Volatile.Read(ref handlerStart), now).TotalMilliseconds, r.Elapsed.TotalMilliseconds));
                    reported.Set();
                }
            },
        };
        using var loop = new EventLoop(options);
        var thread = new Thread(loop.Run) { Name = "latency loop" };
        thread.Start();
        for (int i = 0; i < stalls; i++)
        {
            bool sleep = i % 2 == 0;
            using var done = new ManualResetEventSlim();
            loop.Post(() =>
            {
                Volatile.Write(ref handlerStart, Stopwatch.GetTimestamp());
                if (sleep)
                {
                    Thread.Sleep(300);
                }
                else
                {
                    var sw = Stopwatch.StartNew();
                    while (sw.ElapsedMilliseconds < 300)
                    {
                    }
                }
                done.Set();
            });
            done.Wait();
            if (!reported.WaitOne(TimeSpan.FromSeconds(5)))
            {
                Console.WriteLine($"stall {i}: NOT REPORTED");
            }
            Thread.Sleep(50); // a gap, so each stall starts from an idle loop
        }
        loop.Stop();
        thread.Join();
        foreach (var (kind, ms, rep) in latencies)
        {
            Console.WriteLine($"{{\"kind\":\"{kind}\",\"detected_ms\":{ms.ToString("0.0", CultureInfo.InvariantCulture)},\"elapsed_in_report_ms\":{rep.ToString("0.0", CultureInfo.InvariantCulture)}}}");
        }
        var sorted = latencies.Select(l => l.Ms).Order().ToArray();
        if (sorted.Length == 0)
        {
            return 1;
        }
        double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        Console.WriteLine(
            $"{{\"summary\":true,\"threshold_ms\":{threshold.TotalMilliseconds},\"stalls\":{stalls},\"reported\":{sorted.Length}," +
            $"\"median_ms\":{median.ToString("0.0", CultureInfo.InvariantCulture)},\"max_ms\":{sorted[^1].ToString("0.0", CultureInfo.InvariantCulture)}," +
            $"\"max_over_threshold\":{(sorted[^1] / threshold.TotalMilliseconds).ToString("0.00", CultureInfo.InvariantCulture)}}}");
        return sorted.Length == stalls ? 0 : 1;
    }
}
