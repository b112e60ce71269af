using Xunit;
using System.Collections.Concurrent;

namespace NoBlock.Tests.Runtime;

/// <summary>
/// <see cref="EventLoop.OffloadAndReport"/>: blocking work nothing waits for runs on the pool, and a failure is
/// reported as the loop's handler fault (once, on the loop thread, or on the pool when the loop is gone), never lost.
/// </summary>
public sealed class OffloadAndReportTests
{
    private sealed class Faults
    {
        public readonly ConcurrentQueue<(HandlerFault Fault, int Thread)> Seen = new();

        public EventLoopOptions Options(HandlerExceptionPolicy policy = HandlerExceptionPolicy.CloseRegistration) => new()
        {
            HandlerExceptionPolicy = policy,
            OnHandlerException = f => Seen.Enqueue((f, Environment.CurrentManagedThreadId)),
        };
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Work_that_throws_is_reported_once_on_the_loop_thread_named_after_the_work(EventLoopBackend backend)
    {
        var faults = new Faults();
        using var lt = new LoopThread(Backends.Loop(backend, faults.Options()));
        int workThread = 0;
        lt.Loop.OffloadAndReport(() =>
        {
            workThread = Environment.CurrentManagedThreadId;
            throw new InvalidDataException("audit log full");
        });
        Waits.Until(() => !faults.Seen.IsEmpty, "the offloaded work's fault");

        var (fault, thread) = Assert.Single(faults.Seen);
        Assert.IsType<InvalidDataException>(fault.Exception);
        Assert.Equal("audit log full", fault.Exception.Message);
        Assert.Equal(-1, fault.Fd);
        Assert.Contains("OffloadAndReportTests.Work_that_throws_is_reported_once_on_the_loop_thread_named_after_the_work (lambda)", fault.Handler);
        Assert.Equal(lt.ManagedThreadId, thread);
        Assert.NotEqual(lt.ManagedThreadId, Volatile.Read(ref workThread));

        // The loop serves on, and a later turn reports nothing more.
        var served = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lt.Loop.Post(() => served.SetResult());
        Waits.Done(served.Task, "posted work after the fault");
        Assert.Single(faults.Seen);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Work_that_succeeds_reports_nothing(EventLoopBackend backend)
    {
        var faults = new Faults();
        using var lt = new LoopThread(Backends.Loop(backend, faults.Options()));
        int done = 0;
        for (int i = 0; i < 100; i++)
        {
            lt.Loop.OffloadAndReport(() => Interlocked.Increment(ref done));
        }
        Waits.Until(() => Volatile.Read(ref done) == 100, "the offloaded work");
        lt.RunTurns();
        Assert.Empty(faults.Seen);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Under_StopLoop_a_failing_work_stops_the_loop_and_Run_rethrows_it(EventLoopBackend backend)
    {
        var faults = new Faults();
        using var loop = Backends.Loop(backend, faults.Options(HandlerExceptionPolicy.StopLoop));
        Exception? runError = null;
        var thread = new Thread(() => runError = Record.Exception(loop.Run)) { IsBackground = true };
        thread.Start();
        loop.OffloadAndReport(() => throw new TimeoutException("disk gone"));
        Assert.True(thread.Join(Waits.Long), "Run returned after the fault");
        Assert.IsType<TimeoutException>(runError);
        Assert.Single(faults.Seen);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_fault_after_Dispose_is_reported_on_the_pool_thread(EventLoopBackend backend)
    {
        var faults = new Faults();
        var loop = Backends.Loop(backend, faults.Options());
        using var release = new ManualResetEventSlim();
        loop.OffloadAndReport(() =>
        {
            release.Wait(Waits.Long);
            throw new IOException("late");
        });
        loop.Dispose();
        release.Set();
        Waits.Until(() => !faults.Seen.IsEmpty, "the fault of work that ended after Dispose");
        Assert.IsType<IOException>(Assert.Single(faults.Seen).Fault.Exception);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_fault_that_both_Dispose_and_the_disposed_check_see_is_reported_once(EventLoopBackend backend)
    {
        // The worst interleaving, made certain: Dispose runs after the fault was queued and before the work's thread
        // looks at IsDisposed, so Dispose's drain hands the report to the pool and the work's thread sees the loop gone.
        var faults = new Faults();
        var loop = Backends.Loop(backend, faults.Options());
        loop.TestHookAfterCompletionQueued = loop.Dispose;
        loop.OffloadAndReport(() => throw new IOException("both"));
        Waits.Until(() => !faults.Seen.IsEmpty, "the fault");
        Waits.Until(() => ThreadPool.PendingWorkItemCount == 0, "the pool to run dry");
        Assert.Single(faults.Seen);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_fault_racing_Dispose_is_reported_exactly_once(EventLoopBackend backend)
    {
        // The fault is queued for the loop and the loop is disposed at about the same time: Dispose's drain, the
        // disposed check after the enqueue, or both see it. Either way one report, never zero, never two.
        const int Cycles = 1_000;
        var all = new List<Faults>();
        for (int cycle = 0; cycle < Cycles; cycle++)
        {
            var faults = new Faults();
            all.Add(faults);
            var loop = Backends.Loop(backend, faults.Options());
            using var go = new ManualResetEventSlim();
            int n = cycle;
            loop.OffloadAndReport(() =>
            {
                go.Wait(Waits.Long);
                throw new InvalidOperationException("cycle " + n);
            });
            go.Set();
            Thread.SpinWait(cycle % 400); // vary which side wins
            loop.Dispose();
            Waits.Until(() => !faults.Seen.IsEmpty, $"cycle {cycle}'s fault");
        }
        // A second report would come from the pool item Dispose queued or from the work's own thread, both well
        // before the thread pool runs dry; by then every cycle's count is final.
        Waits.Until(() => ThreadPool.PendingWorkItemCount == 0, "the pool to run dry");
        var doubled = all.Select((f, i) => (Cycle: i, f.Seen.Count)).Where(c => c.Count != 1).ToArray();
        Assert.True(doubled.Length == 0, "cycles with more than one report: " + string.Join(", ", doubled.Take(10)));
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Null_work_and_a_disposed_loop_are_refused(EventLoopBackend backend)
    {
        var loop = Backends.Loop(backend);
        Assert.Throws<ArgumentNullException>(() => loop.OffloadAndReport(null!));
        loop.Dispose();
        Assert.Throws<ObjectDisposedException>(() => loop.OffloadAndReport(() => { }));
    }
}
