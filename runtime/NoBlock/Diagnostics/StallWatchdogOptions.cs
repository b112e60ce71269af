namespace NoBlock;

/// <summary>
/// How the stall watchdog reports a loop (<see cref="EventLoopOptions.Watchdog"/>). The threshold itself is
/// <see cref="EventLoopOptions.StallThreshold"/>; the sinks are <see cref="EventLoopOptions.OnStall"/> and
/// <see cref="EventLoopOptions.Logger"/> (standard error when neither is set).
/// </summary>
public sealed class StallWatchdogOptions
{
    /// <summary>Watch this loop. Default true. <see cref="Timeout.InfiniteTimeSpan"/> as the threshold also turns it off.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Reports per loop per minute before the rest are counted and summed up in one "suppressed N" report.
    /// Default 5 (Seastar's limit): enough to see a pattern, few enough that a log is not flooded.
    /// </summary>
    public int MaxReportsPerMinute { get; set; } = 5;

    /// <summary>
    /// The window <see cref="MaxReportsPerMinute"/> (and <see cref="LoopGuardOptions.MaxReportsPerMinute"/>) counts
    /// over. Default one minute; shorter only makes sense in tests.
    /// </summary>
    public TimeSpan RateLimitWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Report the same stall again at 2×, 4×, 8× … the threshold. Default true.</summary>
    public bool Escalate { get; set; } = true;

    /// <summary>Report "stall ended after N ms" when a reported stall's handler returns. Default true.</summary>
    public bool ReportEnd { get; set; } = true;

    /// <summary>
    /// Stay quiet while a debugger is attached (a breakpoint stalls every loop; Vert.x users' top complaint). Default true.
    /// </summary>
    public bool QuietUnderDebugger { get; set; } = true;

    /// <summary>
    /// Listen to the runtime's lock-contention and wait-handle events so a report can say which managed wait a
    /// blocked loop sits in (<see cref="StallReport.ManagedWait"/>). Costs an in-process EventPipe session. Default: on
    /// in Debug builds (<see cref="LoopGuardOptions.IsDebugBuild"/>).
    /// </summary>
    public bool RuntimeWaitEvents { get; set; } = LoopGuardOptions.IsDebugBuild;

    /// <summary>
    /// Take the stalled loop thread's managed stack for the first report of each stall (<see cref="StallReport.Stack"/>):
    /// an EventPipe session on the process's own diagnostics port, off the loop thread, one at a time, rate-limited
    /// with the reports. The first report waits for it, at most <see cref="StackCaptureTimeout"/>. Default true; costs
    /// are in docs/watchdog.md ("The stack of a stall").
    /// </summary>
    public bool CaptureStack { get; set; } = true;

    /// <summary>
    /// How long the first report of a stall waits for its stack before it goes out with "stack unavailable: timed out".
    /// Default 5 s: the rundown that names methods grows with the process's jitted code (dotnet-stack warns of seconds
    /// for large applications); a small service takes a few hundred milliseconds (bench/RESULTS.md).
    /// </summary>
    public TimeSpan StackCaptureTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Write reports to standard error when neither <see cref="EventLoopOptions.OnStall"/> nor a logger is set. Default true.</summary>
    public bool StandardErrorWhenNoSink { get; set; } = true;
}
