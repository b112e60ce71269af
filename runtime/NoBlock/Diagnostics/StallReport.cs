using System.Linq;
using System.Globalization;
using System.Text;

namespace NoBlock;

/// <summary>Where a report stands in the life of one stall.</summary>
public enum StallPhase
{
    /// <summary>First report: the handler ran past the threshold.</summary>
    Stalled,

    /// <summary>The same stall still lasts, at 2×, 4×, 8× … the threshold.</summary>
    StillStalled,

    /// <summary>The stalled handler returned (one report per reported stall, within the report limit).</summary>
    Ended,

    /// <summary>The per-minute report limit dropped <see cref="StallReport.SuppressedCount"/> reports.</summary>
    Suppressed,
}

/// <summary>What the loop thread was doing during a stall (the report's verdict; the rules are in docs/watchdog.md).</summary>
public enum StallKind
{
    /// <summary>Off-CPU by its own wait most of the observed time (a sleep, a managed wait, blocking I/O): the handler blocks.</summary>
    Blocked,

    /// <summary>Wanted a CPU most of the observed time and got most of it: the handler computes for too long.</summary>
    Running,

    /// <summary>Wanted a CPU most of the observed time but got less than 40% of it: the machine is overloaded.</summary>
    Starved,
}

/// <summary>
/// What a stalled loop was doing: produced by the stall watchdog (see <see cref="EventLoopOptions.OnStall"/>)
/// while the stall is happening. <see cref="ToString"/> is the alert a person reads.
/// </summary>
public sealed class StallReport
{
    /// <summary>Creates a report.</summary>
    /// <param name="loopName">The loop's <see cref="EventLoopOptions.Name"/>.</param>
    /// <param name="elapsed">How long the current handler has been running.</param>
    /// <param name="handler">The running handler: declaring type and method.</param>
    /// <param name="fd">The handler's fd, or -1 for posted work and timers.</param>
    /// <param name="blocked">True when the loop thread is off-CPU (sleeping in a syscall): sets <see cref="Kind"/> to <see cref="StallKind.Blocked"/>, else <see cref="StallKind.Running"/>.</param>
    /// <param name="syscall">The syscall the thread sits in, if known.</param>
    public StallReport(string loopName, TimeSpan elapsed, string handler, int fd, bool blocked, string? syscall)
    {
        LoopName = loopName;
        Elapsed = elapsed;
        Handler = handler;
        Fd = fd;
        Syscall = syscall;
        Kind = blocked ? StallKind.Blocked : StallKind.Running;
    }

    /// <summary>The loop's <see cref="EventLoopOptions.Name"/>.</summary>
    public string LoopName { get; }

    /// <summary>How long the current handler has been running when the report was made (for <see cref="StallPhase.Ended"/>: how long it ran).</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>The running handler: declaring type and method (the same name a handler fault gives).</summary>
    public string Handler { get; }

    /// <summary>The handler's fd, or -1 for posted work and timers.</summary>
    public int Fd { get; }

    /// <summary>True exactly when <see cref="Kind"/> is <see cref="StallKind.Blocked"/>: the loop thread was off-CPU by its own wait.</summary>
    public bool Blocked => Kind == StallKind.Blocked;

    /// <summary>The syscall the loop thread sat in at the look (from <c>/proc/self/task/&lt;tid&gt;/syscall</c>), for a blocked stall; null otherwise or when unknown.</summary>
    public string? Syscall { get; init; }

    /// <summary>The readiness the handler was dispatched for (<see cref="IoEvents.None"/> for posted work and timers).</summary>
    public IoEvents Events { get; init; }

    /// <summary>
    /// The verdict: blocked, running or starved, from <see cref="CpuTime"/>, <see cref="RunQueueDelay"/> and
    /// <see cref="SleepTime"/> over <see cref="ObservedTime"/>. On an <see cref="StallPhase.Ended"/> report: the
    /// verdict of the stall's last look.
    /// </summary>
    public StallKind Kind { get; init; }

    /// <summary>First report, a later one for the same stall, its end, or a note that reports were suppressed.</summary>
    public StallPhase Phase { get; init; } = StallPhase.Stalled;

    /// <summary>The thread's state letter from <c>/proc/self/task/&lt;tid&gt;/stat</c> at the look (R, S, D, …), or '?' when unknown.</summary>
    public char ThreadState { get; init; } = '?';

    /// <summary>CPU time the loop thread used during <see cref="ObservedTime"/>.</summary>
    public TimeSpan CpuTime { get; init; }

    /// <summary>Time the loop thread was runnable but waiting for a CPU during <see cref="ObservedTime"/> (schedstat's run-queue delay).</summary>
    public TimeSpan RunQueueDelay { get; init; }

