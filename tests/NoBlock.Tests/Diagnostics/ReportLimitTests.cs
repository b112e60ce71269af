using NoBlock.Diagnostics;
using NoBlock.Tests.Runtime;
using Xunit;

namespace NoBlock.Tests.Diagnostics;

/// <summary>
/// The report limit and a long stall: escalations must not spend the window's last report, or the stall's end line
/// (how long it lasted, where it was seen) is lost. Found as a StallStackTests flake: on a loaded machine the first
/// report waited over a second for its stack, the 50 ms stall escalated five times meanwhile, and the end was suppressed.
/// </summary>
public sealed class ReportLimitTests
{
    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_long_stall_keeps_its_end_report_when_escalations_reach_the_limit(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var options = reports.Options("long-stall", TimeSpan.FromMilliseconds(20));
        options.Watchdog.MaxReportsPerMinute = 3;
        options.Watchdog.RateLimitWindow = TimeSpan.FromMinutes(10); // one window for the whole test
        using var lt = new LoopThread(Backends.Loop(backend, options));
        lt.Loop.Post(() =>
        {
            var watch = StallWatchdog.Current!;
            reports.StallUntil("long-stall", StallPhase.StillStalled);
            // Stall on until the watchdog has had to refuse an escalation: the limit is reached without the end.
            Waits.Until(() => watch.SuppressedStallReports >= 1, "an escalation refused by the limit");
        });
        var ended = reports.WaitFor(StallPhase.Ended);
        var delivered = reports.Stalls;
        Assert.Equal(
            [StallPhase.Stalled, StallPhase.StillStalled, StallPhase.Ended],
            delivered.Select(r => r.Phase).ToArray());
        Assert.Contains("stall ended after", ended.ToString());
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Without_end_reports_escalations_may_use_the_whole_limit(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var options = reports.Options("no-end", TimeSpan.FromMilliseconds(20));
        options.Watchdog.MaxReportsPerMinute = 3;
        options.Watchdog.RateLimitWindow = TimeSpan.FromMinutes(10);
        options.Watchdog.ReportEnd = false;
        using var lt = new LoopThread(Backends.Loop(backend, options));
        var done = new ManualResetEventSlim();
        lt.Loop.Post(() =>
        {
            reports.StallUntil("no-end", StallPhase.StillStalled, count: 2);
            done.Set();
        });
        Assert.True(done.Wait(Waits.Long));
        Assert.Equal(3, reports.Stalls.Length);
    }
}
