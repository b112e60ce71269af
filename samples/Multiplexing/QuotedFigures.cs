namespace NoBlock.Samples.Multiplexing;

/// <summary>
/// The figures commonly quoted for "why epoll is fast" (I/O-multiplexing tutorials and blog posts, usually without
/// the machine or the method): "50,000 fds, 100 ready: select: ~10 ms (scan 50K fds), poll: ~10 ms (scan 50K fds),
/// epoll: ~0.01 ms (return 100 ready fds)". The sample prints them beside what this machine measures.
/// </summary>
internal static class QuotedFigures
{
    public const int RegisteredFds = 50_000;
    public const int ReadyFds = 100;
    public const double SelectMicroseconds = 10_000; // ~10 ms
    public const double PollMicroseconds = 10_000;   // ~10 ms
    public const double EpollMicroseconds = 10;      // ~0.01 ms

    /// <summary>True for the mechanisms the quoted figures time (they predate io_uring).</summary>
    public static bool Has(string mechanism) => mechanism is "select" or "poll" or "epoll_wait";

    public static double For(string mechanism) => mechanism switch
    {
        "select" => SelectMicroseconds,
        "poll" => PollMicroseconds,
        "epoll_wait" => EpollMicroseconds,
        _ => throw new ArgumentOutOfRangeException(nameof(mechanism), mechanism, "not a mechanism the quoted figures time"),
    };
}
