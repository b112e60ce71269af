using System.Globalization;
using NoBlock.Samples.Multiplexing.Interop;

namespace NoBlock.Samples.Multiplexing;

/// <summary>A cell of the table: a measurement, or the reason there is none.</summary>
internal abstract record Cell;

internal sealed record MeasuredCell(CellResult Result) : Cell;

internal sealed record NotApplicableCell(string Reason) : Cell;

/// <summary>Why a row is in the table: a round count, or one of the limits (select's ceiling and the largest get a footnote).</summary>
internal enum RowKind
{
    Round,
    SelectCeiling,
    Largest,
    Requested,
}

/// <summary>One measured row: a registered-fd count, how many of them were ready, one cell per mechanism.</summary>
internal sealed record TableRow(int RegisteredFds, int ReadyFds, RowKind Kind, IReadOnlyDictionary<string, Cell> Cells);

/// <summary>What the reader needs to know about the run besides the rows.</summary>
internal sealed record RunContext(FdBudget Budget, TimingLimits Limits, int SelectCeilingRuntimeFds);

/// <summary>Prints the scaling table: measured rows, the 50,000-fd extrapolation, the quoted row, the fits.</summary>
internal static class ScalingTable
{
    public static readonly string[] Mechanisms = ["select", "poll", "epoll_wait", "io_uring"];

    private const int CountWidth = 14;
    private const int ReadyWidth = 7;
    private const int CellWidth = 27;

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static void Write(TextWriter output, IReadOnlyList<TableRow> rows, RunContext context)
    {
        output.WriteLine($"One wait call over N registered fds, {RegisteredFds.QuotedReadyCount} of them ready (level-triggered, zero timeout):");
        output.WriteLine("median / p90 microseconds per call.");
        output.WriteLine($"Machine: {Environment.ProcessorCount} cores, Linux {KernelRelease()}, RLIMIT_NOFILE {context.Budget.Limit:N0} (soft {context.Budget.SoftLimitAtStart:N0} at start, raised to the hard limit).");
        output.WriteLine();
        output.WriteLine(Line("registered fds", "ready", Mechanisms, ""));
        foreach (TableRow row in rows)
        {
            string marker = row.Kind switch
            {
                RowKind.SelectCeiling => "  [2]",
                RowKind.Largest => "  [3]",
                _ => "",
            };
            string ready = row.ReadyFds.ToString("N0", Invariant) + (row.ReadyFds < RegisteredFds.QuotedReadyCount ? "[1]" : "   ");
            output.WriteLine(Line(row.RegisteredFds.ToString("N0", Invariant), ready, Mechanisms.Select(m => FormatCell(row.Cells[m])), marker));
        }

        Dictionary<string, LineFit?> fits = Mechanisms.ToDictionary(m => m, m => Fit(rows, m));
        output.WriteLine($"Extrapolated, this process may hold only {context.Budget.Limit:N0} fds (the straight lines fitted below):");
        output.WriteLine(Line(
            QuotedFigures.RegisteredFds.ToString("N0", Invariant),
            QuotedFigures.ReadyFds.ToString("N0", Invariant) + "   ",
            Mechanisms.Select(m => m == "select"
                ? NotApplicableBeyondFdSetSize
                : fits[m] is LineFit fit ? "≈ " + FormatMicroseconds(fit.At(QuotedFigures.RegisteredFds)) : "n/a (too few points)"),
            ""));
        output.WriteLine("The figures commonly quoted for \"why epoll is fast\" (tutorials, blog posts):");
        output.WriteLine(Line(
            QuotedFigures.RegisteredFds.ToString("N0", Invariant),
            QuotedFigures.ReadyFds.ToString("N0", Invariant) + "   ",
            Mechanisms.Select(m => QuotedFigures.Has(m) ? FormatQuoted(QuotedFigures.For(m)) : "(not quoted)"),
            ""));
        output.WriteLine();

        WriteFootnotes(output, rows, context);
        output.WriteLine();
        WriteFits(output, rows, fits);
    }

    /// <summary>What a select cell says for a count above FD_SETSIZE.</summary>
    public static string NotApplicableBeyondFdSetSize => $"n/a (FD_SETSIZE = {Sys.FdSetSize})";

