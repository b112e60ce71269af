using NoBlock.Samples.Multiplexing.Interop;
using NoBlock.Samples.Multiplexing.Mechanisms;

namespace NoBlock.Samples.Multiplexing;

/// <summary>
/// Measures the rows: for each registered-fd count, opens the fds, times select, poll, epoll_wait and io_uring over
/// them, and closes them again before the next count (so each row starts from the lowest fd numbers, which is
/// what lets select watch the small rows at all).
/// </summary>
internal sealed class ScalingRun(TimingLimits limits, Progress progress, CancellationToken cancellation)
{
    /// <summary>The quoted table's round counts (it goes 10, 100, 1K, 10K, 50K; 50K does not fit in one process here).</summary>
    public static readonly int[] RoundCounts = [10, 100, 1_000, 10_000];

    /// <summary>Rows at or below this count fit select in any process; the select-ceiling row is only worth adding above it.</summary>
    private const int SmallRowCount = 100;

    /// <summary>How many of the numbers below FD_SETSIZE the runtime held when the select-ceiling row was planned.</summary>
    public int SelectCeilingRuntimeFds { get; private set; }

    /// <summary>Measures the round counts up to <paramref name="largest"/>, plus <paramref name="largest"/> itself and select's ceiling.</summary>
    public IReadOnlyList<TableRow> MeasureRows(int largest, bool largestIsRequested)
    {
        var plan = RoundCounts.Where(c => c <= largest).Select(c => (Count: c, Kind: RowKind.Round)).ToList();
        if (!RoundCounts.Contains(largest))
        {
            plan.Add((largest, largestIsRequested ? RowKind.Requested : RowKind.Largest));
        }

        var rows = new List<TableRow>();
        bool ceilingPlanned = false;
        foreach ((int count, RowKind kind) in plan)
        {
            if (!ceilingPlanned && count > SmallRowCount)
            {
                // Counted now, not at start: the runtime's fds opened while the small rows ran (assemblies it
                // loaded) took low numbers too.
                ceilingPlanned = true;
                int ceiling = FdBudget.SelectCeiling();
                SelectCeilingRuntimeFds = Sys.FdSetSize - FdBudget.SelectHeadroom - ceiling;
                if (ceiling > SmallRowCount && ceiling < count)
                {
                    rows.Add(MeasureRow(ceiling, RowKind.SelectCeiling));
                }
            }
            rows.Add(MeasureRow(count, kind));
        }
        return rows;
    }

    private TableRow MeasureRow(int count, RowKind kind)
    {
        string setup = $"{count:N0} fds: opening {RegisteredFds.FdsNeeded(count) / 2:N0} socketpairs";
        using RegisteredFds fds = RegisteredFds.Open(count, (done, total) => progress.Update(setup, done / 2, total / 2), cancellation);
        var cells = new Dictionary<string, Cell>();

        if (SelectWait.CanWatch(fds))
        {
            using var select = new SelectWait(fds);
            cells[select.Name] = Measure(select, fds);
        }
        else
        {
            cells["select"] = new NotApplicableCell(count > Sys.FdSetSize
                ? ScalingTable.NotApplicableBeyondFdSetSize
                : $"n/a (fd {fds.HighestFd:N0} ≥ {Sys.FdSetSize})");
        }

        using (var poll = new PollWait(fds))
        {
            cells[poll.Name] = Measure(poll, fds);
        }

        string registering = $"{count:N0} fds: epoll_ctl(ADD)";
        using (var epoll = new EpollWait(fds, (done, total) => progress.Update(registering, done, total), cancellation))
        {
            cells[epoll.Name] = Measure(epoll, fds);
        }

        string arming = $"{count:N0} fds: IORING_OP_POLL_ADD";
        using (var uring = new IoUringPollWait(fds, (done, total) => progress.Update(arming, done, total), cancellation))
        {
            cells[uring.Name] = Measure(uring, fds);
        }
        return new TableRow(count, fds.ReadyCount, kind, cells);
    }

    /// <summary>
    /// A cell disturbed by other processes (see <see cref="CellResult.Disturbed"/>) is measured again, up to
    /// this many attempts in all, and the least disturbed attempt is kept: bursts of other work on a shared
    /// machine come and go within seconds, and a retry costs at most a few seconds more.
    /// </summary>
    public const int MaxAttempts = 3;

    private MeasuredCell Measure(IWaitMechanism mechanism, RegisteredFds fds)
    {
        CellResult? best = null;
        int attempt = 0;
        while (attempt < MaxAttempts)
        {
            attempt++;
            progress.Status(attempt == 1
                ? $"{fds.Count:N0} fds: timing {mechanism.Name}"
                : $"{fds.Count:N0} fds: timing {mechanism.Name} again (attempt {attempt}: the CPU was busy with other processes)");
            CellResult result = WaitTimer.Measure(mechanism, fds, limits, cancellation);
            if (best is null || result.PreemptedShare < best.PreemptedShare)
            {
                best = result;
            }
            if (!result.Disturbed)
            {
                break;
            }
        }
        return new MeasuredCell(best! with { Attempts = attempt });
    }
}
