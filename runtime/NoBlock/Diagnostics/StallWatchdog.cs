using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace NoBlock.Diagnostics;

/// <summary>
/// The process's one stall watchdog: a dedicated background thread (not the thread pool, which can starve too)
/// that looks at an idle loop every quarter threshold and at a busy one at its running handler's deadline. A
/// handler running past its loop's <see cref="EventLoopOptions.StallThreshold"/> is reported with what the loop thread is doing (blocked in a
/// syscall, running, or starved), again at 2×, 4×, … the threshold while it lasts, and once more when it ends —
/// at most <see cref="StallWatchdogOptions.MaxReportsPerMinute"/> reports a minute per loop, then one
/// "suppressed N". It also delivers the runtime guards' findings, so no user sink ever runs on a loop thread.
/// </summary>
/// <remarks>
/// The loop side costs nothing extra per dispatch: the watchdog only reads <see cref="LoopActivity"/> (a
/// timestamp and a handler written before each dispatch, read with <c>Volatile.Read</c>).
/// </remarks>
internal static class StallWatchdog
{
    /// <summary>
    /// How often an idle loop (no handler running) is looked at, in thresholds. A handler that starts right after a
    /// look is first seen at most this late; from then on the watchdog sleeps until that handler's own deadline
    /// (start + threshold), so a stall is reported at the threshold plus the watchdog thread's wake-up delay, inside
    /// the 1.25× target. A quarter: 40 wake-ups a second at the default threshold for an idle loop, fewer for a busy
    /// one (bench/WATCHDOG.md: a fixed eighth-threshold tick cost measurable throughput when the watchdog shared a
    /// core with the loop).
    /// </summary>
    internal const int IdleChecksPerThreshold = 4;

    /// <summary>Shortest check interval: a tiny threshold must not turn the watchdog into a spinning thread.</summary>
    private static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(1);

    /// <summary>Longest check interval (and the interval with no loop watched): guard findings wait at most this long.</summary>
    private static readonly TimeSpan MaxInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Guard findings waiting for delivery beyond this are dropped (a loop thread must never wait for the watchdog).</summary>
    private const int MaxQueuedFindings = 1024;

    private static readonly object Gate = new();
    private static readonly AutoResetEvent Wake = new(false);
    private static readonly ConcurrentQueue<(LoopWatch Watch, GuardReport Report)> Findings = new();
    private static LoopWatch[] _watches = [];
    private static Thread? _thread;
    private static int _queuedFindings;

    [ThreadStatic]
    private static LoopWatch? t_current;

    /// <summary>The watch of the loop running on the calling thread, or null (the guards' cheap "am I on a loop?").</summary>
    internal static LoopWatch? Current => t_current;

    /// <summary>Called by <see cref="EventLoop.Run"/> on the loop thread before the first turn.</summary>
    public static void Attach(EventLoop loop)
    {
        LoopWatch watch;
        lock (Gate)
        {
            watch = Array.Find(_watches, w => ReferenceEquals(w.Loop, loop)) ?? new LoopWatch(loop);
            watch.Restart();
            if (Array.IndexOf(_watches, watch) < 0)
            {
                _watches = [.. _watches, watch];
            }
            if (_thread is null)
            {
                _thread = new Thread(RunWatchdog) { IsBackground = true, Name = "NoBlock watchdog" };
                _thread.Start();
            }
        }
        t_current = watch;
        if (watch.RuntimeWaitEvents)
        {
            RuntimeWaitContext.Follow(loop.Activity.OsThreadId, watch);
        }
        if (watch.SyncWaitGuard)
        {
            SyncWaitGuard.EnsureListening();
        }
        Wake.Set(); // recompute the interval for this loop's threshold
    }

    /// <summary>Called by <see cref="EventLoop.Run"/> on the loop thread when it returns. The watchdog finishes the loop's last stall, then drops it.</summary>
    public static void Detach(EventLoop loop)
    {
        var watch = t_current;
        t_current = null;
        if (watch is not null && ReferenceEquals(watch.Loop, loop))
        {
            RuntimeWaitContext.Unfollow(loop.Activity.OsThreadId);
            watch.Detached = true;
            Wake.Set();
        }
    }

