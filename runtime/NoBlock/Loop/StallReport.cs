namespace NoBlock;

/// <summary>
/// What a stalled loop was doing: produced by the stall watchdog (see <see cref="EventLoopOptions.OnStall"/>)
/// while the stall is happening. <see cref="ToString"/> is the one-line alert a person reads.
/// </summary>
public sealed partial class StallReport
{
    /// <summary>Creates a report.</summary>
    /// <param name="loopName">The loop's <see cref="EventLoopOptions.Name"/>.</param>
    /// <param name="elapsed">How long the current handler has been running.</param>
    /// <param name="handler">The running handler: declaring type and method.</param>
    /// <param name="fd">The handler's fd, or -1 for posted work and timers.</param>
    /// <param name="blocked">True when the loop thread is off-CPU (sleeping in a syscall).</param>
    /// <param name="syscall">The syscall the thread sits in, if known.</param>
    public StallReport(string loopName, TimeSpan elapsed, string handler, int fd, bool blocked, string? syscall)
    {
        LoopName = loopName;
        Elapsed = elapsed;
        Handler = handler;
        Fd = fd;
        Blocked = blocked;
        Syscall = syscall;
        Kind = blocked ? StallKind.Blocked : StallKind.Running;
    }

    /// <summary>The loop's <see cref="EventLoopOptions.Name"/>.</summary>
    public string LoopName { get; }

    /// <summary>How long the current handler has been running when the report was made.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>The running handler: declaring type and method.</summary>
    public string Handler { get; }

    /// <summary>The handler's fd, or -1 for posted work and timers.</summary>
    public int Fd { get; }

    /// <summary>True when the loop thread is off-CPU (sleeping in a syscall), false when it is running.</summary>
    public bool Blocked { get; }

    /// <summary>The syscall the loop thread sits in (from <c>/proc/self/task/&lt;tid&gt;/syscall</c>), if known.</summary>
    public string? Syscall { get; }
}
