using System.Runtime.CompilerServices;
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
    [InlineData(true)]
    [InlineData(false)]
    public void The_first_report_names_the_inner_methods_in_order_and_the_loop_keeps_serving(bool sleep)
    {
        s_release = false;
        var reports = new ReportCollector();
        using var lt = new LoopThread(Capturing(reports, sleep ? "sleeper" : "spinner"));
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

    [Fact]
    public void A_disabled_capture_says_stack_unavailable()
    {
        s_release = false;
        var reports = new ReportCollector();
        using var lt = new LoopThread(reports.Options("off", Threshold));
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
}