    /// <summary>Queues a guard finding for delivery on the watchdog thread. Called on a loop thread: never blocks.</summary>
    internal static void Report(LoopWatch watch, GuardReport report)
    {
        if (Interlocked.Increment(ref _queuedFindings) > MaxQueuedFindings)
        {
            Interlocked.Decrement(ref _queuedFindings);
            Interlocked.Increment(ref watch.DroppedFindings);
            return;
        }
        Findings.Enqueue((watch, report));
    }

    private static void RunWatchdog()
    {
        long maxWait = ToTicks(MaxInterval), minWait = ToTicks(MinInterval);
        long nextWake = Stopwatch.GetTimestamp() + maxWait;
        while (true)
        {
            long wait = Math.Clamp(nextWake - Stopwatch.GetTimestamp(), minWait, maxWait);
            Wake.WaitOne(TimeSpan.FromTicks((long)(wait * ((double)TimeSpan.TicksPerSecond / Stopwatch.Frequency))));
            var watches = Volatile.Read(ref _watches);
            long now = Stopwatch.GetTimestamp();
            bool quiet = Debugger.IsAttached;
            // Wake again at the earliest deadline any loop asks for (or to feed the lag probe, or the idle maximum).
            nextWake = now + (AnyLagListener(watches) ? ToTicks(LagProbe.Interval) : maxWait);
            foreach (var w in watches)
            {
                try
                {
                    nextWake = Math.Min(nextWake, w.Check(now, quiet));
                }
                catch (Exception ex)
                {
                    // Nothing a loop or a sink does may stop the watchdog: say so once and carry on.
                    w.NoteFailure("the watchdog's check", ex);
                }
            }
            DeliverFindings();
            RemoveDetached();
        }
    }

    /// <summary>Someone listens to the lag histogram of a watched loop's meter (loops may record on different meters).</summary>
    private static bool AnyLagListener(LoopWatch[] watches)
    {
        foreach (var w in watches)
        {
            if (w.Loop.Metrics.Lag.Enabled)
            {
                return true;
            }
        }
        return false;
    }

    internal static long ToTicks(TimeSpan t) => (long)(t.Ticks * ((double)Stopwatch.Frequency / TimeSpan.TicksPerSecond));

    private static void DeliverFindings()
    {
        while (Findings.TryDequeue(out var item))
        {
            Interlocked.Decrement(ref _queuedFindings);
            item.Watch.DeliverFinding(item.Report);
        }
    }

    private static void RemoveDetached()
    {
        lock (Gate)
        {
            if (Array.Exists(_watches, w => w.Detached && w.Idle))
            {
                _watches = Array.FindAll(_watches, w => !(w.Detached && w.Idle));
            }
        }
    }
}

/// <summary>The watchdog's view of one loop. All state but <see cref="Detached"/> and the counters is the watchdog thread's.</summary>
internal sealed class LoopWatch
{
    private readonly LoopActivity _activity;
    private readonly EventLoopOptions _options;
    private readonly KeyValuePair<string, object?> _nameTag;
    private readonly RateLimit _stallLimit;
    private readonly RateLimit[] _guardLimits;

    // The stall being followed (0: none).
    private long _start;
    private object? _handler;
    private int _fd;
    private IoEvents _events;
    private long _nextMultiple;
    private bool _reported;
    private ThreadStateSample _baseline;
    private bool _hasBaseline;

    private int _sinkFailures;
    private readonly LagProbe _lagProbe;
    private readonly Sockets.StallSocketWatch _sockets;

    public LoopWatch(EventLoop loop)
    {
        Loop = loop;
        _activity = loop.Activity;
        _options = loop.Options;
        _nameTag = new KeyValuePair<string, object?>(LoopMetrics.LoopNameTag, loop.Name);
        _stallLimit = new RateLimit();
        _guardLimits = [new RateLimit(), new RateLimit()];
        _lagProbe = new LagProbe(loop);
        _sockets = new Sockets.StallSocketWatch(loop);
        Restart();
    }

    public EventLoop Loop { get; }

    public volatile bool Detached;

    public int DroppedFindings;

    public TimeSpan Threshold { get; private set; }

    /// <summary>Stall detection is on for this loop (guards may still be on when it is off).</summary>
    public bool Watching { get; private set; }

    public bool SyncWaitGuard { get; private set; }

    public bool RuntimeWaitEvents { get; private set; }