    private static void WriteFootnotes(TextWriter output, IReadOnlyList<TableRow> rows, RunContext context)
    {
        foreach (TableRow row in rows.Where(r => r.ReadyFds < RegisteredFds.QuotedReadyCount))
        {
            output.WriteLine($"[1] {row.RegisteredFds:N0} registered fds: fewer than {RegisteredFds.QuotedReadyCount}, so all {row.ReadyFds:N0} are ready.");
        }
        if (rows.Any(r => r.Kind == RowKind.SelectCeiling))
        {
            output.WriteLine($"[2] the most fds select can watch in this process: {context.SelectCeilingRuntimeFds} of the numbers below FD_SETSIZE = {Sys.FdSetSize} hold the");
            output.WriteLine($"    runtime's own fds (stdio, loaded assemblies, ...), and {FdBudget.SelectHeadroom} are left free for it.");
        }
        if (rows.Any(r => r.Kind == RowKind.Largest))
        {
            output.WriteLine($"[3] the most this process may register: RLIMIT_NOFILE {context.Budget.Limit:N0} - {context.Budget.OpenAtStart} fds open at start - {FdBudget.RuntimeHeadroom} headroom, in whole socketpairs.");
        }
        if (rows.Any(r => r.Cells["select"] is NotApplicableCell { Reason: var reason } && reason != NotApplicableBeyondFdSetSize))
        {
            output.WriteLine($"select \"n/a (fd N ≥ {Sys.FdSetSize})\": the count fits in FD_SETSIZE, but the runtime's fds pushed ours past fd {Sys.FdSetSize - 1}.");
        }
        var measured = rows.SelectMany(r => r.Cells.Values).OfType<MeasuredCell>().Select(c => c.Result).ToList();
        if (measured.Count > 0)
        {
            int fewest = measured.Min(r => r.Calls + r.PreemptedCalls);
            string stopped = fewest < context.Limits.MaxCalls ? $"; the slowest cell made {fewest:N0} calls in its {context.Limits.MaxTime.TotalSeconds:0} s" : "";
            output.WriteLine($"Each cell: {context.Limits.WarmupCalls} untimed warm-up calls, then up to {context.Limits.MaxCalls:N0} timed calls or {context.Limits.MaxTime.TotalSeconds:0} s{stopped}.");
            int preempted = measured.Sum(r => r.PreemptedCalls);
            int total = measured.Sum(r => r.Calls + r.PreemptedCalls);
            output.WriteLine($"Calls during which the thread lost its CPU (wall time > its CPU time + {WaitTimer.PreemptionToleranceNanoseconds / 1000:0} µs) are left out of the");
            output.WriteLine($"figures: {preempted:N0} of {total:N0} calls in this run.");
            int retried = measured.Count(r => r.Attempts > 1);
            if (retried > 0)
            {
                output.WriteLine($"{retried} {(retried == 1 ? "cell" : "cells")} had more than {CellResult.DisturbedAbovePreemptedShare:0%} of their calls preempted and were measured again (up to {ScalingRun.MaxAttempts} attempts in all);");
                output.WriteLine("each shows its least disturbed attempt.");
            }
            var disturbed = measured.Where(r => r.Disturbed).ToList();
            if (disturbed.Count > 0)
            {
                output.WriteLine($"!N% N% of that cell's calls lost the CPU to other processes even in its best attempt: the rest are a lucky minority,");
                output.WriteLine($"    so the fits leave the cell out. {disturbed.Count} of {measured.Count} cells; rerun on a quieter machine.");
            }
            output.WriteLine($"Every call returned exactly the number of ready fds, and once per cell the reported fds were checked one by one.");
        }
        output.WriteLine("The fds are AF_UNIX socketpairs, both ends registered; a ready fd has one unread byte waiting.");
    }

