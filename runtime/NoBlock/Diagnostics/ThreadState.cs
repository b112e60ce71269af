using System.Diagnostics;
using System.Globalization;

namespace NoBlock.Diagnostics;

/// <summary>
/// One look at a thread of this process through <c>/proc/self/task/&lt;tid&gt;</c>: its scheduler state
/// (<c>stat</c>), the syscall it sits in (<c>syscall</c>), and its CPU and run-queue times (<c>schedstat</c>,
/// falling back to <c>stat</c>'s utime+stime). Two samples of the same thread tell what it did in between:
/// slept (blocked), ran (a CPU-bound handler) or waited for a CPU (starved).
/// </summary>
internal readonly struct ThreadStateSample
{
    /// <summary>
    /// <c>stat</c>'s utime and stime are in clock ticks (USER_HZ). Linux fixes USER_HZ at 100 on every
    /// architecture for user space, whatever the kernel's internal HZ, so one tick is 10 ms.
    /// </summary>
    private const long NanosecondsPerClockTick = 10_000_000;

    public ThreadStateSample(long timestamp, char state, string? syscall, long cpuNanoseconds, long runQueueNanoseconds, bool hasRunQueue, long voluntarySwitches = -1)
    {
        Timestamp = timestamp;
        State = state;
        Syscall = syscall;
        CpuNanoseconds = cpuNanoseconds;
        RunQueueNanoseconds = runQueueNanoseconds;
        HasRunQueue = hasRunQueue;
        VoluntarySwitches = voluntarySwitches;
    }

    /// <summary>When the sample was taken (Stopwatch timestamp).</summary>
    public long Timestamp { get; }

    /// <summary>The state letter of <c>stat</c>: R running or runnable, S sleeping, D uninterruptible (disk), T stopped, …; '?' when unreadable.</summary>
    public char State { get; }

    /// <summary>The syscall's name when the thread sits in one, null when it runs in user space or it is unknown.</summary>
    public string? Syscall { get; }

    /// <summary>Total time on CPU (schedstat's first field, or utime+stime at tick resolution).</summary>
    public long CpuNanoseconds { get; }

    /// <summary>Total time runnable but waiting for a CPU (schedstat's second field); 0 when schedstat is missing.</summary>
    public long RunQueueNanoseconds { get; }

    /// <summary>False when the kernel has no schedstat (CONFIG_SCHED_INFO off): starvation cannot be told apart.</summary>
    public bool HasRunQueue { get; }

    /// <summary>
    /// How many times the thread gave up the CPU by itself (<c>voluntary_ctxt_switches</c> in <c>status</c>): each
    /// sleep in a syscall is one. -1 when unknown. Two samples with the same count and a runnable thread at the first
    /// say it never slept in between.
    /// </summary>
    public long VoluntarySwitches { get; }

    public bool IsValid => State != '?';

    /// <summary>Samples thread <paramref name="tid"/> of this process. Never throws: an unreadable file gives '?' / null / 0.</summary>
    public static ThreadStateSample Read(int tid)
    {
        long now = Stopwatch.GetTimestamp();
        if (tid <= 0)
        {
            return new ThreadStateSample(now, '?', null, 0, 0, false);
        }
        string dir = $"/proc/self/task/{tid}/";
        char state = '?';
        long cpu = 0, runQueue = 0;
        bool hasRunQueue = false;
        string? syscall = null;

        var stat = TryReadAll(dir + "stat");
        if (stat is not null)
        {
            ParseStat(stat, out state, out long ticks);
            cpu = ticks * NanosecondsPerClockTick;
        }
        var schedstat = TryReadAll(dir + "schedstat");
        if (schedstat is not null && TryParseSchedstat(schedstat, out long onCpu, out long waiting))
        {
            cpu = onCpu; // nanoseconds instead of 10 ms ticks: the same quantity, finer
            runQueue = waiting;
            hasRunQueue = true;
        }
        if (state != 'R')
        {
            var sys = TryReadAll(dir + "syscall");
            if (sys is not null)
            {
                syscall = ParseSyscall(sys);
            }
        }
        var status = TryReadAll(dir + "status");
        long voluntary = status is null ? -1 : ParseVoluntarySwitches(status);
        return new ThreadStateSample(now, state, syscall, cpu, runQueue, hasRunQueue, voluntary);
    }

    /// <summary>Parses <c>pid (comm) S … utime stime …</c>; comm may hold spaces and parentheses, so fields count from the last ')'.</summary>
    internal static void ParseStat(string text, out char state, out long utimePlusStimeTicks)
    {
        state = '?';
        utimePlusStimeTicks = 0;
        int close = text.LastIndexOf(')');
        if (close < 0 || close + 2 >= text.Length)
        {
            return;
        }
        var fields = text.Substring(close + 2).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length > 0 && fields[0].Length == 1)
        {
            state = fields[0][0];
        }
        // After ") ": field 3 (state) is index 0, so utime (field 14) is index 11 and stime (field 15) index 12.
        if (fields.Length > 12
            && long.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out long utime)
            && long.TryParse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture, out long stime))
        {
            utimePlusStimeTicks = utime + stime;
        }
    }

    /// <summary>The <c>voluntary_ctxt_switches:</c> line of <c>status</c>; -1 when missing.</summary>
    internal static long ParseVoluntarySwitches(string status)
    {
        const string Key = "voluntary_ctxt_switches:";
        int at = status.IndexOf("\n" + Key, StringComparison.Ordinal);
        if (at < 0)
        {
            return -1;
        }
        var rest = status.AsSpan(at + 1 + Key.Length);
        int end = rest.IndexOf('\n');
        return long.TryParse(end < 0 ? rest : rest.Slice(0, end), NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out long n) ? n : -1;
    }

    internal static bool TryParseSchedstat(string text, out long onCpu, out long waiting)
    {
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        waiting = 0;
        onCpu = 0;
        return parts.Length >= 2
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out onCpu)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out waiting);
    }

    /// <summary>
    /// <c>running</c> (user space), <c>-1 sp pc</c> (blocked outside a syscall, e.g. a page fault) or
    /// <c>nr arg1 … arg6 sp pc</c> with nr in decimal.
    /// </summary>
    internal static string? ParseSyscall(string text)
    {
        var first = text.AsSpan().Trim();
        int space = first.IndexOf(' ');
        if (space > 0)
        {
            first = first.Slice(0, space);
        }
        if (!int.TryParse(first, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int nr) || nr < 0)
        {
            return null;
        }
        return SyscallNames.Name(nr);
    }

    private static string? TryReadAll(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null; // the thread exited between samples
        }
        catch (UnauthorizedAccessException)
        {
            return null; // syscall needs ptrace access; a hardened kernel may refuse even our own threads
        }
    }
}
