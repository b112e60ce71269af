using System.Diagnostics;
using NoBlock.Samples.Multiplexing.Interop;
using NoBlock.Samples.Multiplexing.Mechanisms;

namespace NoBlock.Samples.Multiplexing;

/// <summary>How long and how often one cell of the table is measured.</summary>
internal sealed record TimingLimits(int WarmupCalls, int MaxCalls, TimeSpan MaxTime)
{
    /// <summary>
    /// Enough untimed calls for the kernel's structures of every registered fd to be in cache, as they are in a
    /// loop that waits thousands of times a second, and for the first-call costs (P/Invoke stub binding, page
    /// faults on the buffers) to be behind us. The JIT needs none: tiered compilation is off in the project.
    /// </summary>
    public const int DefaultWarmupCalls = 200;

    /// <summary>
    /// 2,000 timed calls make the p90 rest on 200 samples above it: stable to a few percent on an idle
    /// machine, and still visible noise on a busy one rather than a single outlier.
    /// </summary>
    public const int DefaultMaxCalls = 2_000;

    /// <summary>
    /// A cell stops after this long even if it has not made its calls, so a slow mechanism over 20,000 fds
    /// cannot stretch the whole run past a minute. Every cell still makes at least one timed call (a call that
    /// lost its CPU is counted but not timed, so a cell on a saturated machine may end with no figure).
    /// </summary>
    public static readonly TimeSpan DefaultMaxTime = TimeSpan.FromSeconds(2);

    public static TimingLimits Default { get; } = new(DefaultWarmupCalls, DefaultMaxCalls, DefaultMaxTime);
}

/// <summary>
/// What one cell measured: the median and p90 duration of one call over the calls that kept their CPU
/// (<see cref="Calls"/>), and how many calls were left out because the thread lost its CPU during them.
/// </summary>
internal sealed record CellResult(string Mechanism, int RegisteredFds, int ReadyFds, int Calls, int PreemptedCalls, double MedianMicroseconds, double P90Microseconds)
{
    /// <summary>
    /// With more than half of its calls preempted, a cell's remaining calls are the lucky minority on a busy
    /// machine (and, other processes sharing the caches, not its typical cost): the table flags the cell.
    /// </summary>
    public const double DisturbedAbovePreemptedShare = 0.5;

    /// <summary>The share of the timed calls during which the thread lost its CPU.</summary>
    public double PreemptedShare => (double)PreemptedCalls / (Calls + PreemptedCalls);

    public bool Disturbed => PreemptedShare > DisturbedAbovePreemptedShare;

    /// <summary>How many attempts were made at this cell (more than one when an attempt was disturbed).</summary>
    public int Attempts { get; init; } = 1;
}

/// <summary>A wait returned a different number of ready fds than are ready: an error, never a figure.</summary>
internal sealed class WrongReadyCountException(string message) : Exception(message);

/// <summary>Times one wait call, many times, and checks every call's answer.</summary>
internal static class WaitTimer
{
    /// <summary>
    /// A call whose wall time exceeds the thread's CPU time by more than this lost its CPU: being switched out
    /// and back costs more than 5 µs, while the two clocks (CLOCK_MONOTONIC, the scheduler's runtime) differ by
    /// far less over one call. Interrupt handling that long is left out too; it is not the syscall's cost either.
    /// </summary>
    public const double PreemptionToleranceNanoseconds = 5_000;

    public static CellResult Measure(IWaitMechanism mechanism, RegisteredFds fds, TimingLimits limits, CancellationToken cancellation)
    {
        int expected = fds.ReadyCount;
        for (int i = 0; i < limits.WarmupCalls; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            mechanism.Rearm();
            Check(mechanism, fds, mechanism.WaitOnce(), expected);
        }

        // Once per cell, check not only how many but which fds were reported; every timed call below checks the count.
        mechanism.Rearm();
        Check(mechanism, fds, mechanism.WaitOnce(), expected);
        string? wrong = mechanism.CheckReported(fds);
        if (wrong is not null)
        {
            throw new WrongReadyCountException($"{mechanism.Name} over {fds.Count} fds: {wrong}");
        }

        // Each call is bracketed by the thread's CPU clock outside the wall clock: without preemption the CPU
        // time covers the whole wall window (and a little more); when the wall time exceeds it, the thread sat
        // waiting for a CPU during the call and that call says nothing about the syscall. It is counted and
        // left out, so the figures hold on a machine shared with other work.
        var ticks = new long[limits.MaxCalls];
        int calls = 0;
        int preempted = 0;
        long deadline = Stopwatch.GetTimestamp() + (long)(limits.MaxTime.TotalSeconds * Stopwatch.Frequency);
        do
        {
            cancellation.ThrowIfCancellationRequested();
            mechanism.Rearm();
            long cpuBefore = Sys.ThreadCpuNanoseconds();
            long start = Stopwatch.GetTimestamp();
            int ready = mechanism.WaitOnce();
            long end = Stopwatch.GetTimestamp();
            long cpuAfter = Sys.ThreadCpuNanoseconds();
            Check(mechanism, fds, ready, expected);
            double wallNanoseconds = (end - start) * 1e9 / Stopwatch.Frequency;
            if (wallNanoseconds - (cpuAfter - cpuBefore) > PreemptionToleranceNanoseconds)
            {
                preempted++;
            }
            else
            {
                ticks[calls++] = end - start;
            }
        }
        while (calls < ticks.Length && Stopwatch.GetTimestamp() < deadline);

        if (calls == 0)
        {
            // Every call lost its CPU: nothing to report but that (the table flags the cell).
            return new CellResult(mechanism.Name, fds.Count, expected, 0, preempted, double.NaN, double.NaN);
        }
        var micros = new double[calls];
        for (int i = 0; i < calls; i++)
        {
            micros[i] = ticks[i] * 1e6 / Stopwatch.Frequency;
        }
        Array.Sort(micros);
        return new CellResult(mechanism.Name, fds.Count, expected, calls, preempted, Statistics.Percentile(micros, 0.5), Statistics.Percentile(micros, 0.9));
    }

    private static void Check(IWaitMechanism mechanism, RegisteredFds fds, int ready, int expected)
    {
        if (ready != expected)
        {
            throw new WrongReadyCountException($"{mechanism.Name} over {fds.Count} fds returned {ready} ready fds, but {expected} are ready");
        }
    }
}
