using System.Runtime.CompilerServices;
using NoBlock.Diagnostics;
using NoBlock.Tests.Runtime;
using Xunit;

namespace NoBlock.Tests.Diagnostics;

/// <summary>The stalled loop thread's stack in stall reports, taken on real loops while the handler is stuck.</summary>
public sealed class StallStackTests
{
    private static readonly TimeSpan Threshold = TimeSpan.FromMilliseconds(50);

    private static EventLoopOptions Capturing(ReportCollector reports, string name)
    {
        var o = reports.Options(name, Threshold);
        o.Watchdog.CaptureStack = true;
        o.Watchdog.StackCaptureTimeout = Waits.Long; // a hang detector, not a speed check
        // Every report is delivered: while a slow capture (a loaded machine, the process's first session) holds the
        // first report, the escalations pile up, and the default 5 a minute would drop the end report the tests wait for.
        o.Watchdog.MaxReportsPerMinute = 1000;
        return o;
    }

    private static volatile bool s_release;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SleepHandler() => SleepParse();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SleepParse() => SleepLookup();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SleepLookup()
    {
        while (!s_release)
        {
            Thread.Sleep(20);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SpinHandler() => SpinParse();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SpinParse() => SpinLookup();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long SpinLookup()
    {
        long x = 0;
        while (!s_release)
        {
            x++;
        }
        return x;
    }

    [Theory]
    [InlineData(EventLoopBackend.Epoll, true), IoUringRow(true)]
    [InlineData(EventLoopBackend.Epoll, false), IoUringRow(false)]
    public void The_first_report_names_the_inner_methods_in_order_and_the_loop_keeps_serving(EventLoopBackend backend, bool sleep)
    {
        s_release = false;
        var reports = new ReportCollector();
        using var lt = new LoopThread(Backends.Loop(backend, Capturing(reports, sleep ? "sleeper" : "spinner")));
        lt.Loop.Post(() =>
        {
            if (sleep)
            {
                SleepHandler();
            }
            else
            {
                SpinHandler();
            }
        });
        StallReport report;
        try
        {
            report = reports.WaitFor(StallPhase.Stalled);
        }
        finally
        {
            s_release = true;
        }
        Assert.True(report.Stack is not null, report.ToString());
        var names = report.Stack!.Where(f => f.IsUserCode).Select(f => f.MethodName).ToList();
        string lookup = sleep ? nameof(SleepLookup) : nameof(SpinLookup), parse = sleep ? nameof(SleepParse) : nameof(SpinParse);
        Assert.True(names.IndexOf(lookup) >= 0 && names.IndexOf(parse) == names.IndexOf(lookup) + 1, string.Join(" ← ", names));
        Assert.Equal(lookup, report.StalledAt!.MethodName);
        Assert.NotNull(report.StalledAt.Line);
        Assert.EndsWith("StallStackTests.cs", report.StalledAt.File);
        Assert.Contains($"at ", report.ToString());
        Assert.Contains($"StallStackTests.{lookup} (StallStackTests.cs:", report.ToString());

        var ended = reports.WaitFor(StallPhase.Ended);
        Assert.Contains($"stalled at StallStackTests.{lookup}", ended.ToString());
        var served = new ManualResetEventSlim();
        lt.Loop.Post(served.Set);
        Assert.True(served.Wait(Waits.Long));
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_disabled_capture_says_stack_unavailable(EventLoopBackend backend)
    {
        s_release = false;
        var reports = new ReportCollector();
        using var lt = new LoopThread(Backends.Loop(backend, reports.Options("off", Threshold)));
        lt.Loop.Post(SleepHandler);
        StallReport report;
        try
        {
            report = reports.WaitFor(StallPhase.Stalled);
        }
        finally
        {
            s_release = true;
        }
        Assert.Null(report.Stack);
        Assert.Contains("stack unavailable: capture is off", report.ToString());
    }

    // Hazards: a capture held in flight (StackCapture.SessionRecording blocks the worker while its session records)
    // while the loop exits, or while other stalls start. Nothing here may hang: every wait is bounded by Waits.Long
    // and fails the test; the held session is released in a finally.

    private static StallReport[] Of(ReportCollector reports, string loop) => reports.Stalls.Where(r => r.LoopName == loop).ToArray();

    private static StallReport WaitForLoop(ReportCollector reports, string loop, StallPhase phase, int nth = 1)
    {
        var deadline = DateTime.UtcNow + Waits.Long;
        StallReport? found;
        while ((found = Of(reports, loop).Where(r => r.Phase == phase).Skip(nth - 1).FirstOrDefault()) is null)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"Timed out waiting for report {nth} of phase {phase} from loop '{loop}'; so far:\n"
                    + string.Join("\n", Of(reports, loop).Select(r => r.ToString())));
            }
            Thread.Sleep(1);
        }
        return found;
    }

    /// <summary>Holds the next session once it records; <see cref="IDisposable.Dispose"/> lets it go and removes the seam.</summary>
    private sealed class HeldSession : IDisposable
    {
        public readonly ManualResetEventSlim Recording = new(), Release = new();

        public HeldSession() => StackCapture.SessionRecording = () =>
        {
            Recording.Set();
            Release.Wait(Waits.Long);
        };