    /// <summary>Written by <see cref="RuntimeWaitContext"/>: the loop thread waits for a contended lock.</summary>
    public volatile bool Contended;

    /// <summary>Written by <see cref="RuntimeWaitContext"/>: the wait handle wait the loop thread is in, or null.</summary>
    public volatile string? WaitHandleWait;

    /// <summary>The managed wait the runtime's events say the loop thread is in (null: none known).</summary>
    public string? CurrentWait => Contended ? "lock contention" : WaitHandleWait;

    /// <summary>No stall is being followed.</summary>
    public bool Idle => _start == 0;

    public string Name => Loop.Name;

    public LoopActivity Activity => _activity;

    /// <summary>Reads the options again (each Run may see changed options).</summary>
    public void Restart()
    {
        Threshold = _options.StallThreshold;
        Watching = _options.Watchdog.Enabled && Threshold > TimeSpan.Zero && Threshold != Timeout.InfiniteTimeSpan;
        SyncWaitGuard = _options.Guards.SyncWaits;
        RuntimeWaitEvents = _options.Watchdog.RuntimeWaitEvents;
        long window = ToTicks(_options.Watchdog.RateLimitWindow);
        _stallLimit.Configure(_options.Watchdog.MaxReportsPerMinute, window);
        foreach (var limit in _guardLimits)
        {
            limit.Configure(_options.Guards.MaxReportsPerMinute, window);
        }
        Detached = false;
        _lagProbe?.Reset();
    }

    /// <summary>Looks at the loop once; returns when it next needs a look (a Stopwatch timestamp).</summary>
    public long Check(long now, bool debuggerAttached)
    {
        if (!Detached)
        {
            _lagProbe.Tick(now);
        }
        int suppressed = _stallLimit.Roll(now);
        if (suppressed > 0)
        {
            Deliver(new StallReport(Name, TimeSpan.Zero, "", -1, false, null)
            {
                Phase = StallPhase.Suppressed,
                SuppressedCount = suppressed,
                Threshold = Threshold,
            });
        }
        for (int g = 0; g < _guardLimits.Length; g++)
        {
            suppressed = _guardLimits[g].Roll(now);
            if (suppressed > 0)
            {
                DeliverGuard(new GuardReport((LoopGuard)g, Name, "", -1, 0, null, suppressed));
            }
        }
        if (!Watching)
        {
            return long.MaxValue;
        }
        long threshold = Math.Max(1, ToTicks(Threshold));
        long idleLook = now + Math.Max(1, threshold / StallWatchdog.IdleChecksPerThreshold);
        if (!_activity.TryGetCurrentHandler(out long start, out object? handler, out int fd, out IoEvents events))
        {
            FinishStall(now);
            return idleLook;
        }
        if (start != _start)
        {
            FinishStall(now);
            _start = start;
            _handler = handler;
            _fd = fd;
            _events = events;
            _nextMultiple = 1;
            _reported = false;
            _hasBaseline = false;
        }
        long elapsed = now - start;
        if (_reported)
        {
            _sockets.Refresh(now); // what piles up while the loop is stalled, for the end report
        }
        int tid = _activity.OsThreadId;
        if (!_hasBaseline)
        {
            // The first look at a handler starts the window its CPU and run-queue times are measured over. On a busy
            // loop the watchdog wakes only at handler deadlines (a few times a second), so this /proc read is rare.
            _baseline = ThreadStateSample.Read(tid);
            _hasBaseline = true;
        }
        if (debuggerAttached && _options.Watchdog.QuietUnderDebugger)
        {
            return idleLook;
        }
        long multiple = elapsed / threshold; // whole thresholds elapsed: 1, 2, 3 …
        if (multiple < _nextMultiple)
        {
            // Sleep until this handler's next deadline. A handler younger than the threshold has its deadline before
            // any later handler's; one past it (its next deadline 2×, 4× … away, or none) is also looked at every
            // idle interval, to see it end and a new handler start.
            long next = Deadline(start, threshold);
            return multiple >= 1 ? Math.Min(next, idleLook) : next;
        }
        var sample = ThreadStateSample.Read(tid);
        var kind = Classify(_baseline, sample, threshold / 4, out long cpu, out long runQueue, out long window);
        if (!_reported && _nextMultiple == 1)
        {
            Loop.Metrics.Stalls.Add(1, _nameTag);
        }
        var report = new StallReport(Name, FromTicks(elapsed), HandlerNames.Describe(handler), fd, kind == StallKind.Blocked, kind == StallKind.Blocked ? sample.Syscall : null)
        {
            Events = events,
            Kind = kind,
            Phase = _reported ? StallPhase.StillStalled : StallPhase.Stalled,
            ThreadState = sample.State,
            ManagedWait = kind == StallKind.Blocked ? CurrentWait : null,
            CpuTime = FromTicks(cpu),
            RunQueueDelay = FromTicks(runQueue),
            ObservedTime = FromTicks(window),
            Threshold = Threshold,
        };
        if (_stallLimit.TryTake(now))
        {
            _activity.RequestEndTimestamp(); // before the sink runs: the handler may return meanwhile
            bool first = !_reported;
            _reported = true;
            Deliver(report);
            if (first)
            {
                _sockets.Begin(now); // after the alert, which must not wait for a look at every socket
            }
        }
        // Next report at the first power of two past the elapsed time (2×, 4×, 8× …), or never.
        if (_options.Watchdog.Escalate)
        {
            while (_nextMultiple <= multiple && _nextMultiple < long.MaxValue / 2)
            {
                _nextMultiple *= 2;
            }
        }
        else
        {
            _nextMultiple = long.MaxValue;
        }
        return Math.Min(Deadline(start, threshold), idleLook); // past the threshold: see above
    }

