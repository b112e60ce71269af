using NoBlock.Samples.Multiplexing;
using NoBlock.Samples.Multiplexing.Interop;
using NoBlock.Samples.Multiplexing.Mechanisms;
using Xunit;

namespace NoBlock.Samples.Tests.Multiplexing;

/// <summary>The four mechanisms on real socketpairs: they report exactly the ready fds, call after call.</summary>
public sealed class WaitMechanismTests
{
    // A few calls are enough to show readiness persists; nothing here looks at durations.
    private static readonly TimingLimits FewCalls = new(WarmupCalls: 3, MaxCalls: 20, MaxTime: TimeSpan.FromSeconds(5));

    public static TheoryData<string, int> MechanismsAndCounts()
    {
        var data = new TheoryData<string, int>();
        foreach (string mechanism in new[] { "select", "poll", "epoll_wait", "io_uring" })
        {
            foreach (int count in new[] { 1, 10, 101, 500 })
            {
                data.Add(mechanism, count);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(MechanismsAndCounts))]
    public void Every_call_reports_exactly_the_ready_fds(string mechanism, int count)
    {
        using RegisteredFds fds = RegisteredFds.Open(count, progress: null, CancellationToken.None);
        Assert.Equal(Math.Min(100, count), fds.ReadyCount);
        using IWaitMechanism wait = Create(mechanism, fds);
        for (int call = 0; call < 3; call++)
        {
            wait.Rearm();
            Assert.Equal(fds.ReadyCount, wait.WaitOnce());
            Assert.Null(wait.CheckReported(fds));
        }
    }

    [Theory]
    [InlineData("select")]
    [InlineData("poll")]
    [InlineData("epoll_wait")]
    [InlineData("io_uring")]
    public void The_timer_checks_counts_and_returns_one_figure_per_cell(string mechanism)
    {
        using RegisteredFds fds = RegisteredFds.Open(300, progress: null, CancellationToken.None);
        using IWaitMechanism wait = Create(mechanism, fds);
        CellResult result = WaitTimer.Measure(wait, fds, FewCalls, CancellationToken.None);
        Assert.Equal((mechanism, 300, 100), (result.Mechanism, result.RegisteredFds, result.ReadyFds));
        // Calls that lost the CPU are left out of the figures but still counted.
        Assert.InRange(result.Calls + result.PreemptedCalls, 1, FewCalls.MaxCalls + result.PreemptedCalls);
        if (result.Calls > 0)
        {
            Assert.True(result.MedianMicroseconds <= result.P90Microseconds);
        }
    }

    [Fact]
    public void A_wrong_ready_count_is_an_error_not_a_figure()
    {
        using RegisteredFds fds = RegisteredFds.Open(10, progress: null, CancellationToken.None);
        var wrong = new CountingWait(reportsReady: 9);
        WrongReadyCountException e = Assert.Throws<WrongReadyCountException>(() => WaitTimer.Measure(wrong, fds, FewCalls, CancellationToken.None));
        Assert.Contains("returned 9 ready fds, but 10 are ready", e.Message);
    }

    [Fact]
    public void A_cancelled_measurement_stops()
    {
        using RegisteredFds fds = RegisteredFds.Open(10, progress: null, CancellationToken.None);
        using var poll = new PollWait(fds);
        Assert.Throws<OperationCanceledException>(() => WaitTimer.Measure(poll, fds, FewCalls, new CancellationToken(canceled: true)));
    }

    [Fact]
    public void Ready_fds_are_spread_over_the_range()
    {
        using RegisteredFds fds = RegisteredFds.Open(1_000, progress: null, CancellationToken.None);
        int[] ready = Enumerable.Range(0, fds.Count).Where(fds.IsReadyAt).ToArray();
        Assert.Equal(100, ready.Length);
        Assert.Equal(0, ready[0]);
        Assert.Equal(990, ready[^1]);
    }

    [Fact]
    public void Dispose_closes_every_fd_the_row_opened()
    {
        RegisteredFds fds = RegisteredFds.Open(501, progress: null, CancellationToken.None);
        int[] ours = fds.Fds.ToArray();
        Assert.Equal(501, ours.Length);
        Assert.Subset(Sys.OpenFds().ToHashSet(), ours.ToHashSet());
        fds.Dispose();
        Assert.Empty(Sys.OpenFds().Intersect(ours));
    }

    private static IWaitMechanism Create(string mechanism, RegisteredFds fds) => mechanism switch
    {
        "select" => new SelectWait(fds),
        "poll" => new PollWait(fds),
        "epoll_wait" => new EpollWait(fds, progress: null, CancellationToken.None),
        "io_uring" => new IoUringPollWait(fds, progress: null, CancellationToken.None),
        _ => throw new ArgumentOutOfRangeException(nameof(mechanism)),
    };

    /// <summary>A mechanism that always reports the same count, to see the timer refuse a wrong one.</summary>
    private sealed class CountingWait(int reportsReady) : IWaitMechanism
    {
        public string Name => "fake";

        public void Rearm()
        {
        }

        public int WaitOnce() => reportsReady;

        public string? CheckReported(RegisteredFds fds) => null;

        public void Dispose()
        {
        }
    }
}
