using System.Globalization;

namespace NoBlock.Samples.Multiplexing;

/// <summary>The command line: <c>--max-fds N</c>, <c>--iterations N</c>, <c>--help</c>.</summary>
internal sealed record Options(int? MaxFds, int MaxCalls, bool Help)
{
    /// <summary>
    /// Each timed call's duration is kept until the cell ends (8 bytes each): a million is 8 MB, far more calls
    /// than a median needs.
    /// </summary>
    public const int MaxIterations = 1_000_000;

    public static string Usage(int? largestCount) => $"""
        Usage: dotnet run -c Release --project samples/Multiplexing [-- options]

        Measures the cost of one select, poll, epoll_wait and io_uring_enter call over 10, 100, 1,000, 10,000 and as many
        registered fds as this process may open ({(largestCount is int n ? n.ToString("N0", CultureInfo.InvariantCulture) : "derived from RLIMIT_NOFILE")}), of which 100 are ready, and prints the
        seed's figures (50,000 fds: select ~10 ms, poll ~10 ms, epoll ~0.01 ms) beside a straight-line
        extrapolation of the measured ones.

        Options:
          --max-fds N      measure up to N registered fds (default: as many as the fd limit allows)
          --iterations N   timed calls per cell, at most (default {TimingLimits.DefaultMaxCalls:N0}; a cell also stops after {TimingLimits.DefaultMaxTime.TotalSeconds:0} s)
          --help           show this text

        Exit codes: 0 measured; 1 a wait reported the wrong ready fds, or a syscall failed; 2 bad arguments;
        130 interrupted (Ctrl+C or SIGTERM; every fd opened is closed first).
        """;

    /// <summary>Parses the arguments; on failure returns null and says why in <paramref name="error"/>.</summary>
    public static Options? Parse(IReadOnlyList<string> args, out string? error)
    {
        int? maxFds = null;
        int maxCalls = TimingLimits.DefaultMaxCalls;
        bool help = false;
        error = null;
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string name = arg;
            string? value = null;
            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                name = arg[..equals];
                value = arg[(equals + 1)..];
            }
            switch (name)
            {
                case "--help" or "-h" or "-?" when value is null:
                    help = true;
                    break;
                case "--max-fds":
                    if (!TakeNumber(args, ref i, name, value, 1, int.MaxValue, out int fds, out error))
                    {
                        return null;
                    }
                    maxFds = fds;
                    break;
                case "--iterations":
                    if (!TakeNumber(args, ref i, name, value, 1, MaxIterations, out maxCalls, out error))
                    {
                        return null;
                    }
                    break;
                default:
                    error = $"unknown argument '{arg}'";
                    return null;
            }
        }
        return new Options(maxFds, maxCalls, help);
    }

    private static bool TakeNumber(IReadOnlyList<string> args, ref int i, string name, string? value, int min, int max, out int number, out string? error)
    {
        number = 0;
        error = null;
        if (value is null)
        {
            if (i + 1 >= args.Count)
            {
                error = $"{name} needs a number";
                return false;
            }
            value = args[++i];
        }
        // Thousands separators allowed, so "20,000" reads as it is written in the table.
        if (!int.TryParse(value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out number))
        {
            error = $"{name} '{value}' is not a whole number";
            return false;
        }
        if (number < min || number > max)
        {
            error = $"{name} {number:N0} is out of range: {min:N0}..{max:N0}";
            return false;
        }
        return true;
    }
}