        public void Dispose()
        {
            StackCapture.SessionRecording = null;
            Release.Set();
        }
    }

    /// <summary>A sleep stall on a fresh loop gets its stack: the capture worker survived what came before.</summary>
    private static void TheNextCaptureWorks(EventLoopBackend backend, string name)
    {
        s_release = false;
        var reports = new ReportCollector();
        using var lt = new LoopThread(Backends.Loop(backend, Capturing(reports, name)));
        lt.Loop.Post(SleepHandler);
        StallReport report;
        try
        {
            report = reports.WaitFor(StallPhase.Stalled);
        }
        finally
        {
            s_release = true;
        }
        var names = report.Stack?.Select(f => f.MethodName).ToList() ?? [];
        Assert.True(names.Contains(nameof(SleepLookup)), report.ToString());
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_capture_in_flight_while_the_loop_stops_and_is_disposed_completes_and_the_next_capture_works(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        using (var held = new HeldSession())
        {
            var lt = new LoopThread(Backends.Loop(backend, Capturing(reports, "exiting")));
            // The stall lasts until its session records, then the handler returns and the loop goes away under it.
            lt.Loop.Post(() => held.Recording.Wait(Waits.Long));
            Assert.True(held.Recording.Wait(Waits.Long), "no capture session started for the stall");
            lt.Dispose(); // Stop, join the loop thread, Dispose: all while the session is held
            Assert.False(lt.Loop.IsRunning);
            Assert.Empty(Of(reports, "exiting")); // the first report waits for its stack, the end report behind it
            held.Release.Set();
            var stalled = WaitForLoop(reports, "exiting", StallPhase.Stalled);
            // Either the stack (a sample before the handler returned) or why not: never neither, never a hang.
            Assert.True(stalled.Stack is not null || stalled.StackUnavailable is not null, stalled.ToString());
            var ended = WaitForLoop(reports, "exiting", StallPhase.Ended);
            var all = Of(reports, "exiting").ToList();
            Assert.True(all.IndexOf(stalled) < all.IndexOf(ended), string.Join("\n", all.Select(r => r.ToString())));
        }
        TheNextCaptureWorks(backend, "after-exit");
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Stalls_that_start_while_a_capture_is_in_flight_on_the_same_loop_and_on_another_are_all_reported_in_order(EventLoopBackend backend)
    {
        s_release = false;
        var reports = new ReportCollector();
        using (var held = new HeldSession())
        using (var a = new LoopThread(Backends.Loop(backend, Capturing(reports, "a"))))
        using (var b = new LoopThread(Backends.Loop(backend, Capturing(reports, "b"))))
        {
            try
            {
                a.Loop.Post(() => held.Recording.Wait(Waits.Long)); // a's first stall: ends once its session records
                a.Loop.Post(SleepHandler);                           // a's second stall: starts under the held session
                Assert.True(held.Recording.Wait(Waits.Long), "no capture session started for a's first stall");
                b.Loop.Post(SleepHandler);                           // b's stall: its request waits for the next session
                Waits.Until(() => StackCapture.WaitingCount >= 1, "b's capture request queued behind the held session");
                Assert.Empty(Of(reports, "a"));
                Assert.Empty(Of(reports, "b"));
                held.Release.Set();

                // b was stalled the whole time: the next session (its own) has b's stack, inner methods in order.
                var bStalled = WaitForLoop(reports, "b", StallPhase.Stalled);
                Assert.True(bStalled.Stack is not null, bStalled.ToString());
                var names = bStalled.Stack!.Where(f => f.IsUserCode).Select(f => f.MethodName).ToList();
                Assert.True(names.IndexOf(nameof(SleepLookup)) >= 0 && names.IndexOf(nameof(SleepParse)) == names.IndexOf(nameof(SleepLookup)) + 1,
                    string.Join(" ← ", names));

                // a: the first stall's report, its end, then the second stall's report, each delivered once, in order.
                var a1 = WaitForLoop(reports, "a", StallPhase.Stalled);
                var a1End = WaitForLoop(reports, "a", StallPhase.Ended);
                var a2 = WaitForLoop(reports, "a", StallPhase.Stalled, 2);
                var all = Of(reports, "a").ToList();
                string log = string.Join("\n", all.Select(r => r.ToString()));
                Assert.True(all.IndexOf(a1) < all.IndexOf(a1End) && all.IndexOf(a1End) < all.IndexOf(a2), log);
                Assert.True(a1.Stack is not null || a1.StackUnavailable is not null, log);
                // Seen under the held session: no capture of its own; seen after it: its own stack.
                Assert.True(a2.StackUnavailable == "the previous stall's capture was still running"
                    || a2.Stack?.Any(f => f.MethodName == nameof(SleepLookup)) == true, log);
            }
            finally
            {
                s_release = true;
            }
            WaitForLoop(reports, "a", StallPhase.Ended, 2);
            WaitForLoop(reports, "b", StallPhase.Ended);
            foreach (var lt in new[] { a, b })
            {
                var served = new ManualResetEventSlim();
                lt.Loop.Post(served.Set);
                Assert.True(served.Wait(Waits.Long), "the loop serves after the stalls");
            }
        }
        TheNextCaptureWorks(backend, "after-overlap");
    }
}
