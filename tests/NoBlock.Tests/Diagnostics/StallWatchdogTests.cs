using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using NoBlock.Tests.Runtime;
using Xunit;

namespace NoBlock.Tests.Diagnostics;

/// <summary>
/// The stall watchdog on real loops and real threads. No test asserts how fast a stall was seen (the machine is
/// shared and noisy; detection latency is measured in bench/WatchdogCost): they wait generously for a report and
/// check what it says.
/// </summary>
public sealed class StallWatchdogTests
{
    private static readonly TimeSpan Threshold = TimeSpan.FromMilliseconds(50);

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_sleeping_fd_handler_is_reported_blocked_in_a_syscall_with_its_fd_and_events(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var (r, w) = Fds.Pipe();
        try
        {
            using var lt = new LoopThread(Backends.Loop(backend, reports.Options("sleepy", Threshold)));
            lt.Invoke(() => lt.Loop.Register(r, IoEvents.Readable, SleepingReader));
            Fds.Write(w);

            var report = reports.WaitFor(StallPhase.Stalled);
            Assert.Equal("sleepy", report.LoopName);
            Assert.Equal(StallKind.Blocked, report.Kind);
            Assert.True(report.Blocked);
            Assert.NotNull(report.Syscall);
            Assert.Contains(report.ThreadState, "SD");
            Assert.Equal(r, report.Fd);
            Assert.Equal(IoEvents.Readable, report.Events & IoEvents.Readable);
            Assert.Equal($"{nameof(StallWatchdogTests)}.{nameof(SleepingReader)}", report.Handler);
            Assert.True(report.Elapsed >= Threshold);
            Assert.StartsWith($"NoBlock: loop 'sleepy' stalled ", report.ToString());
            Assert.Contains($"in StallWatchdogTests.SleepingReader (fd {r}, readable): blocked in {report.Syscall}", report.ToString());

            var ended = reports.WaitFor(StallPhase.Ended);
            Assert.True(ended.Elapsed >= TimeSpan.FromMilliseconds(SleepMs), $"ended after {ended.Elapsed}");
            Assert.Equal(r, ended.Fd);
            Assert.Contains("stall ended after", ended.ToString());
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    private const int SleepMs = 300;

    private static void SleepingReader(IoEvent e)
    {
        Thread.Sleep(SleepMs);
        Fds.Drain(e.Fd);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_spinning_handler_is_reported_running_not_blocked(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        using var lt = new LoopThread(Backends.Loop(backend, reports.Options("spinner", Threshold)));
        lt.Loop.Post(() => reports.StallUntil("spinner", StallPhase.Stalled, spin: true));

        var report = reports.WaitFor(StallPhase.Stalled);
        Assert.False(report.Blocked, report.ToString() + $" cpu={report.CpuTime} rq={report.RunQueueDelay} sleep={report.SleepTime} obs={report.ObservedTime}");
        Assert.Null(report.Syscall);
        Assert.Equal('R', report.ThreadState);
        // Starved is also "not the handler sleeping": on an overloaded machine the spinner may wait for a CPU.
        Assert.True(report.Kind is StallKind.Running or StallKind.Starved, report.ToString());
        Assert.Equal(-1, report.Fd);
        Assert.Contains("(posted work or timer)", report.ToString());
        Assert.Contains("StallWatchdogTests.A_spinning_handler_is_reported_running_not_blocked (lambda)", report.Handler);
        reports.WaitFor(StallPhase.Ended);
    }

    internal static void Spin(TimeSpan duration)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < duration)
        {
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void One_watchdog_reports_stalls_on_several_loops_at_once(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        using var a = new LoopThread(Backends.Loop(backend, reports.Options("group-a", Threshold)));
        using var b = new LoopThread(Backends.Loop(backend, reports.Options("group-b", TimeSpan.FromMilliseconds(80))));
        using var quiet = new LoopThread(Backends.Loop(backend, reports.Options("group-quiet", Threshold)));
        a.Loop.Post(() => reports.StallUntil("group-a", StallPhase.Stalled));
        b.Loop.Post(() => reports.StallUntil("group-b", StallPhase.Stalled, spin: true));
        Waits.Until(() => reports.Stalls.Count(r => r.Phase == StallPhase.Ended) == 2, "both loops' stalls to end");
        Assert.Contains(reports.Stalls, r => r.LoopName == "group-a" && r.Kind == StallKind.Blocked);
        Assert.Contains(reports.Stalls, r => r.LoopName == "group-b" && !r.Blocked);
        Assert.DoesNotContain(reports.Stalls, r => r.LoopName == "group-quiet");
        Assert.Single(Process.GetCurrentProcess().Threads.Cast<ProcessThread>(), t => ThreadName(t.Id) == "NoBlock watchdo");
    }

    private static string? ThreadName(int tid)
    {
        try
        {
            return File.ReadAllText($"/proc/self/task/{tid}/comm").Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Ten_thousand_quick_handlers_make_no_report(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        // A threshold well above any quick handler yet far below a second: a report here would be a false alarm.
        using var lt = new LoopThread(Backends.Loop(backend, reports.Options("quick", TimeSpan.FromMilliseconds(250))));
        int ran = 0;
        for (int i = 0; i < 10_000; i++)
        {
            lt.Loop.Post(() => ran++);
        }
        Waits.Until(() => Volatile.Read(ref ran) == 10_000, "10,000 posted handlers");
        lt.RunTurns();
        Assert.Empty(reports.Stalls);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_long_stall_escalates_at_doubling_multiples_and_ends_once(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        using var lt = new LoopThread(Backends.Loop(backend, reports.Options("escalating", Threshold)));
        lt.Loop.Post(() => Thread.Sleep(500));

        reports.WaitFor(StallPhase.Ended);
        var all = reports.Stalls;
        Assert.Equal(StallPhase.Stalled, all[0].Phase);
        Assert.Equal(StallPhase.Ended, all[^1].Phase);
        Assert.Single(all, r => r.Phase == StallPhase.Ended);
        var ongoing = all.Where(r => r.Phase is StallPhase.Stalled or StallPhase.StillStalled).ToArray();
        Assert.True(ongoing.Length >= 2, string.Join(Environment.NewLine, all.Select(r => r.ToString())));
        for (int i = 0; i < ongoing.Length; i++)
        {
            // The i-th report comes at 2^i thresholds or later (a late watchdog may skip a multiple, never repeat one).
            Assert.True(ongoing[i].Elapsed >= Threshold * (1 << i), $"report {i} at {ongoing[i].Elapsed}");
            Assert.Equal(i == 0 ? StallPhase.Stalled : StallPhase.StillStalled, ongoing[i].Phase);
        }
        Assert.Contains("still stalled", ongoing[1].ToString());
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Reports_beyond_the_limit_are_counted_and_summed_up_once_per_window(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var options = reports.Options("limited", Threshold);
        options.Watchdog.MaxReportsPerMinute = 2;
        options.Watchdog.RateLimitWindow = TimeSpan.FromSeconds(3);
        options.Watchdog.Escalate = false;
        options.Watchdog.ReportEnd = false;
        using var lt = new LoopThread(Backends.Loop(backend, options));
        int done = 0;
        for (int i = 0; i < 5; i++)
        {
            lt.Loop.Post(() =>
            {
                Thread.Sleep(150);
                done++;
            });
        }
        Waits.Until(() => Volatile.Read(ref done) == 5, "five stalls");
        var summary = reports.WaitFor(StallPhase.Suppressed);
        var all = reports.Stalls;
        Assert.Equal(2, all.Count(r => r.Phase == StallPhase.Stalled));
        Assert.Equal(3, summary.SuppressedCount);
        Assert.Equal("NoBlock: loop 'limited': suppressed 3 stall report(s) in the last minute (report limit per minute reached)", summary.ToString());
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_throwing_sink_does_not_stop_the_watchdog(EventLoopBackend backend)
    {
        int calls = 0;
        var options = new EventLoopOptions
        {
            Name = "throwing-sink",
            StallThreshold = Threshold,
            OnStall = _ =>
            {
                Interlocked.Increment(ref calls);
                throw new InvalidOperationException("sink failure");
            },
        };
        using (var lt = new LoopThread(Backends.Loop(backend, options)))
        {
            lt.Loop.Post(() => Thread.Sleep(300));
            Waits.Until(() => Volatile.Read(ref calls) >= 2, "the sink to be called again after it threw");
        }

        // The watchdog thread is still alive for other loops.
        var reports = new ReportCollector();
        using var other = new LoopThread(Backends.Loop(backend, reports.Options("after-the-throw", Threshold)));
        other.Loop.Post(() => reports.StallUntil("after-the-throw", StallPhase.Stalled));
        reports.WaitFor(StallPhase.Stalled);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Stop_during_a_stall_lets_the_handler_finish_and_reports_the_end(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var lt = new LoopThread(Backends.Loop(backend, reports.Options("stopping", Threshold)));
        using var release = new ManualResetEventSlim();
        lt.Loop.Post(() => release.Wait(Waits.Long));
        reports.WaitFor(StallPhase.Stalled);

        lt.Loop.Stop();
        release.Set();
        lt.Dispose(); // joins the loop thread: Run returned
        Assert.Null(lt.RunError);
        var ended = reports.WaitFor(StallPhase.Ended);
        Assert.Equal("stopping", ended.LoopName);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_loop_run_again_after_Stop_is_watched_again(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        using var loop = Backends.Loop(backend, reports.Options("rerun", Threshold));
        for (int run = 1; run <= 2; run++)
        {
            var thread = new Thread(loop.Run) { IsBackground = true };
            thread.Start();
            int expected = run;
            try
            {
                loop.Post(() => reports.StallUntil("rerun", StallPhase.Stalled, expected));
                Waits.Until(() => reports.Count("rerun", StallPhase.Ended) == expected, $"run {run}'s stall to end");
            }
            finally
            {
                // Also when the wait failed: a loop left running would make Dispose throw and hide the failure.
                loop.Stop();
                Assert.True(thread.Join(Waits.Long), $"run {run} returned after Stop");
            }
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_logger_gets_one_event_per_phase_with_the_same_named_fields(EventLoopBackend backend)
    {
        var logger = new FakeLogger();
        var reports = new ReportCollector();
        var options = reports.Options("logged", Threshold);
        options.Logger = logger;
        using var lt = new LoopThread(Backends.Loop(backend, options));
        lt.Loop.Post(() => Thread.Sleep(300)); // 1×, 2×, 4× the threshold, then the end

        Waits.Until(() => logger.Collector.GetSnapshot().Any(e => e.Id.Name == "LoopStallEnded"), "the stall's end in the log");
        var records = logger.Collector.GetSnapshot();
        // The verdict and thread state are the scheduler's (a loaded machine can starve the thread before it
        // sleeps): each event must carry what its report said, whatever that was.
        var first = reports.Stalls.First(r => r.Phase == StallPhase.Stalled);
        var stalled = records.Single(e => e.Id.Name == "LoopStalled");
        Assert.Equal(1, stalled.Id.Id);
        Assert.Equal(LogLevel.Warning, stalled.Level);
        Assert.Equal("logged", stalled.GetStructuredStateValue("LoopName"));
        Assert.Equal(first.Kind.ToString(), stalled.GetStructuredStateValue("Verdict"));
        Assert.Equal("-1", stalled.GetStructuredStateValue("Fd"));
        Assert.Equal("none", stalled.GetStructuredStateValue("Events"));
        Assert.Equal(first.Syscall ?? "none", stalled.GetStructuredStateValue("Syscall"));
        Assert.Equal(first.ThreadState.ToString(), stalled.GetStructuredStateValue("ThreadState"));
        Assert.True(long.Parse(stalled.GetStructuredStateValue("ElapsedMs")!) >= 50);
        Assert.Equal("50", stalled.GetStructuredStateValue("ThresholdMs"));
        Assert.StartsWith("stack unavailable: capture is off", stalled.GetStructuredStateValue("Stack"));
        Assert.StartsWith("Loop {LoopName} stalled {ElapsedMs} ms in {Handler}", stalled.GetStructuredStateValue("{OriginalFormat}"));
        Assert.StartsWith("Loop logged stalled ", stalled.Message);
        Assert.DoesNotContain("{", stalled.Message);

        var firstStill = reports.Stalls.First(r => r.Phase == StallPhase.StillStalled);
        var still = records.First(e => e.Id.Name == "LoopStillStalled");
        Assert.Equal(2, still.Id.Id);
        Assert.Equal(firstStill.Kind.ToString(), still.GetStructuredStateValue("Verdict"));

        var end = reports.WaitFor(StallPhase.Ended);
        var ended = records.Single(e => e.Id.Name == "LoopStallEnded");
        Assert.Equal(3, ended.Id.Id);
        Assert.Equal(LogLevel.Information, ended.Level);
        Assert.Equal(end.Kind.ToString(), ended.GetStructuredStateValue("Verdict"));
        Assert.True(long.Parse(ended.GetStructuredStateValue("ElapsedMs")!) >= 300);

        // The same thing has the same property name in every event.
        foreach (var record in records)
        {
            Assert.Equal("logged", record.GetStructuredStateValue("LoopName"));
            Assert.Equal(stalled.GetStructuredStateValue("Handler"), record.GetStructuredStateValue("Handler"));
            Assert.Equal("-1", record.GetStructuredStateValue("Fd"));
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void The_end_report_of_a_blocked_stall_says_blocked(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        using var lt = new LoopThread(Backends.Loop(backend, reports.Options("ended-blocked", Threshold)));
        lt.Loop.Post(() => reports.StallUntil("ended-blocked", StallPhase.Stalled)); // asleep (5 ms sleeps) until seen
        var ended = reports.WaitFor(StallPhase.Ended);
        Assert.Equal(StallKind.Blocked, ended.Kind);
        Assert.True(ended.Blocked);
        Assert.Contains(", last seen blocked", ended.ToString());
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void End_reports_count_against_the_report_limit(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var options = reports.Options("limited-ends", Threshold);
        options.Watchdog.MaxReportsPerMinute = 3;
        options.Watchdog.RateLimitWindow = TimeSpan.FromSeconds(5);
        options.Watchdog.Escalate = false;
        using var lt = new LoopThread(Backends.Loop(backend, options));
        int done = 0;
        for (int i = 0; i < 4; i++)
        {
            lt.Loop.Post(() =>
            {
                Thread.Sleep(150);
                done++;
            });
        }
        Waits.Until(() => Volatile.Read(ref done) == 4, "four stalls");
        var summary = reports.WaitFor(StallPhase.Suppressed);
        var delivered = reports.Stalls.Where(r => r.Phase != StallPhase.Suppressed).ToArray();
        // Stall 1: stalled + ended; stall 2: stalled, its end suppressed; stalls 3 and 4: suppressed (so no end either).
        Assert.True(delivered.Length == 3, string.Join(Environment.NewLine, delivered.Select(r => r.ToString())));
        Assert.Equal(3, summary.SuppressedCount);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Watchdog_off_means_no_reports(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var options = reports.Options("unwatched", Threshold);
        options.Watchdog.Enabled = false;
        using var lt = new LoopThread(Backends.Loop(backend, options));
        lt.Loop.Post(() => Thread.Sleep(200));
        // A second, watched loop stalling after it proves the watchdog had time to look.
        var witness = new ReportCollector();
        using var watched = new LoopThread(Backends.Loop(backend, witness.Options("witness", Threshold)));
        lt.RunTurns(1);
        // Stalled until seen: a fixed 200 ms sleep can end before a starved watchdog first looks (a loaded machine).
        watched.Loop.Post(() => witness.StallUntil("witness", StallPhase.Stalled));
        witness.WaitFor(StallPhase.Ended);
        Assert.Empty(reports.Stalls);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Lock_contention_on_the_loop_thread_is_named_from_the_runtime_events(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var options = reports.Options("contended", Threshold);
        options.Watchdog.RuntimeWaitEvents = true;
        options.Watchdog.MaxReportsPerMinute = 100;
        var gate = new object();
        using var holding = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = new Thread(() =>
        {
            lock (gate)
            {
                holding.Set();
                release.Wait(Waits.Long);
            }
        });
        holder.Start();
        holding.Wait();
        using var lt = new LoopThread(Backends.Loop(backend, options));
        lt.Loop.Post(() =>
        {
            lock (gate)
            {
            }
        });
        // The events reach the listener asynchronously: the stall lasts (and escalates) until one report names it.
        Waits.Until(() => reports.Stalls.Any(r => r.ManagedWait == "lock contention"), "a report naming lock contention");
        release.Set();
        holder.Join();
        var named = reports.Stalls.First(r => r.ManagedWait is not null);
        Assert.Equal(StallKind.Blocked, named.Kind);
        Assert.Contains("(a managed wait: lock contention)", named.ToString());
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_wait_handle_wait_on_the_loop_thread_is_named_and_a_plain_sleep_is_not(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var options = reports.Options("wait-handle", Threshold);
        options.Watchdog.RuntimeWaitEvents = true;
        options.Watchdog.MaxReportsPerMinute = 100;
        using var never = new ManualResetEvent(false);
        using var lt = new LoopThread(Backends.Loop(backend, options));
        lt.Loop.Post(() => never.WaitOne(1000));
        Waits.Until(() => reports.Stalls.Any(r => r.ManagedWait == "a wait handle"), "a report naming the wait handle");
        reports.WaitFor(StallPhase.Ended);

        var sleeps = new ReportCollector();
        var sleepOptions = sleeps.Options("plain-sleep", Threshold);
        sleepOptions.Watchdog.RuntimeWaitEvents = true;
        using var other = new LoopThread(Backends.Loop(backend, sleepOptions));
        other.Loop.Post(() => sleeps.StallUntil("plain-sleep", StallPhase.Stalled)); // Thread.Sleep until seen
        sleeps.WaitFor(StallPhase.Ended);
        Assert.All(sleeps.Stalls, r => Assert.Null(r.ManagedWait)); // Thread.Sleep raises no runtime event
    }

    [Fact]
    public void The_one_line_alert_reads_like_the_issue_example()
    {
        var report = new StallReport("main", TimeSpan.FromMilliseconds(250), "Server.OnReadable", 17, blocked: true, "futex")
        {
            Events = IoEvents.Readable,
        };
        Assert.Equal("NoBlock: loop 'main' stalled 250 ms in Server.OnReadable (fd 17, readable): blocked in futex (a managed wait)", report.ToString());
        Assert.Equal(StallKind.Blocked, report.Kind);
    }
}