    private static void WriteFits(TextWriter output, IReadOnlyList<TableRow> rows, Dictionary<string, LineFit?> fits)
    {
        output.WriteLine($"Per-fd slope: least-squares line through the medians of the rows with {RegisteredFds.QuotedReadyCount} ready fds");
        output.WriteLine("(a row with fewer ready fds would mix the cost of reporting ready fds into the per-registered-fd slope),");
        output.WriteLine("leaving out cells marked !N%:");
        foreach (string m in Mechanisms)
        {
            string leftOut = string.Join(", ", FitCells(rows, m).Where(r => r.Disturbed).Select(r => r.RegisteredFds.ToString("N0", Invariant)));
            if (fits[m] is not LineFit fit)
            {
                output.WriteLine($"  {m,-11} too few measured rows for a line{(leftOut.Length > 0 ? $" (left out, disturbed: {leftOut} fds)" : "")}");
                continue;
            }
            double at50k = fit.At(QuotedFigures.RegisteredFds);
            output.WriteLine(string.Create(Invariant,
                $"  {m,-11} {fit.Slope * 1000:0.000} ns per registered fd, {fit.Intercept:+0.00;-0.00} µs fixed; fitted on {fit.Points} rows, {fit.MinX:N0}..{fit.MaxX:N0} fds{(leftOut.Length > 0 ? $" (left out, disturbed: {leftOut})" : "")}"));
            output.WriteLine(m == "select"
                ? $"  {"",-11} at {QuotedFigures.RegisteredFds:N0} fds: {FormatMicroseconds(at50k)} µs if an fd_set could hold them (it holds {Sys.FdSetSize}); commonly quoted: ~{QuotedFigures.For(m):N0} µs"
                : QuotedFigures.Has(m)
                    ? $"  {"",-11} at {QuotedFigures.RegisteredFds:N0} fds: {FormatMicroseconds(at50k)} µs; commonly quoted: ~{QuotedFigures.For(m):N0} µs"
                    : $"  {"",-11} at {QuotedFigures.RegisteredFds:N0} fds: {FormatMicroseconds(at50k)} µs (the quoted figures predate io_uring)");
        }
    }

    /// <summary>
    /// The line through a mechanism's medians over the rows with the quoted 100 ready fds, leaving out cells
    /// disturbed by other processes (most of their calls lost the CPU; the rest are not typical).
    /// </summary>
    private static LineFit? Fit(IReadOnlyList<TableRow> rows, string mechanism)
    {
        var points = FitCells(rows, mechanism)
            .Where(r => !r.Disturbed)
            .Select(r => ((double)r.RegisteredFds, r.MedianMicroseconds))
            .ToList();
        return Statistics.FitLine(points);
    }

    private static IEnumerable<CellResult> FitCells(IReadOnlyList<TableRow> rows, string mechanism)
    {
        return rows
            .Where(r => r.ReadyFds == RegisteredFds.QuotedReadyCount)
            .Select(r => r.Cells[mechanism])
            .OfType<MeasuredCell>()
            .Select(c => c.Result);
    }

    private static string Line(string count, string ready, IEnumerable<string> cells, string marker)
    {
        return count.PadLeft(CountWidth) + ready.PadLeft(ReadyWidth) + "  " + string.Concat(cells.Select(c => c.PadRight(CellWidth))).TrimEnd() + marker;
    }

    private static string FormatCell(Cell cell) => cell switch
    {
        MeasuredCell { Result: { Calls: 0 } r } => $"n/a !{r.PreemptedShare:0%}",
        MeasuredCell { Result: var r } => $"{FormatMicroseconds(r.MedianMicroseconds)} / {FormatMicroseconds(r.P90Microseconds)}{(r.Disturbed ? $" !{r.PreemptedShare:0%}" : "")}",
        NotApplicableCell { Reason: var reason } => reason,
        _ => throw new ArgumentOutOfRangeException(nameof(cell)),
    };

    private static string FormatQuoted(double microseconds)
    {
        return $"~{microseconds.ToString("N0", Invariant)} (~{(microseconds / 1000).ToString("0.##", Invariant)} ms)";
    }

    /// <summary>Three significant digits or so: 0.512, 5.12, 51.2, 512, 5,120.</summary>
    public static string FormatMicroseconds(double microseconds)
    {
        double magnitude = Math.Abs(microseconds);
        string format = magnitude < 1 ? "0.000" : magnitude < 10 ? "0.00" : magnitude < 100 ? "0.0" : "N0";
        return microseconds.ToString(format, Invariant);
    }

    private static string KernelRelease()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (IOException)
        {
            return "(kernel release unknown)";
        }
    }
}
