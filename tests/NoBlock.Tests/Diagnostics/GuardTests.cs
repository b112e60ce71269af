using System.Net;
using System.Net.Sockets;
using NoBlock.Tests.Runtime;
using Tmds.Linux;
using Xunit;
using static Tmds.Linux.LibC;

namespace NoBlock.Tests.Diagnostics;

/// <summary>The runtime guards on real fds (a socketpair, a TCP listener on 127.0.0.1) and real task waits.</summary>
public sealed unsafe class GuardTests
{
    private static (int A, int B) SocketPair()
    {
        int* sv = stackalloc int[2];
        Assert.Equal(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
        return (sv[0], sv[1]);
    }

    private static EventLoopOptions EdgeGuardOn(ReportCollector reports, string name)
    {
        var options = reports.Options(name, TimeSpan.FromSeconds(5));
        options.Guards.EdgeTriggeredLeftovers = true;
        return options;
    }

    private static void ReadOnce(IoEvent e) => Fds.Read(e.Fd, 1);

    private static void ReadUntilEagain(IoEvent e) => Fds.Drain(e.Fd);

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void An_edge_triggered_handler_that_reads_once_is_told_how_many_bytes_it_left(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var (a, b) = SocketPair();
        try
        {
            using var lt = new LoopThread(Backends.Loop(backend, EdgeGuardOn(reports, "et-once")));
            lt.Invoke(() => lt.Loop.Register(a, IoEvents.Readable | IoEvents.EdgeTriggered, ReadOnce));
            Fds.Write(b, 100);

            var finding = reports.WaitForGuard(LoopGuard.EdgeTriggeredLeftover);
            Assert.Equal(a, finding.Fd);
            Assert.Equal(99, finding.UnreadBytes);
            Assert.Equal($"{nameof(GuardTests)}.{nameof(ReadOnce)}", finding.Handler);
            Assert.Contains($"returned with 99 bytes unread on fd {a}; epoll will not report it again", finding.ToString());
        }
        finally
        {
            Fds.Close(a);
            Fds.Close(b);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void An_edge_triggered_handler_that_drains_to_EAGAIN_is_left_alone(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var (a, b) = SocketPair();
        var (c, d) = SocketPair();
        try
        {
            using var lt = new LoopThread(Backends.Loop(backend, EdgeGuardOn(reports, "et-drain")));
            int drains = 0;
            lt.Invoke(() => lt.Loop.Register(a, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
            {
                ReadUntilEagain(e);
                drains++;
            }));
            for (int i = 0; i < 5; i++)
            {
                Fds.Write(b, 100);
                int expected = i + 1;
                Waits.Until(() => Volatile.Read(ref drains) >= expected, "a drain");
            }
            // Findings are delivered in order: once the single-read handler's finding arrives, a finding of the
            // draining handler (made before it) would have arrived too.
            lt.Invoke(() => lt.Loop.Register(c, IoEvents.Readable | IoEvents.EdgeTriggered, ReadOnce));
            Fds.Write(d, 10);
            reports.WaitForGuard(LoopGuard.EdgeTriggeredLeftover);
            Assert.All(reports.Guards, g => Assert.Equal(c, g.Fd));
        }
        finally
        {
            Fds.Close(a);
            Fds.Close(b);
            Fds.Close(c);
            Fds.Close(d);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Guard_findings_beyond_the_limit_are_summed_up_when_the_window_ends(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var options = EdgeGuardOn(reports, "et-limited");
        options.Guards.MaxReportsPerMinute = 1;
        options.Watchdog.RateLimitWindow = TimeSpan.FromSeconds(1);
        var (a, b) = SocketPair();
        try
        {
            using var lt = new LoopThread(Backends.Loop(backend, options));
            int reads = 0;
            lt.Invoke(() => lt.Loop.Register(a, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
            {
                ReadOnce(e);
                reads++;
            }));
            for (int i = 0; i < 4; i++)
            {
                Fds.Write(b, 10); // each write is a new edge: one single read, one finding
                int expected = i + 1;
                Waits.Until(() => Volatile.Read(ref reads) >= expected, "a read");
            }
            var summary = reports.WaitForGuard(LoopGuard.EdgeTriggeredLeftover, g => g.SuppressedCount > 0);
            Assert.Equal(3, summary.SuppressedCount);
            Assert.Single(reports.Guards, g => g.SuppressedCount == 0);
            Assert.Contains("suppressed 3 EdgeTriggeredLeftover finding(s)", summary.ToString());
        }
        finally
        {
            Fds.Close(a);
            Fds.Close(b);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void An_edge_triggered_listener_that_accepts_once_is_told_connections_wait(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(16);
        int lfd = (int)listener.Handle;
        var accepted = new List<int>();
        using var lt = new LoopThread(Backends.Loop(backend, EdgeGuardOn(reports, "et-accept")));
        lt.Invoke(() => lt.Loop.Register(lfd, IoEvents.Readable | IoEvents.EdgeTriggered, e => accepted.Add(accept4(e.Fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC))));
        using var c1 = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var c2 = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        // Both connections are queued before the loop can look: the listener's backlog holds them.
        lt.Invoke(() =>
        {
            c1.Connect(listener.LocalEndPoint!);
            c2.Connect(listener.LocalEndPoint!);
        });
        var finding = reports.WaitForGuard(LoopGuard.EdgeTriggeredLeftover);
        Assert.Equal(lfd, finding.Fd);
        Assert.Equal(-1, finding.UnreadBytes);
        Assert.Contains("still readable", finding.ToString());
        lt.Invoke(() => accepted.ForEach(fd => Fds.Close(fd)));
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_sync_wait_on_the_loop_thread_names_the_handler_and_has_the_stack(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var options = reports.Options("sync-wait", TimeSpan.FromSeconds(5));
        options.Guards.SyncWaits = true;
        var (r, w) = Fds.Pipe();
        try
        {
            using var lt = new LoopThread(Backends.Loop(backend, options));
            lt.Invoke(() => lt.Loop.Register(r, IoEvents.Readable, WaitsForATask));
            Fds.Write(w);

            var finding = reports.WaitForGuard(LoopGuard.SyncWait);
            Assert.Equal($"{nameof(GuardTests)}.{nameof(WaitsForATask)}", finding.Handler);
            Assert.Equal(r, finding.Fd);
            Assert.NotNull(finding.StackTrace);
            Assert.Contains("System.Threading.Tasks.Task.Wait", finding.StackTrace);
            Assert.Contains($"{nameof(GuardTests)}.{nameof(WaitsForATask)}", finding.StackTrace);
            Assert.DoesNotContain("EventListener", finding.StackTrace);
            Assert.Contains("synchronous wait on an unfinished task in GuardTests.WaitsForATask", finding.ToString());
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    private static void WaitsForATask(IoEvent e)
    {
        Fds.Drain(e.Fd);
        Task.Delay(20).Wait();
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Result_and_GetResult_on_the_loop_thread_are_reported_but_awaits_and_finished_tasks_are_not(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var options = reports.Options("sync-result", TimeSpan.FromSeconds(5));
        options.Guards.SyncWaits = true;
        using var lt = new LoopThread(Backends.Loop(backend, options));
        lt.Invoke(() =>
        {
            _ = Task.FromResult(1).Result;                       // finished: not a wait
            _ = Task.Run(() => 2).ContinueWith(t => t.Result);   // on a pool thread, inside ContinueWith: finished
        });
        lt.Loop.Post(() => _ = Task.Delay(20).ContinueWith(_ => 3).Result);
        lt.Loop.Post(() => Task.Delay(20).GetAwaiter().GetResult());
        Waits.Until(() => reports.Guards.Count(g => g.Guard == LoopGuard.SyncWait) >= 2, "two sync-wait findings");
        var stacks = reports.Guards.Select(g => g.StackTrace!).ToArray();
        // .Result's getter is inlined away; the frame under the wait is Task<T>.GetResultCore.
        Assert.Contains(stacks, s => s.Contains("GetResultCore"));
        Assert.Contains(stacks, s => s.Contains("TaskAwaiter"));
        Assert.Equal(2, reports.Guards.Length);
    }

    [Fact]
    public void Guards_are_off_unless_asked_for_outside_debug_builds()
    {
        var options = new EventLoopOptions();
        Assert.Equal(LoopGuardOptions.IsDebugBuild, options.Guards.EdgeTriggeredLeftovers);
        Assert.Equal(LoopGuardOptions.IsDebugBuild, options.Guards.SyncWaits);
    }
}