    /// <summary>start + threshold × the next multiple, or long.MaxValue when that is beyond reach.</summary>
    private long Deadline(long start, long threshold) =>
        _nextMultiple > (long.MaxValue - start) / threshold ? long.MaxValue : start + threshold * _nextMultiple;

    /// <summary>
    /// Blocked when the thread sleeps (state S or D) and used little CPU; starved when it is runnable but waited
    /// for a CPU longer than it ran; otherwise running.
    /// </summary>
    /// <param name="before">The first look at the handler.</param>
    /// <param name="after">The look now.</param>
    /// <param name="minWindowTicks">Shorter windows say too little about CPU shares: the thread's state decides alone.</param>
    /// <param name="cpuTicks">CPU time in the window (Stopwatch ticks).</param>
    /// <param name="runQueueTicks">Run-queue wait in the window (Stopwatch ticks).</param>
    /// <param name="windowTicks">The window's wall time (Stopwatch ticks).</param>
    internal static StallKind Classify(ThreadStateSample before, ThreadStateSample after, long minWindowTicks, out long cpuTicks, out long runQueueTicks, out long windowTicks)
    {
        windowTicks = after.Timestamp - before.Timestamp;
        cpuTicks = NanosToTicks(Math.Max(0, after.CpuNanoseconds - before.CpuNanoseconds));
        runQueueTicks = NanosToTicks(Math.Max(0, after.RunQueueNanoseconds - before.RunQueueNanoseconds));
        bool sleeping = after.State is 'S' or 'D' or 'I';
        bool longEnough = windowTicks > 0 && windowTicks >= minWindowTicks;
        // Over the observed window (from the first look at the handler): a thread that slept at the sample but was on
        // CPU more than half the window is a CPU-bound handler that yields now and then, not a blocked one.
        bool mostlyOnCpu = longEnough && cpuTicks * 2 > windowTicks;
        if (sleeping && !mostlyOnCpu)
        {
            return StallKind.Blocked;
        }
        if (after.HasRunQueue && longEnough && runQueueTicks > cpuTicks)
        {
            return StallKind.Starved;
        }
        return StallKind.Running;
    }

    private void FinishStall(long now)
    {
        if (_start == 0)
        {
            return;
        }
        var cost = _reported ? _sockets.End() : default;
        if (_reported && _options.Watchdog.ReportEnd)
        {
            long end = _activity.TryGetEndTimestamp(_start, out long ended) ? ended : now;
            Deliver(new StallReport(Name, FromTicks(end - _start), HandlerNames.Describe(_handler), _fd, false, null)
            {
                Events = _events,
                Phase = StallPhase.Ended,
                Sockets = cost.Sockets,
                NetworkCountersGrowth = cost.Growth,
                Threshold = Threshold,
            });
        }
        _start = 0;
        _handler = null;
        _reported = false;
    }

