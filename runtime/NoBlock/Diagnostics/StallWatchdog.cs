using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using NoBlock.Metrics;

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

    /// <summary>
    /// At process exit, how long the reports held for a stack capture still wait for it. The watchdog is a background
    /// thread: without this flush, a program whose stall ends shortly before it exits (a test, a tool, a host stopping)
    /// loses the stall's reports with the process while their capture is still running.
    /// </summary>
    internal static readonly TimeSpan ExitCaptureWait = TimeSpan.FromSeconds(1);

    /// <summary>Slack on top of <see cref="ExitCaptureWait"/> for the watchdog to write the reports (a slow sink).</summary>
    private static readonly TimeSpan ExitDeliveryWait = TimeSpan.FromSeconds(1);

    /// <summary>What the reports a capture did not finish for at exit say instead of a stack.</summary>
    internal const string ExitReason = "the process exited before the capture finished";

    private static readonly object ExitGate = new();
    private static readonly ManualResetEventSlim Flushed = new(false);
    private static long _exitDeadline; // Stopwatch timestamp; 0: no exit flush asked for
    private static EventLoop? _exitOnly; // a test's flush of its own loop (null: every loop, as at exit)

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
                AppDomain.CurrentDomain.ProcessExit += (_, _) => FlushForExit();
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

    static StallWatchdog()
    {
        StackCapture.Completed = () => Wake.Set(); // a held report can go out
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

    /// <summary>
    /// Delivers every report still held for a stack capture before the process goes: with the stack when the capture
    /// finishes within <see cref="ExitCaptureWait"/>, else with "stack unavailable: <see cref="ExitReason"/>". Runs on
    /// the exiting thread (<see cref="AppDomain.ProcessExit"/>); the watchdog thread does the delivering, as always, and
    /// this waits for it, bounded, so a hung sink cannot hang the exit.
    /// </summary>
    /// <param name="only">Tests: flush this loop's reports only, leaving other tests' captures alone.</param>
    internal static void FlushForExit(EventLoop? only = null)
    {
        lock (ExitGate)
        {
            if (Volatile.Read(ref _thread) is null)
            {
                return;
            }
            Flushed.Reset();
            Volatile.Write(ref _exitOnly, only);
            Volatile.Write(ref _exitDeadline, Stopwatch.GetTimestamp() + ToTicks(ExitCaptureWait));
            Wake.Set();
            Flushed.Wait(ExitCaptureWait + ExitDeliveryWait);
            Volatile.Write(ref _exitDeadline, 0); // a process that goes on (a test) captures as before
        }
    }

    /// <summary>Queues a guard finding for delivery on the watchdog thread. Called on a loop thread: never blocks.</summary>
    internal static void Report(LoopWatch watch, GuardReport report)
    {
        if (Interlocked.Increment(ref _queuedFindings) > MaxQueuedFindings)
        {
            Interlocked.Decrement(ref _queuedFindings);
            watch.NoteDroppedFinding(report.Guard); // summed up with the suppressed ones when the window ends
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
            long exitDeadline = Volatile.Read(ref _exitDeadline);
            if (exitDeadline != 0)
            {
                nextWake = Math.Min(nextWake, FlushHeld(watches, now, exitDeadline));
            }
            RemoveDetached();
        }
    }

    /// <summary>The exit flush, on the watchdog thread: held reports go out once their capture is done or the exit cannot wait longer.</summary>
    private static long FlushHeld(LoopWatch[] watches, long now, long exitDeadline)
    {
        bool waiting = false;
        var only = Volatile.Read(ref _exitOnly);
        foreach (var w in watches)
        {
            if (only is not null && !ReferenceEquals(w.Loop, only))
            {
                continue;
            }
            try
            {
                w.DeliverHeld(now, now >= exitDeadline ? ExitReason : null);
            }
            catch (Exception ex)
            {
                w.NoteFailure("the watchdog's exit flush", ex);
            }
            waiting |= w.HoldsReports;
        }
        if (!waiting)
        {
            Flushed.Set();
        }
        return exitDeadline;
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
    private readonly int[] _droppedFindings;

    // The stall being followed (0: none).
    private long _start;
    private object? _handler;
    private int _fd;
    private IoEvents _events;
    private long _nextMultiple;
    private bool _reported;         // the stall's first report got through the rate limit
    private ThreadStateSample _baseline; // the previous look: the next verdict's window starts here
    private bool _hasBaseline;
    private StallReport? _last;     // the stall's last verdict, for its end report

    // The stack capture of the stall's first report, and the reports held until it is done (delivered in order).
    private StackCaptureRequest? _capture;
    private long _captureStart, _captureDeadline;
    private readonly List<(long Start, StallReport Report)> _held = new();
    private IReadOnlyList<StallStackFrame>? _stack; // the stack of the stall that started at _stackStart
    private long _stackStart;

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
        _droppedFindings = new int[_guardLimits.Length];
        _lagProbe = new LagProbe(loop);
        _sockets = new Sockets.StallSocketWatch(loop);
        Restart();
    }

    public EventLoop Loop { get; }

    public volatile bool Detached;

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

    /// <summary>Stall reports suppressed in the current window (tests).</summary>
    internal int SuppressedStallReports => _stallLimit.Suppressed;

    /// <summary>Reports wait for a stack capture.</summary>
    public bool HoldsReports => _held.Count > 0;

    /// <summary>No stall is being followed, and no report waits for a stack.</summary>
    public bool Idle => _start == 0 && _capture is null && _held.Count == 0;

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
        DeliverHeld(now);
        long next = CheckStall(now, debuggerAttached);
        DeliverHeld(now); // a capture asked for by this look may be answered at once (capture off, port unavailable)
        return _capture is null ? next : Math.Min(next, _captureDeadline);
    }

    /// <summary>
    /// Once the capture is done or its time is up — or <paramref name="cutShort"/> says why it cannot be waited for —
    /// the held reports go out, in order, with the stack.
    /// </summary>
    internal void DeliverHeld(long now, string? cutShort = null)
    {
        if (_capture is not { } capture || (!capture.Done && now < _captureDeadline && cutShort is null))
        {
            return;
        }
        IReadOnlyList<StallStackFrame>? frames = capture.Done ? capture.Frames : null;
        string? why = capture.Done ? capture.Unavailable
            : now >= _captureDeadline
                ? $"timed out after {_options.Watchdog.StackCaptureTimeout.TotalMilliseconds:0} ms (StallWatchdogOptions.StackCaptureTimeout)"
                : cutShort;
        _capture = null;
        _stack = frames;
        _stackStart = _captureStart;
        var held = _held.ToArray();
        _held.Clear();
        foreach (var (start, report) in held)
        {
            if (start == _captureStart && report.Phase is StallPhase.Stalled or StallPhase.Ended)
            {
                report.Stack = frames;
                report.StackUnavailable = report.Phase == StallPhase.Stalled ? why : null;
            }
            Deliver(report);
        }
    }

    /// <summary>Delivers now, or after the capture the reports before it wait for.</summary>
    private void DeliverInOrder(long start, StallReport report)
    {
        if (_capture is not null)
        {
            _held.Add((start, report));
        }
        else
        {
            Deliver(report);
        }
    }

    private long CheckStall(long now, bool debuggerAttached)
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
            int dropped = Interlocked.Exchange(ref _droppedFindings[g], 0);
            if (dropped > 0)
            {
                _guardLimits[g].Suppress(now, dropped);
            }
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
            _last = null;
        }
        long elapsed = now - start;
        if (_reported)
        {
            _sockets.Refresh(now); // what piles up while the loop is stalled, for the end report
        }
        int tid = _activity.OsThreadId;
        if (!_hasBaseline)
        {
            // The first look at a handler starts the window its CPU, run-queue and sleep times are measured over. On
            // a busy loop the watchdog wakes only at handler deadlines (a few times a second), so this /proc read is rare.
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
        // A verdict needs a window: a watchdog that first saw this handler late (it was starved itself) looks again
        // once the window is long enough, rather than judge from a few microseconds (that judged a sleeping handler
        // "running on CPU (0% CPU)").
        long minWindow = Math.Max(1, threshold / MinWindowDivisor);
        long windowEnd = _baseline.Timestamp + minWindow;
        if (now < windowEnd)
        {
            return windowEnd;
        }
        var sample = ThreadStateSample.Read(tid);
        var window = ThreadWindow.Between(_baseline, sample);
        _baseline = sample; // the next report's figures cover the time since this look
        var kind = window.Kind;
        if (!_reported && _nextMultiple == 1)
        {
            Loop.Metrics.Stalls.Add(1, _nameTag);
        }
        var report = new StallReport(Name, FromTicks(elapsed), HandlerNames.Describe(handler), fd, kind == StallKind.Blocked, null)
        {
            // A thread judged blocked may be runnable again at the look (its wait just ended): keep the syscall it sat in.
            Syscall = kind != StallKind.Blocked ? null : sample.Syscall ?? (_last is { Kind: StallKind.Blocked } previous ? previous.Syscall : null),
            Events = events,
            Kind = kind,
            Phase = _reported ? StallPhase.StillStalled : StallPhase.Stalled,
            ThreadState = sample.State,
            ManagedWait = kind == StallKind.Blocked ? CurrentWait : null,
            CpuTime = window.OnCpu,
            RunQueueDelay = window.WaitingForCpu,
            SleepTime = window.Asleep,
            ObservedTime = window.Observed,
            Threshold = Threshold,
        };
        _last = report;
        // An escalation never takes the window's last report while the end line is still to come: a long stall (or a
        // first report held seconds for its stack on a loaded machine) would otherwise spend the limit on "still
        // stalled" and lose the line that says how long it lasted and where it was seen.
        if (_stallLimit.TryTake(now, keepOne: _reported && _options.Watchdog.ReportEnd))
        {
            _activity.RequestEndTimestamp(); // before the sink runs: the handler may return meanwhile
            bool first = !_reported;
            _reported = true;
            if (first)
            {
                _sockets.Start();
            }
            if (first && _capture is null && _options.Watchdog.CaptureStack)
            {
                // The first report carries the stack: held until the capture (off this thread) is done or times out.
                _capture = StackCapture.Request(tid, start, _activity, _options.Watchdog.StackCaptureTimeout);
                _captureStart = start;
                _captureDeadline = now + ToTicks(_options.Watchdog.StackCaptureTimeout);
                _held.Add((start, report));
            }
            else
            {
                if (first)
                {
                    report.StackUnavailable = _options.Watchdog.CaptureStack
                        ? "the previous stall's capture was still running"
                        : "capture is off (StallWatchdogOptions.CaptureStack)";
                }
                DeliverInOrder(start, report);
            }
            if (first)
            {
                _sockets.Begin(now);
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
    /// The shortest window a verdict is made over, in thresholds (a half): long enough for the scheduler to have
    /// shared the CPU out a few times (its slices are a few milliseconds), short enough that a late first look delays
    /// the report by at most half a threshold. The watchdog's first look normally comes within a quarter threshold
    /// of the handler's start, so the window at the first report is normally three quarters of a threshold or more.
    /// </summary>
    internal const int MinWindowDivisor = 2;

    private void FinishStall(long now)
    {
        if (_start == 0)
        {
            return;
        }
        var cost = _reported ? _sockets.End() : default;
        // The end report counts against the same limit as the others (the docs promise at most N reports a window).
        if (_reported && _options.Watchdog.ReportEnd && _stallLimit.TryTake(now))
        {
            long end = _activity.TryGetEndTimestamp(_start, out long ended) ? ended : now;
            var last = _last!;
            DeliverInOrder(_start, new StallReport(Name, FromTicks(end - _start), last.Handler, _fd, last.Blocked, null)
            {
                Syscall = last.Syscall,
                Events = _events,
                Kind = last.Kind, // the verdict of the stall's last look (the thread has moved on by now)
                ManagedWait = last.ManagedWait,
                ThreadState = last.ThreadState,
                Phase = StallPhase.Ended,
                Sockets = cost.Sockets,
                NetworkCountersGrowth = cost.Growth,
                UdpDropsGrowth = cost.UdpDrops,
                Threshold = Threshold,
                Stack = _start == _stackStart ? _stack : null, // where the stall was seen (held reports get it on delivery)
            });
        }
        _start = 0;
        _handler = null;
        _reported = false;
        _last = null;
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
                Log(logger, report);
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
                Log(logger, report);
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

    /// <summary>One stall report as its log event (docs/watchdog.md, "Log events").</summary>
    private void Log(ILogger logger, StallReport r)
    {
        long elapsed = Ms(r.Elapsed);
        string events = EventsOrNone(r.Events), syscall = r.Syscall ?? RuntimeLog.None;
        switch (r.Phase)
        {
            case StallPhase.Suppressed:
                logger.StallReportsSuppressed(r.LoopName, r.SuppressedCount, _options.Watchdog.RateLimitWindow.TotalSeconds, _options.Watchdog.MaxReportsPerMinute);
                break;
            case StallPhase.Ended:
                var cost = r.DescribeSocketCost();
                logger.LoopStallEnded(r.LoopName, elapsed, r.Handler, r.Fd, events, r.StalledAt?.ToString() ?? RuntimeLog.None, r.Kind, syscall, cost.Length == 0 ? RuntimeLog.None : cost);
                break;
            case StallPhase.StillStalled:
                logger.LoopStillStalled(r.LoopName, elapsed, r.Handler, r.Fd, events, r.Kind, syscall, r.ManagedWait ?? RuntimeLog.None,
                    Ms(r.ObservedTime), Ms(r.CpuTime), Ms(r.RunQueueDelay), Ms(r.SleepTime), r.ThreadState.ToString(), Ms(r.Threshold));
                break;
            default:
                var stack = r.DescribeStack();
                logger.LoopStalled(r.LoopName, elapsed, r.Handler, r.Fd, events, r.Kind, syscall, r.ManagedWait ?? RuntimeLog.None,
                    Ms(r.ObservedTime), Ms(r.CpuTime), Ms(r.RunQueueDelay), Ms(r.SleepTime), r.ThreadState.ToString(), Ms(r.Threshold),
                    stack.Length == 0 ? RuntimeLog.None : stack);
                break;
        }
    }

    /// <summary>One guard finding as its log event.</summary>
    private void Log(ILogger logger, GuardReport r)
    {
        if (r.SuppressedCount > 0)
        {
            logger.GuardFindingsSuppressed(r.LoopName, r.SuppressedCount, r.Guard, _options.Watchdog.RateLimitWindow.TotalSeconds, _options.Guards.MaxReportsPerMinute);
        }
        else if (r.Guard == LoopGuard.SyncWait)
        {
            logger.SyncWaitOnLoopThread(r.LoopName, r.Handler, r.Fd, "NB0001", r.StackTrace ?? RuntimeLog.None);
        }
        else if (r.UnreadBytes >= 0)
        {
            logger.EdgeTriggeredBytesLeft(r.LoopName, r.Handler, r.UnreadBytes, r.Fd, "NB0003");
        }
        else
        {
            logger.EdgeTriggeredConnectionsLeft(r.LoopName, r.Handler, r.Fd, "NB0004");
        }
    }

    private static long Ms(TimeSpan t) => (long)Math.Round(t.TotalMilliseconds);

    private static string EventsOrNone(IoEvents events)
    {
        var words = StallReport.DescribeEvents(events);
        return words.Length == 0 ? RuntimeLog.None : words;
    }

    /// <summary>The guard's finding could not be queued (the queue was full): counted with the suppressed ones.</summary>
    public void NoteDroppedFinding(LoopGuard guard) => Interlocked.Increment(ref _droppedFindings[(int)guard]);

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

        /// <summary>Reports suppressed in this window so far (read by tests on other threads).</summary>
        public int Suppressed => Volatile.Read(ref _suppressed);

        /// <param name="now">Now (a Stopwatch timestamp).</param>
        /// <param name="keepOne">Leave the window's last report for a more important one (a stall's end after its escalations).</param>
        public bool TryTake(long now, bool keepOne = false)
        {
            if (_windowStart == 0)
            {
                _windowStart = now;
            }
            if (_taken < (keepOne && _limit > 1 ? _limit - 1 : _limit))
            {
                _taken++;
                return true;
            }
            _suppressed++;
            return false;
        }

        /// <summary>Counts <paramref name="count"/> reports that never reached <see cref="TryTake"/> (dropped on the way) as suppressed.</summary>
        public void Suppress(long now, int count)
        {
            if (_windowStart == 0)
            {
                _windowStart = now;
            }
            _suppressed += count;
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
