using System.Diagnostics;

namespace NoBlock.Diagnostics;

/// <summary>
/// What the loop thread did between two looks (<see cref="ThreadStateSample"/>s): how much of the observed wall
/// time it was on a CPU, runnable but waiting for one (the run queue), and asleep (off-CPU by its own wait, the
/// rest); and the verdict those figures give. The verdict is a function of the figures alone, so a report
/// explains itself: the same figures always give the same verdict.
/// </summary>
internal readonly record struct ThreadWindow(TimeSpan Observed, TimeSpan OnCpu, TimeSpan WaitingForCpu, TimeSpan Asleep, bool HasRunQueue, char State)
{
    /// <summary>
    /// Blocked when the thread was asleep at least this share of the observed time: it did not even want the CPU
    /// for most of it, so whatever it waited for (a lock, a sleep, a disk) is the stall.
    /// </summary>
    public const double BlockedAsleepShare = 0.5;

    /// <summary>
    /// Otherwise the thread wanted a CPU most of the time. Starved when it got less than this share of the time it
    /// wanted one (on CPU / (on CPU + waiting)), running otherwise. 0.4 sits between the shares the scheduler
    /// gives one CPU-bound thread beside one equal competitor on its core (1/2) and beside two (1/3): a stall on
    /// a core shared with one other busy thread is still the handler's computing (it would be half as long
    /// alone) and says "running" in every run, instead of flipping on a 1:1 split; with two or more competitors
    /// the machine took most of the time and it says "starved" in every run.
    /// </summary>
    public const double StarvedCpuShare = 0.4;

    /// <summary>The figures between two samples of the same thread.</summary>
    /// <remarks>
    /// schedstat adds a wait to the run-queue total only when the wait ends (the thread gets a CPU), so a thread
    /// waiting right now — starved, or throttled by a cgroup CPU quota — shows that wait as unexplained time.
    /// When the thread was runnable at the first sample and made no voluntary context switch since, it never
    /// slept in between: the unexplained time is waiting, not sleep. Otherwise the unexplained time is sleep.
    /// </remarks>
    public static ThreadWindow Between(ThreadStateSample before, ThreadStateSample after)
    {
        long wallNs = StopwatchToNanoseconds(Math.Max(0, after.Timestamp - before.Timestamp));
        long cpuNs = Math.Max(0, after.CpuNanoseconds - before.CpuNanoseconds);
        long waitNs = after.HasRunQueue && before.HasRunQueue ? Math.Max(0, after.RunQueueNanoseconds - before.RunQueueNanoseconds) : 0;
        // The /proc reads and the timestamps are not one atomic instant: the accounted times may exceed the wall time a little.
        wallNs = Math.Max(wallNs, cpuNs + waitNs);
        long restNs = wallNs - cpuNs - waitNs;
        bool neverSlept = before.State == 'R' && before.VoluntarySwitches >= 0 && after.VoluntarySwitches == before.VoluntarySwitches;
        long asleepNs = restNs;
        if (neverSlept)
        {
            asleepNs = 0;
            if (after.HasRunQueue)
            {
                waitNs += restNs;
            }
            else
            {
                cpuNs += restNs; // no run-queue figures: all the thread can have done is run
            }
        }
        return new ThreadWindow(FromNs(wallNs), FromNs(cpuNs), FromNs(waitNs), FromNs(asleepNs), after.HasRunQueue, after.State);
    }

    /// <summary>
    /// The verdict. With run-queue figures: blocked when asleep at least <see cref="BlockedAsleepShare"/> of the
    /// observed time; else starved when on CPU less than <see cref="StarvedCpuShare"/> of the time it wanted a
    /// CPU; else running. Without them (no schedstat), sleep and waiting cannot be told apart: blocked when the
    /// thread sleeps now (state S or D) and was on CPU less than half the time, else running; never starved.
    /// </summary>
    public StallKind Kind
    {
        get
        {
            if (!HasRunQueue)
            {
                bool sleepingNow = State is 'S' or 'D' or 'I';
                return sleepingNow && OnCpu.Ticks * 2 < Observed.Ticks ? StallKind.Blocked : StallKind.Running;
            }
            if (Asleep.Ticks >= Observed.Ticks * BlockedAsleepShare)
            {
                return StallKind.Blocked;
            }
            long wanted = OnCpu.Ticks + WaitingForCpu.Ticks;
            return OnCpu.Ticks < wanted * StarvedCpuShare ? StallKind.Starved : StallKind.Running;
        }
    }

    private static long StopwatchToNanoseconds(long ticks) => (long)(ticks * (1e9 / Stopwatch.Frequency));

    private static TimeSpan FromNs(long ns) => TimeSpan.FromTicks(ns / 100);
}