    public void DeliverFinding(GuardReport report)
    {
        if (_guardLimits[(int)report.Guard].TryTake(Stopwatch.GetTimestamp()))
        {
            DeliverGuard(report);
        }
    }

    private void Deliver(StallReport report)
    {
        bool delivered = false;
        if (_options.OnStall is { } onStall)
        {
            delivered = true;
            try
            {
                onStall(report);
            }
            catch (Exception ex)
            {
                NoteFailure("EventLoopOptions.OnStall", ex);
            }
        }
        if (_options.Logger is { } logger)
        {
            delivered = true;
            try
            {
                var level = report.Phase == StallPhase.Ended ? LogLevel.Information : LogLevel.Warning;
                logger.Log(level, StallLogState.EventIdFor(report.Phase), new StallLogState(report), null, static (s, _) => s.ToString());
            }
            catch (Exception ex)
            {
                NoteFailure("EventLoopOptions.Logger", ex);
            }
        }
        if (!delivered && _options.Watchdog.StandardErrorWhenNoSink)
        {
            WriteStandardError(report.ToString());
        }
    }

    private void DeliverGuard(GuardReport report)
    {
        bool delivered = false;
        if (_options.Guards.OnReport is { } onReport)
        {
            delivered = true;
            try
            {
                onReport(report);
            }
            catch (Exception ex)
            {
                NoteFailure("LoopGuardOptions.OnReport", ex);
            }
        }
        if (_options.Logger is { } logger)
        {
            delivered = true;
            try
            {
                logger.Log(LogLevel.Warning, StallLogState.GuardEventId, new GuardLogState(report), null, static (s, _) => s.ToString());
            }
            catch (Exception ex)
            {
                NoteFailure("EventLoopOptions.Logger", ex);
            }
        }
        if (!delivered && _options.Watchdog.StandardErrorWhenNoSink)
        {
            WriteStandardError(report.ToString());
        }
    }

    /// <summary>A sink threw: say so on standard error (the first few times), and go on.</summary>
    public void NoteFailure(string what, Exception ex)
    {
        // Three is enough to notice; more would be the flood the rate limit exists to prevent.
        const int MaxFailureNotes = 3;
        if (Interlocked.Increment(ref _sinkFailures) <= MaxFailureNotes)
        {
            WriteStandardError($"NoBlock: loop '{Name}': {what} threw {ex.GetType().Name}: {ex.Message} (the watchdog goes on)");
        }
    }

    private static void WriteStandardError(string line)
    {
        try
        {
            Console.Error.WriteLine(line);
        }
        catch (Exception)
        {
            // stderr closed: nowhere left to say it
        }
    }

    private static long ToTicks(TimeSpan t) => (long)(t.Ticks * ((double)Stopwatch.Frequency / TimeSpan.TicksPerSecond));

    private static TimeSpan FromTicks(long stopwatchTicks) => TimeSpan.FromTicks((long)(stopwatchTicks * ((double)TimeSpan.TicksPerSecond / Stopwatch.Frequency)));

    private static long NanosToTicks(long ns) => (long)(ns * (Stopwatch.Frequency / 1e9));

    /// <summary>At most N a window (a minute by default), counting the rest; the count is reported once when the window ends.</summary>
    private sealed class RateLimit
    {
        private long _windowStart;
        private int _taken;
        private int _suppressed;
        private int _limit = 5;
        private long _window = Stopwatch.Frequency * 60;

        public void Configure(int limit, long windowTicks)
        {
            _limit = Math.Max(0, limit);
            _window = Math.Max(1, windowTicks);
        }

        public bool TryTake(long now)
        {
            if (_windowStart == 0)
            {
                _windowStart = now;
            }
            if (_taken < _limit)
            {
                _taken++;
                return true;
            }
            _suppressed++;
            return false;
        }

        /// <summary>Closes the window once it is over; returns how many were suppressed in it (0 while it lasts).</summary>
        public int Roll(long now)
        {
            if (_windowStart == 0 || now - _windowStart < _window)
            {
                return 0;
            }
            int suppressed = _suppressed;
            _windowStart = 0;
            _taken = 0;
            _suppressed = 0;
            return suppressed;
        }
    }
}
