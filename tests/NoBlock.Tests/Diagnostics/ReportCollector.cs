using System.Collections.Concurrent;
using NoBlock.Tests.Runtime;

namespace NoBlock.Tests.Diagnostics;

/// <summary>Collects what the watchdog delivers (on its own thread) and waits for it, with generous timeouts.</summary>
internal sealed class ReportCollector
{
    private readonly ConcurrentQueue<StallReport> _stalls = new();
    private readonly ConcurrentQueue<GuardReport> _guards = new();

    public StallReport[] Stalls => _stalls.ToArray();

    public GuardReport[] Guards => _guards.ToArray();

    public void OnStall(StallReport r) => _stalls.Enqueue(r);

    public void OnGuard(GuardReport r) => _guards.Enqueue(r);

    /// <summary>Reports of <paramref name="phase"/> for the loop named <paramref name="loop"/> so far.</summary>
    public int Count(string loop, StallPhase phase) => _stalls.Count(r => r.LoopName == loop && r.Phase == phase);

    /// <summary>
    /// Keeps the calling (loop) thread stalled, asleep or spinning, until the loop named <paramref name="loop"/> has
    /// <paramref name="count"/> reports of <paramref name="phase"/>, or <see cref="Waits.Long"/> has passed. A stall of
    /// a fixed length can end before a starved watchdog first looks at it (on a loaded machine a 150 ms sleep went
    /// unreported about once in ten runs); this one lasts until it has been seen, so the test does not depend on
    /// how soon the watchdog got a CPU.
    /// </summary>
    public void StallUntil(string loop, StallPhase phase, int count = 1, bool spin = false)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (Count(loop, phase) < count && waited.Elapsed < Waits.Long)
        {
            if (spin)
            {
                Thread.SpinWait(1000);
            }
            else
            {
                Thread.Sleep(5);
            }
        }
    }

    public StallReport WaitFor(StallPhase phase, string? handlerContains = null)
    {
        StallReport? found = null;
        Waits.Until(() => (found = Stalls.FirstOrDefault(r => r.Phase == phase && (handlerContains is null || r.Handler.Contains(handlerContains)))) is not null,
            $"a {phase} report");
        return found!;
    }

    public GuardReport WaitForGuard(LoopGuard guard, Func<GuardReport, bool>? match = null)
    {
        GuardReport? found = null;
        Waits.Until(() => (found = Guards.FirstOrDefault(r => r.Guard == guard && (match is null || match(r)))) is not null, $"a {guard} finding");
        return found!;
    }

    public EventLoopOptions Options(string name, TimeSpan threshold) => new()
    {
        Name = name,
        StallThreshold = threshold,
        OnStall = OnStall,
        Guards = { OnReport = OnGuard, EdgeTriggeredLeftovers = false, SyncWaits = false },
        // Stack capture costs an EventPipe session per stall: only StallStackTests turn it on.
        Watchdog = { CaptureStack = false },
    };
}