    /// <summary>Time the loop thread was off-CPU by its own wait (asleep in a syscall) during <see cref="ObservedTime"/>: the rest of it.</summary>
    public TimeSpan SleepTime { get; init; }

    /// <summary>
    /// The wall time the three figures cover: for the first report, from the watchdog's first look at the handler;
    /// for later ones, since the previous report's look. Zero when nothing was measured.
    /// </summary>
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

    /// <summary>
    /// On a "stall ended" report (<see cref="StallPhase.Ended"/>) of a loop with sockets of its own: the loop's
    /// sockets as last seen while it was still stalled — what piled up in receive queues, send queues and accept
    /// queues because nobody read them (see <see cref="EventLoop.GetSocketDiagnostics"/>). Null otherwise.
    /// </summary>
    public SocketDiagnostics? Sockets { get; init; }

    /// <summary>
    /// On a "stall ended" report of a loop with sockets: how much <c>ListenOverflows</c>, <c>ListenDrops</c> and
    /// the UDP drop counters grew from the first report of the stall to its end. These counters are the network
    /// namespace's (every process in it), so other servers' drops count too. Null otherwise.
    /// </summary>
    public NetworkCounters? NetworkCountersGrowth { get; init; }

    /// <summary>
    /// On a "stall ended" report of a loop with UDP sockets registered: datagrams the kernel dropped on this loop's
    /// own UDP sockets from the first report of the stall to its end (the <c>drops</c> column of
    /// <c>/proc/net/udp</c>, per socket). Null otherwise.
    /// </summary>
    public long? UdpDropsGrowth { get; init; }

    /// <summary>
    /// The loop thread's managed stack, innermost frame first, sampled while the handler was stalled
    /// (<see cref="StallWatchdogOptions.CaptureStack"/>): on the first report of a stall, and on its "stall ended"
    /// report (the stack where the stall was seen). Null when it was not captured; <see cref="StackUnavailable"/> says why.
    /// </summary>
    public IReadOnlyList<StallStackFrame>? Stack { get; internal set; }

    /// <summary>Why <see cref="Stack"/> is null on a report that should carry it ("capture is off", "the diagnostics port is unavailable (…)", "timed out after 5000 ms", …); null otherwise.</summary>
    public string? StackUnavailable { get; internal set; }

    /// <summary>The innermost user frame of <see cref="Stack"/> (runtime and BCL frames folded), or null.</summary>
    public StallStackFrame? StalledAt => Stack?.FirstOrDefault(f => f.IsUserCode);

    /// <summary>How many user frames the alert shows: enough for handler → parser → the call that blocks.</summary>
    internal const int UserFramesShown = 4;

    /// <summary>
    /// "at Server.Lookup (Server.cs:42) ← Server.Parse (Server.cs:30) ← Server.OnReadable (Server.cs:18)", or
    /// "stack unavailable: why", or "" when the report carries neither. The innermost user frames, runtime and BCL frames
    /// folded (a "[Thread.Sleep]"-style note names the folded frame the user code called, when there is one), up to the
    /// loop's own dispatch.
    /// </summary>
    public string DescribeStack()
    {
        if (Stack is not { } stack)
        {
            return StackUnavailable is null ? "" : "stack unavailable: " + StackUnavailable;
        }
        var sb = new StringBuilder(160);
        int first = -1;
        for (int i = 0; i < stack.Count; i++)
        {
            if (stack[i].IsUserCode)
            {
                first = i;
                break;
            }
        }
        if (first < 0)
        {
            return "stack: no user frame (" + string.Join(" ← ", stack.Take(3).Select(f => f.TypeName + "." + f.MethodName)) + ")";
        }
        sb.Append("at ");
        if (first > 0)
        {
            // The BCL frame the user code called (Thread.Sleep, Monitor.Enter, Socket.Receive …), kept as a hint.
            var callee = stack[first - 1];
            sb.Append('[').Append(callee.DisplayName).Append("] ← ");
        }
        int shown = 0;
        for (int i = first; i < stack.Count && shown < UserFramesShown; i++)
        {
            var f = stack[i];
            if (!f.IsUserCode)
            {
                // Folded; the loop's own dispatch (NoBlock) ends the part a person needs.
                if (f.Module is "NoBlock.dll")
                {
                    break;
                }
                continue;
            }
            if (shown > 0)
            {
                sb.Append(" ← ");
            }
            sb.Append(f);
            shown++;
        }
        return sb.ToString();
    }

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
    /// The alert, e.g.
    /// <c>NoBlock: loop 'main' stalled 250 ms in Server.OnReadable (fd 17, readable): blocked in futex (a managed wait); observed 180 ms: 1 ms on CPU, 0 ms waiting for a CPU, 179 ms asleep, state S</c>.
    /// </summary>
    public override string ToString()
    {
        var sb = new StringBuilder(200);
        AppendHeadline(sb);
        // Further lines (what else was captured during the stall) go after the headline.
        return sb.ToString();
    }

