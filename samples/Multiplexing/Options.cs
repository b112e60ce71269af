using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;

namespace NoBlock.Samples.Multiplexing;

/// <summary>The command line (System.CommandLine): <c>--max-fds N</c>, <c>--iterations N</c>, <c>--help</c>.</summary>
internal sealed record Options(int? MaxFds, int MaxCalls, bool Help)
{
    /// <summary>
    /// Each timed call's duration is kept until the cell ends (8 bytes each): a million is 8 MB, far more calls
    /// than a median needs.
    /// </summary>
    public const int MaxIterations = 1_000_000;

    /// <summary>The command; <paramref name="largestCount"/> (the fd budget, once known) goes into the help text.</summary>
    public static RootCommand Command(int? largestCount)
    {
        var command = new RootCommand($"""
            Measures the cost of one select, poll, epoll_wait and io_uring_enter call over 10, 100, 1,000, 10,000 and as many registered fds as
            this process may open ({(largestCount is int n ? n.ToString("N0", CultureInfo.InvariantCulture) : "derived from RLIMIT_NOFILE")}), of which 100 are ready, and prints the commonly quoted figures (50,000 fds: select
            ~10 ms, poll ~10 ms, epoll ~0.01 ms) beside a straight-line extrapolation of the measured ones.
            Usage: dotnet run -c Release --project samples/Multiplexing [-- options]
            Exit codes: 0 measured; 1 a wait reported the wrong ready fds, or a syscall failed; 2 bad arguments;
            130 interrupted (Ctrl+C or SIGTERM; every fd opened is closed first).
            """)
        {
            MaxFdsOption(),
            IterationsOption(),
        };
        return command;
    }

    /// <summary>Parses the arguments; on failure returns null and says why in <paramref name="error"/>.</summary>
    public static Options? Parse(IReadOnlyList<string> args, out string? error)
    {
        var command = Command(null);
        var parsed = command.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            error = string.Join("; ", parsed.Errors.Select(e => e.Message));
            return null;
        }
        error = null;
        return new Options(
            parsed.GetValue<int?>(MaxFdsName),
            parsed.GetValue<int?>(IterationsName) ?? TimingLimits.DefaultMaxCalls,
            parsed.Action is HelpAction);
    }

    private const string MaxFdsName = "--max-fds";
    private const string IterationsName = "--iterations";

    private static Option<int?> MaxFdsOption() =>
        CommandLines.Number(MaxFdsName, 1, int.MaxValue, "measure up to N registered fds (default: as many as the fd limit allows)");

    private static Option<int?> IterationsOption() =>
        CommandLines.Number(IterationsName, 1, MaxIterations,
            $"timed calls per cell, at most (default {TimingLimits.DefaultMaxCalls.ToString("N0", CultureInfo.InvariantCulture)}; a cell also stops after {TimingLimits.DefaultMaxTime.TotalSeconds:0} s)");
}
