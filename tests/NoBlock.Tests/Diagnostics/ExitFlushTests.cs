using NoBlock.Diagnostics;
using NoBlock.Tests.Runtime;
using Xunit;

namespace NoBlock.Tests.Diagnostics;

/// <summary>
/// A stall's reports wait for its stack capture, on the watchdog's background thread. A program whose stall ends just
/// before it exits (found by running a 200 ms stall in a console app that returns right after the loop) lost them with
/// the process; the exit flush delivers them.
/// </summary>
public sealed class ExitFlushTests
{
    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Reports_held_for_an_unfinished_capture_go_out_at_exit_with_the_reason(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var options = reports.Options("exit-flush", TimeSpan.FromMilliseconds(50));
        options.Watchdog.CaptureStack = true;
        options.Watchdog.StackCaptureTimeout = Waits.Long; // only the exit may cut the capture short
        using var loop = Backends.Loop(backend, options);
        using var requested = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        // Hold this loop's capture session until the test ends: the capture is certainly unfinished at "exit".
        StackCapture.TestHookBeforeSession = batch =>
        {
            if (batch.Any(r => ReferenceEquals(r.Activity, loop.Activity)))
            {
                requested.Set();
                release.Wait(Waits.Long);
            }
        };
        try
        {
            // The handler stalls until the watchdog has asked for the stack, so the stall is seen however loaded the machine.
            loop.Post(() =>
            {
                requested.Wait(Waits.Long);
                loop.Stop();
            });
            var run = new Thread(loop.Run) { IsBackground = true };
            run.Start();
            Assert.True(run.Join(Waits.Long), "Run returned");
            Assert.True(requested.IsSet, "the watchdog asked for a stack");
            Assert.Empty(reports.Stalls); // held for the stack

            StallWatchdog.FlushForExit(loop); // what ProcessExit runs, for this loop only: other tests' captures go on

            var stalled = Assert.Single(reports.Stalls, r => r.Phase == StallPhase.Stalled);
            Assert.Null(stalled.Stack);
            Assert.Equal(StallWatchdog.ExitReason, stalled.StackUnavailable);
            Assert.Single(reports.Stalls, r => r.Phase == StallPhase.Ended);
        }
        finally
        {
            release.Set();
            StackCapture.TestHookBeforeSession = null;
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void An_exit_flush_with_nothing_held_returns_and_the_loop_later_reports_with_its_stack(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var options = reports.Options("after-flush", TimeSpan.FromMilliseconds(50));
        options.Watchdog.CaptureStack = true;
        options.Watchdog.StackCaptureTimeout = Waits.Long;
        using var lt = new LoopThread(Backends.Loop(backend, options));
        StallWatchdog.FlushForExit(lt.Loop); // nothing held: returns (bounded either way)
        lt.Loop.Post(() => reports.StallUntil("after-flush", StallPhase.Stalled));
        var report = reports.WaitFor(StallPhase.Stalled);
        Assert.NotEqual(StallWatchdog.ExitReason, report.StackUnavailable);
    }
}
