using System.Diagnostics;
using System.Runtime.InteropServices;
using NoBlock.Diagnostics;
using Xunit;

namespace NoBlock.Tests.Diagnostics;

/// <summary>Parsing /proc and classifying samples, on fixed inputs.</summary>
public sealed class ThreadStateTests
{
    [Fact]
    public void Stat_fields_count_from_the_last_parenthesis()
    {
        const string stat = "4242 (a) b) (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 37 5 0 0 20 0 3 0 100 0 0";
        ThreadStateSample.ParseStat(stat, out char state, out long ticks);
        Assert.Equal('S', state);
        Assert.Equal(42, ticks);
    }

    [Theory]
    [InlineData("running", null)]
    [InlineData("-1 0x7ffe 0x7f00", null)]
    [InlineData("202 0x55d 0x80 0x0 0x0 0x0 0x0 0x7ffe 0x7f00", "futex")]
    [InlineData("230 0x1 0x0 0x7ffe 0x0 0x0 0x0 0x7ffe 0x7f00", "clock_nanosleep")]
    public void Syscall_file_gives_the_name_or_nothing(string text, string? expected)
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64 && expected is not null)
        {
            return; // the numbers above are x86-64's
        }
        Assert.Equal(expected, ThreadStateSample.ParseSyscall(text));
    }

    [Theory]
    [InlineData(202, Architecture.X64, "futex")]
    [InlineData(98, Architecture.Arm64, "futex")]
    [InlineData(0, Architecture.X64, "read")]
    [InlineData(63, Architecture.Arm64, "read")]
    [InlineData(45, Architecture.X64, "recvfrom")]
    [InlineData(207, Architecture.Arm64, "recvfrom")]
    [InlineData(42, Architecture.X64, "connect")]
    [InlineData(203, Architecture.Arm64, "connect")]
    [InlineData(35, Architecture.X64, "nanosleep")]
    [InlineData(101, Architecture.Arm64, "nanosleep")]
    [InlineData(232, Architecture.X64, "epoll_wait")]
    [InlineData(22, Architecture.Arm64, "epoll_pwait")]
    [InlineData(74, Architecture.X64, "fsync")]
    [InlineData(82, Architecture.Arm64, "fsync")]
    [InlineData(257, Architecture.X64, "openat")]
    [InlineData(56, Architecture.Arm64, "openat")]
    [InlineData(7, Architecture.X64, "poll")]
    [InlineData(73, Architecture.Arm64, "ppoll")]
    [InlineData(9999, Architecture.X64, "syscall 9999")]
    public void Syscall_tables_cover_both_architectures(int number, Architecture arch, string name)
    {
        Assert.Equal(name, SyscallNames.Name(number, arch));
    }

    [Fact]
    public void This_thread_can_be_sampled()
    {
        var tid = NoBlock.Interop.Sys.GetThreadId();
        var sample = ThreadStateSample.Read(tid);
        Assert.Equal('R', sample.State); // it is running: it is reading its own stat
        Assert.True(sample.CpuNanoseconds > 0);
    }

    [Fact]
    public void Voluntary_switches_come_from_status_and_not_from_the_nonvoluntary_line()
    {
        const string status = "Name:\ttest-loop\nState:\tS (sleeping)\nnonvoluntary_ctxt_switches:\t7\nvoluntary_ctxt_switches:\t42\n";
        Assert.Equal(42, ThreadStateSample.ParseVoluntarySwitches(status));
        Assert.Equal(-1, ThreadStateSample.ParseVoluntarySwitches("Name:\tx\nnonvoluntary_ctxt_switches:\t7\n"));
        var sample = ThreadStateSample.Read(NoBlock.Interop.Sys.GetThreadId());
        Assert.True(sample.VoluntarySwitches >= 0);
    }

    /// <summary>A sample at <paramref name="ms"/> with these totals (milliseconds) and voluntary-switch count.</summary>
    private static ThreadStateSample At(long ms, char state, long cpuMs, long waitMs, long switches = 0, bool hasRunQueue = true) =>
        new(ms * Stopwatch.Frequency / 1000, state, state == 'R' ? null : "futex", cpuMs * 1_000_000, waitMs * 1_000_000, hasRunQueue, switches);

    private static StallKind Verdict(ThreadStateSample before, ThreadStateSample after) => ThreadWindow.Between(before, after).Kind;

    [Fact]
    public void Asleep_most_of_the_window_is_blocked_whatever_the_state_now()
    {
        Assert.Equal(StallKind.Blocked, Verdict(At(0, 'S', 0, 0, 5), At(100, 'S', 1, 0, 5)));
        // Woken a moment ago and waiting for a CPU: still a handler that slept 90% of the time.
        Assert.Equal(StallKind.Blocked, Verdict(At(0, 'S', 0, 0, 5), At(100, 'R', 2, 8, 6)));
    }

    [Fact]
    public void On_a_cpu_most_of_the_time_is_running()
    {
        var window = ThreadWindow.Between(At(0, 'R', 0, 0), At(100, 'R', 95, 5));
        Assert.Equal(StallKind.Running, window.Kind);
        Assert.Equal(TimeSpan.FromMilliseconds(95), window.OnCpu);
        Assert.Equal(TimeSpan.Zero, window.Asleep);
    }

    [Fact]
    public void Sharing_a_core_with_one_busy_thread_is_running_and_with_two_is_starved()
    {
        // The scheduler splits a core 1:1 between two CPU-bound threads and 1:2 with two competitors: the verdict
        // must not sit on either split, or identical runs flip between the two words.
        Assert.Equal(StallKind.Running, Verdict(At(0, 'R', 0, 0), At(100, 'R', 50, 50)));
        Assert.Equal(StallKind.Running, Verdict(At(0, 'R', 0, 0), At(100, 'R', 45, 55)));
        Assert.Equal(StallKind.Starved, Verdict(At(0, 'R', 0, 0), At(100, 'R', 33, 67)));
        Assert.Equal(StallKind.Starved, Verdict(At(0, 'R', 0, 0), At(100, 'R', 20, 80)));
    }

    [Fact]
    public void Asleep_at_the_sample_but_mostly_on_cpu_is_running()
    {
        Assert.Equal(StallKind.Running, Verdict(At(0, 'R', 0, 0, 3), At(100, 'S', 90, 0, 4)));
    }

    [Fact]
    public void A_wait_the_kernel_has_not_counted_yet_is_waiting_when_the_thread_never_slept()
    {
        // Runnable at the first look, no voluntary switch since, 80 ms unaccounted: a throttled (cgroup CPU quota) or
        // starved thread whose current wait schedstat adds only when it next runs. It never slept: starved, not blocked.
        var window = ThreadWindow.Between(At(0, 'R', 0, 0, 9), At(100, 'R', 20, 0, 9));
        Assert.Equal(StallKind.Starved, window.Kind);
        Assert.Equal(TimeSpan.FromMilliseconds(80), window.WaitingForCpu);
        Assert.Equal(TimeSpan.Zero, window.Asleep);
        // The same figures with one voluntary switch: it did go to sleep, and the unaccounted time is its sleep.
        Assert.Equal(StallKind.Blocked, Verdict(At(0, 'R', 0, 0, 9), At(100, 'S', 20, 0, 10)));
    }

    [Fact]
    public void Without_schedstat_the_state_decides_and_nothing_is_starved()
    {
        Assert.Equal(StallKind.Blocked, Verdict(At(0, 'S', 0, 0, 1, hasRunQueue: false), At(100, 'S', 10, 0, 1, hasRunQueue: false)));
        Assert.Equal(StallKind.Running, Verdict(At(0, 'R', 0, 0, 1, hasRunQueue: false), At(100, 'R', 20, 0, 1, hasRunQueue: false)));
        Assert.Equal(StallKind.Running, Verdict(At(0, 'R', 0, 0, 1, hasRunQueue: false), At(100, 'S', 60, 0, 2, hasRunQueue: false)));
    }

    [Fact]
    public void The_figures_an_alert_prints_give_back_its_verdict_by_the_documented_rule()
    {
        // Every split of a 100 ms window in 5 ms steps: the rule in docs/watchdog.md, applied to the printed figures,
        // gives the printed verdict.
        for (int cpu = 0; cpu <= 100; cpu += 5)
        {
            for (int wait = 0; cpu + wait <= 100; wait += 5)
            {
                var window = ThreadWindow.Between(At(0, 'S', 0, 0, 1), At(100, 'S', cpu, wait, 2));
                var report = new StallReport("l", TimeSpan.FromMilliseconds(120), "H.M", -1, window.Kind == StallKind.Blocked, null)
                {
                    Kind = window.Kind,
                    ThreadState = 'S',
                    CpuTime = window.OnCpu,
                    RunQueueDelay = window.WaitingForCpu,
                    SleepTime = window.Asleep,
                    ObservedTime = window.Observed,
                };
                var m = System.Text.RegularExpressions.Regex.Match(report.ToString(), @"observed (\d+) ms: (\d+) ms on CPU, (\d+) ms waiting for a CPU, (\d+) ms asleep");
                Assert.True(m.Success, report.ToString());
                double observed = double.Parse(m.Groups[1].Value), onCpu = double.Parse(m.Groups[2].Value), waiting = double.Parse(m.Groups[3].Value), asleep = double.Parse(m.Groups[4].Value);
                var byTheRule = asleep >= observed / 2 ? StallKind.Blocked : onCpu < 0.4 * (onCpu + waiting) ? StallKind.Starved : StallKind.Running;
                Assert.True(byTheRule == report.Kind, report.ToString());
                string word = report.Kind switch { StallKind.Blocked => "blocked in", StallKind.Running => "running on CPU", _ => "starved" };
                Assert.Contains(": " + word, report.ToString());
            }
        }
    }
}