    private void AppendHeadline(StringBuilder sb)
    {
        var ms = Ms(Elapsed);
        switch (Phase)
        {
            case StallPhase.Suppressed:
                sb.Append("NoBlock: loop '").Append(LoopName).Append("': suppressed ").Append(SuppressedCount.ToString(CultureInfo.InvariantCulture))
                  .Append(" stall report(s) in the last minute (report limit per minute reached)");
                return;
            case StallPhase.Ended:
                sb.Append("NoBlock: loop '").Append(LoopName).Append("' stall ended after ").Append(ms).Append(" ms in ").Append(Handler)
                  .Append(' ').Append(DescribeSource(Fd, Events));
                if (StalledAt is { } at)
                {
                    sb.Append(", stalled at ").Append(at);
                }
                sb.Append(", last seen ");
                AppendVerdict(sb);
                AppendSocketCost(sb);
                return;
        }
        sb.Append("NoBlock: loop '").Append(LoopName).Append(Phase == StallPhase.StillStalled ? "' still stalled, " : "' stalled ")
          .Append(ms).Append(" ms in ").Append(Handler).Append(' ').Append(DescribeSource(Fd, Events)).Append(": ");
        AppendVerdict(sb);
        AppendFigures(sb);
        var stack = DescribeStack();
        if (stack.Length > 0)
        {
            sb.Append("; ").Append(stack);
        }
    }

    /// <summary>"blocked in futex (a managed wait: lock contention)", "running on CPU (a CPU-bound handler)", "starved, waiting for a CPU (the machine is overloaded)".</summary>
    private void AppendVerdict(StringBuilder sb)
    {
        switch (Kind)
        {
            case StallKind.Blocked:
                if (Syscall is null && ThreadState == 'R')
                {
                    sb.Append("blocked (asleep most of the time; runnable again at the look)");
                    break;
                }
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
                sb.Append("running on CPU (a CPU-bound handler)");
                break;
            case StallKind.Starved:
                sb.Append("starved, waiting for a CPU (the machine is overloaded)");
                break;
        }
    }

    /// <summary>"; observed 82 ms: 80 ms on CPU, 2 ms waiting for a CPU, 0 ms asleep, state R" — the figures the verdict comes from.</summary>
    private void AppendFigures(StringBuilder sb)
    {
        if (ObservedTime <= TimeSpan.Zero)
        {
            return;
        }
        sb.Append("; observed ").Append(Ms(ObservedTime)).Append(" ms: ")
          .Append(Ms(CpuTime)).Append(" ms on CPU, ")
          .Append(Ms(RunQueueDelay)).Append(" ms waiting for a CPU, ")
          .Append(Ms(SleepTime)).Append(" ms asleep, state ").Append(ThreadState);
    }

    /// <summary>"; 48 KB queued in 12 receive queues (worst 16 KB on fd 23), accept queue 37/128, ListenOverflows +5", or nothing.</summary>
    private void AppendSocketCost(StringBuilder sb)
    {
        int start = sb.Length;
        if (Sockets is { } s)
        {
            sb.Append("; ");
            s.AppendQueues(sb);
        }
        if (NetworkCountersGrowth is { } g)
        {
            AppendGrowth(sb, start, "ListenOverflows", g.ListenOverflows);
            AppendGrowth(sb, start, "ListenDrops", g.ListenDrops);
            AppendGrowth(sb, start, "UDP RcvbufErrors", g.UdpRcvbufErrors);
        }
        if (UdpDropsGrowth is { } drops)
        {
            AppendGrowth(sb, start, "UDP drops on this loop's sockets", drops);
        }
    }

    private static void AppendGrowth(StringBuilder sb, int start, string name, long growth)
    {
        if (growth > 0)
        {
            sb.Append(sb.Length == start ? "; " : ", ").Append(name).Append(" +").Append(growth.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture);

    /// <summary>The socket-cost part of an ended report, as in <see cref="ToString"/> ("" when there is none); for the log's SocketCost field.</summary>
    internal string DescribeSocketCost()
    {
        var sb = new StringBuilder(96);
        AppendSocketCost(sb);
        return sb.Length > 2 ? sb.ToString(2, sb.Length - 2) : "";
    }
}
