using System.Globalization;
using NoBlock.Diagnostics;
using NoBlock.Tests.Runtime;
using Xunit;

namespace NoBlock.Tests.Diagnostics;

/// <summary>
/// A capture writes nothing to disk: not while its session records, not after it (a capture that works, one that times
/// out, one that fails). NoBlock used to copy the session to <c>$TMPDIR/noblock-stack-&lt;pid&gt;-*.nettrace</c> and
/// convert it to an .etlx beside it; a process exiting mid-capture left them behind.
/// </summary>
public sealed class StallStackDiskTests
{
    private static readonly TimeSpan Threshold = TimeSpan.FromMilliseconds(50);

    /// <summary>Files of the temp directory with this process's id in their name (a trace file's, the old capture's).</summary>
    private static string[] OurTempFiles()
    {
        string pid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        return Directory.EnumerateFiles(Path.GetTempPath())
            .Where(f => Path.GetFileName(f).Contains(pid, StringComparison.Ordinal))
            .Order().ToArray();
    }

    public enum Ending { Stack, Timeout, Fault }

    [Theory, InlineData(Ending.Stack), InlineData(Ending.Timeout), InlineData(Ending.Fault)]
    public void A_capture_leaves_no_file_while_recording_or_after(Ending ending)
    {
        var before = OurTempFiles();
        var reports = new ReportCollector();
        var options = reports.Options("disk-" + ending, Threshold);
        options.Watchdog.CaptureStack = true;
        options.Watchdog.MaxReportsPerMinute = 1000;
        // Timeout: the budget runs out while the session is held below; the others have all the time they need.
        options.Watchdog.StackCaptureTimeout = ending == Ending.Timeout ? TimeSpan.FromMilliseconds(300) : Waits.Long;
        string[]? whileRecording = null;
        long captures = Interlocked.Read(ref StackCapture.CaptureCount);
        using var recording = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        StackCapture.SessionRecording = () =>
        {
            whileRecording = OurTempFiles();
            recording.Set();
            if (ending == Ending.Timeout)
            {
                release.Wait(Waits.Long); // past the budget: the report goes out without the stack meanwhile
            }
            if (ending == Ending.Fault)
            {
                throw new InvalidOperationException("a fault injected while the session records");
            }
        };
        try
        {
            using var lt = new LoopThread(Backends.Loop(EventLoopBackend.Epoll, options));
            lt.Loop.Post(() => release.Wait(Waits.Long)); // stalled until the report is in
            StallReport report;
            try
            {
                report = reports.WaitFor(StallPhase.Stalled);
            }
            finally
            {
                release.Set();
            }
            Assert.True(recording.IsSet, "the session recorded");
            Waits.Until(() => Interlocked.Read(ref StackCapture.CaptureCount) > captures, "the capture finished");
            switch (ending)
            {
                case Ending.Stack:
                    Assert.True(report.Stack is not null, report.ToString());
                    break;
                case Ending.Timeout:
                    Assert.StartsWith("timed out", report.StackUnavailable);
                    break;
                case Ending.Fault:
                    Assert.Contains("a fault injected", report.StackUnavailable);
                    break;
            }
        }
        finally
        {
            StackCapture.SessionRecording = null;
        }
        Assert.Equal(before, whileRecording);
        Assert.Equal(before, OurTempFiles());
    }
}
