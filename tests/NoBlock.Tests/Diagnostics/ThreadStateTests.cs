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

    private static ThreadStateSample At(long ms, char state, long cpuMs, long waitMs) =>
        new(ms * Stopwatch.Frequency / 1000, state, state == 'R' ? null : "futex", cpuMs * 1_000_000, waitMs * 1_000_000, hasRunQueue: true);

    /// <summary>A quarter of the default 100 ms threshold, as the watchdog passes it.</summary>
    private static readonly long MinWindow = 25 * Stopwatch.Frequency / 1000;

    [Fact]
    public void A_window_too_short_to_judge_leaves_the_state_to_decide()
    {
        // 2 ms observed, mostly on CPU and then asleep: too little to call it CPU-bound; the sleep decides.
        Assert.Equal(StallKind.Blocked, LoopWatch.Classify(At(0, 'R', 0, 0), At(2, 'S', 2, 0), MinWindow, out _, out _, out _));
        Assert.Equal(StallKind.Running, LoopWatch.Classify(At(0, 'R', 0, 0), At(2, 'R', 0, 2), MinWindow, out _, out _, out _));
    }

    [Fact]
    public void Sleeping_with_little_cpu_is_blocked()
    {
        Assert.Equal(StallKind.Blocked, LoopWatch.Classify(At(0, 'S', 0, 0), At(100, 'S', 1, 0), MinWindow, out _, out _, out _));
    }

    [Fact]
    public void Running_on_cpu_is_running()
    {
        Assert.Equal(StallKind.Running, LoopWatch.Classify(At(0, 'R', 0, 0), At(100, 'R', 95, 5), MinWindow, out long cpu, out _, out long window));
        Assert.True(cpu * 2 > window);
    }

    [Fact]
    public void Runnable_but_waiting_for_a_cpu_is_starved()
    {
        Assert.Equal(StallKind.Starved, LoopWatch.Classify(At(0, 'R', 0, 0), At(100, 'R', 20, 80), MinWindow, out _, out _, out _));
    }

    [Fact]
    public void Asleep_at_the_sample_but_mostly_on_cpu_is_running()
    {
        Assert.Equal(StallKind.Running, LoopWatch.Classify(At(0, 'R', 0, 0), At(100, 'S', 90, 0), MinWindow, out _, out _, out _));
    }
}
