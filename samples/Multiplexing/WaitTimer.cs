using System.Diagnostics;
using NoBlock.Samples.Multiplexing.Interop;
using NoBlock.Samples.Multiplexing.Mechanisms;

namespace NoBlock.Samples.Multiplexing;

/// <summary>How long and how often one cell of the table is measured.</summary>
internal sealed record TimingLimits(int WarmupCalls, int MaxCalls, TimeSpan MaxTime)
{
    /// <summary>
    /// Enough untimed calls for the JIT to settle on optimized code (tiered compilation promotes a method
    /// after 30 calls) and for the kernel's structures to be in cache, as they are in a loop that waits
    /// thousands of times a second.
    /// </summary>
    public const int DefaultWarmupCalls = 200;

    /// <summary>
    /// 2,000 timed calls make the p90 rest on 200 samples above it: stable to a few percent on an idle
    /// machine, and still visible noise on a busy one rather than a single outlier.
    /// </summary>
    public const int DefaultMaxCalls = 2_000;

    /// <summary>
    /// A cell stops after this long even if it has not made its calls, so a slow mechanism over 20,000 fds
    /// cannot stretch the whole run past a minute. Every cell still makes at least one timed call.
    /// </summary>
    public static readonly TimeSpan DefaultMaxTime = TimeSpan.FromSeconds(2);

    public static TimingLimits Default { get; } = new(DefaultWarmupCalls, DefaultMaxCalls, DefaultMaxTime);
}

/// <summary>What one cell measured: the number of timed calls and the median and p90 duration of one call.</summary>
/// <summary>
/// What one cell measured: the number of timed calls, the median and p90 duration of one call, and the share
/// of the timed loop's wall time during which the thread had a CPU (1.0 on an idle machine).
/// </summary>
internal sealed record CellResult(string Mechanism, int RegisteredFds, int ReadyFds, int Calls, double MedianMicroseconds, double P90Microseconds, double CpuShare)
{
    /// <summary>
    /// Below this share the thread spent more than a tenth of the cell waiting for a CPU that other processes
    /// had: its durations include that waiting, and the table flags the cell.
    /// </summary>
    public const double DisturbedBelowCpuShare = 0.9;

    public bool Disturbed => CpuShare < DisturbedBelowCpuShare;

    /// <summary>How many attempts were made at this cell (more than one when an attempt was disturbed).</summary>
    public int Attempts { get; init; } = 1;
}

/// <summary>A wait returned a different number of ready fds than are ready: an error, never a figure.</summary>
internal sealed class WrongReadyCountException(string message) : Exception(message);

/// <summary>Times one wait call, many times, and checks every call's answer.</summary>
internal static class WaitTimer
{
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

        var ticks = new long[limits.MaxCalls];
        int calls = 0;
        long cpuStart = Sys.ThreadCpuNanoseconds();
        long wallStart = Stopwatch.GetTimestamp();
        long deadline = wallStart + (long)(limits.MaxTime.TotalSeconds * Stopwatch.Frequency);
        do
        {
            cancellation.ThrowIfCancellationRequested();
            mechanism.Rearm();
            long start = Stopwatch.GetTimestamp();
            int ready = mechanism.WaitOnce();
            long end = Stopwatch.GetTimestamp();
            ticks[calls++] = end - start;
            Check(mechanism, fds, ready, expected);
        }
        while (calls < ticks.Length && Stopwatch.GetTimestamp() < deadline);
        double wallNanoseconds = (Stopwatch.GetTimestamp() - wallStart) * 1e9 / Stopwatch.Frequency;
        double cpuShare = Math.Min(1, (Sys.ThreadCpuNanoseconds() - cpuStart) / wallNanoseconds);

        var micros = new double[calls];
        for (int i = 0; i < calls; i++)
        {
            micros[i] = ticks[i] * 1e6 / Stopwatch.Frequency;
        }
        Array.Sort(micros);
        return new CellResult(mechanism.Name, fds.Count, expected, calls, Statistics.Percentile(micros, 0.5), Statistics.Percentile(micros, 0.9), cpuShare);
    }

    private static void Check(IWaitMechanism mechanism, RegisteredFds fds, int ready, int expected)
    {
        if (ready != expected)
        {
            throw new WrongReadyCountException($"{mechanism.Name} over {fds.Count} fds returned {ready} ready fds, but {expected} are ready");
        }
    }
}
