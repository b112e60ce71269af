using NoBlock.Samples.Multiplexing.Interop;

namespace NoBlock.Samples.Multiplexing;

/// <summary>
/// How many fds this process may register: the fd limit (RLIMIT_NOFILE, soft raised to hard) minus the fds
/// already open minus headroom for the runtime, and, for select, how many numbers below FD_SETSIZE are free.
/// </summary>
internal sealed record FdBudget(ulong SoftLimitAtStart, ulong Limit, int OpenAtStart, int LargestCount)
{
    /// <summary>
    /// The runtime keeps opening fds of its own while the sample runs (two for each assembly it loads, one for
    /// the epoll instance, a few for the console): 64 leaves room for them so that the largest row cannot
    /// fail with EMFILE halfway.
    /// </summary>
    public const int RuntimeHeadroom = 64;

    /// <summary>
    /// Below FD_SETSIZE, leave this many numbers free for fds the runtime may open between counting and
    /// opening; if it opens more, the select cell says so ("n/a (fd … ≥ 1024)") instead of failing.
    /// </summary>
    public const int SelectHeadroom = 8;

    /// <summary>Raises the soft fd limit to the hard one and works out the largest registrable count.</summary>
    public static FdBudget Take()
    {
        (ulong softAtStart, _) = Sys.GetFdLimit();
        Sys.RaiseFdSoftLimitToHard();
        (ulong soft, _) = Sys.GetFdLimit();
        int open = Sys.OpenFds().Count;
        // RLIMIT_NOFILE bounds fd numbers: new fds take the lowest free number, so "limit - open" numbers are free.
        long free = (long)Math.Min(soft, int.MaxValue) - open - RuntimeHeadroom;
        // Whole socketpairs: a row of N registered fds opens N fds rounded up to even.
        int largest = (int)Math.Max(0, free / 2 * 2);
        return new FdBudget(softAtStart, soft, open, largest);
    }

    /// <summary>
    /// The most fds a row may register and still have every one below FD_SETSIZE, given the fds this process
    /// holds below it right now (the runtime's own: stdio, loaded assemblies, …).
    /// </summary>
    public static int SelectCeiling()
    {
        int below = Sys.OpenFds().Count(fd => fd < Sys.FdSetSize);
        return Math.Max(0, Sys.FdSetSize - below - SelectHeadroom);
    }
}
