using System.Globalization;
using System.Text;

namespace NoBlock;

/// <summary>What the loop thread was doing during a stall.</summary>
public enum StallKind
{
    /// <summary>Off-CPU, sleeping in a syscall (a sleep, a managed wait, blocking I/O): the handler blocks.</summary>
    Blocked,

    /// <summary>On CPU: the handler computes for too long.</summary>
    Running,

    /// <summary>Runnable but mostly waiting for a CPU: the machine is overloaded, not (only) the handler's fault.</summary>
    Starved,
}

/// <summary>Where a report stands in the life of one stall.</summary>
public enum StallPhase
{
    /// <summary>First report: the handler ran past the threshold.</summary>
    Stalled,

    /// <summary>The same stall still lasts, at 2×, 4×, 8× … the threshold.</summary>
    StillStalled,

    /// <summary>The stalled handler returned (one report per reported stall).</summary>
    Ended,

    /// <summary>The per-minute report limit dropped <see cref="StallReport.SuppressedCount"/> reports.</summary>
    Suppressed,
}

public sealed partial class StallReport
{
    /// <summary>The readiness the handler was dispatched for (<see cref="IoEvents.None"/> for posted work and timers).</summary>
    public IoEvents Events { get; init; }

    /// <summary>Blocked, running or starved (<see cref="Blocked"/> is true exactly for <see cref="StallKind.Blocked"/>).</summary>
    public StallKind Kind { get; init; }

    /// <summary>First report, a later one for the same stall, its end, or a note that reports were suppressed.</summary>
    public StallPhase Phase { get; init; } = StallPhase.Stalled;

    /// <summary>The thread's state letter from <c>/proc/self/task/&lt;tid&gt;/stat</c> (R, S, D, …), or '?' when unknown.</summary>
    public char ThreadState { get; init; } = '?';

    /// <summary>CPU time the loop thread used during the observed part of the stall.</summary>
    public TimeSpan CpuTime { get; init; }

    /// <summary>Time the loop thread was runnable but waiting for a CPU during the observed part of the stall.</summary>
    public TimeSpan RunQueueDelay { get; init; }

    /// <summary>Wall time over which <see cref="CpuTime"/> and <see cref="RunQueueDelay"/> were measured.</summary>
    public TimeSpan ObservedTime { get; init; }

    /// <summary>The loop's stall threshold.</summary>
    public TimeSpan Threshold { get; init; }

    /// <summary>
    /// For a blocked stall, the managed wait the runtime's events say the thread is in ("lock contention",
    /// "Monitor.Wait", "a wait handle"), when <see cref="StallWatchdogOptions.RuntimeWaitEvents"/> is on; else null.
    /// </summary>
    public string? ManagedWait { get; init; }

    /// <summary>For <see cref="StallPhase.Suppressed"/>: how many reports the per-minute limit dropped.</summary>
    public int SuppressedCount { get; init; }

    /// <summary>The handler's readiness as words: "readable", "readable+writable", "hang-up"; "" for none.</summary>
    public static string DescribeEvents(IoEvents events)
    {
        var parts = new List<string>(4);
        if ((events & IoEvents.Readable) != 0)
        {
            parts.Add("readable");
        }
        if ((events & IoEvents.Writable) != 0)
        {
            parts.Add("writable");
        }
        if ((events & IoEvents.Priority) != 0)
        {
            parts.Add("priority");
        }
        if ((events & IoEvents.Error) != 0)
        {
            parts.Add("error");
        }
        if ((events & IoEvents.HangUp) != 0)
        {
            parts.Add("hang-up");
        }
        else if ((events & IoEvents.ReadHangUp) != 0)
        {
            parts.Add("peer closed");
        }
        return string.Join("+", parts);
    }

    /// <summary>"(fd 17, readable)" or "(posted work or timer)".</summary>
    internal static string DescribeSource(int fd, IoEvents events)
    {
        if (fd < 0)
        {
            return "(posted work or timer)";
        }
        var ev = DescribeEvents(events);
        return ev.Length == 0 ? $"(fd {fd})" : $"(fd {fd}, {ev})";
    }

    /// <summary>
    /// The one-line alert, e.g.
    /// <c>NoBlock: loop 'main' stalled 250 ms in Server.OnReadable (fd 17, readable): blocked in futex (a managed wait)</c>.
    /// </summary>
    public override string ToString()
    {
        var ms = Elapsed.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture);
        switch (Phase)
        {
            case StallPhase.Suppressed:
                return $"NoBlock: loop '{LoopName}': suppressed {SuppressedCount} stall report(s) in the last minute (report limit per minute reached)";
            case StallPhase.Ended:
                return $"NoBlock: loop '{LoopName}' stall ended after {ms} ms in {Handler} {DescribeSource(Fd, Events)}{DescribeSocketCost()}";
        }
        var sb = new StringBuilder(160);
        sb.Append("NoBlock: loop '").Append(LoopName).Append(Phase == StallPhase.StillStalled ? "' still stalled, " : "' stalled ")
          .Append(ms).Append(" ms in ").Append(Handler).Append(' ').Append(DescribeSource(Fd, Events)).Append(": ");
        switch (Kind)
        {
            case StallKind.Blocked:
                sb.Append("blocked in ").Append(Syscall ?? (ThreadState == 'D' ? "uninterruptible I/O" : "the kernel"));
                var meaning = Diagnostics.SyscallNames.Meaning(Syscall);
                if (meaning is not null)
                {
                    sb.Append(" (").Append(meaning);
                    if (ManagedWait is not null)
                    {
                        sb.Append(": ").Append(ManagedWait);
                    }
                    sb.Append(')');
                }
                else if (ManagedWait is not null)
                {
                    sb.Append(" (").Append(ManagedWait).Append(')');
                }
                break;
            case StallKind.Running:
                sb.Append("running on CPU");
                if (ObservedTime > TimeSpan.Zero)
                {
                    sb.Append(" (").Append(Share(CpuTime)).Append(" CPU while observed: a CPU-bound handler)");
                }
                break;
            case StallKind.Starved:
                sb.Append("starved: runnable but waiting for a CPU");
                if (ObservedTime > TimeSpan.Zero)
                {
                    sb.Append(' ').Append(Share(RunQueueDelay)).Append(" of the time");
                }
                sb.Append(" (the machine is overloaded)");
                break;
        }
        return sb.ToString();
    }

    private string Share(TimeSpan part) =>
        (Math.Clamp(part.TotalMilliseconds / ObservedTime.TotalMilliseconds, 0, 1) * 100).ToString("0", CultureInfo.InvariantCulture) + "%";
}
