using System.Collections.Concurrent;
using System.Diagnostics;
using Xunit;

namespace NoBlock.Tests.Runtime;

public sealed class EventLoopTests
{
    [Fact]
    public void IoEvents_values_are_the_kernel_epoll_bits()
    {
        // The analyzers recognise the edge-triggered flag by value, and Register passes interest to epoll_ctl unchanged.
        Assert.Equal(1u << 31, (uint)IoEvents.EdgeTriggered);
        Assert.Equal((uint)IoEvents.Readable, (uint)Tmds.Linux.LibC.EPOLLIN);
        Assert.Equal((uint)IoEvents.Writable, (uint)Tmds.Linux.LibC.EPOLLOUT);
        Assert.Equal((uint)IoEvents.ReadHangUp, (uint)Tmds.Linux.LibC.EPOLLRDHUP);
        Assert.Equal((uint)IoEvents.OneShot, (uint)Tmds.Linux.LibC.EPOLLONESHOT);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Level_triggered_reports_unread_data_on_every_turn(EventLoopBackend backend)
    {
        var (r, w) = Fds.Pipe();
        var seen = new EventRecorder();
        try
        {
            using var lt = new LoopThread(Backends.Options(backend));
            lt.Invoke(() => lt.Loop.Register(r, IoEvents.Readable, seen.Record)); // never reads
            Fds.Write(w);
            seen.ExpectEvents(IoEvents.Readable, atLeast: 3);
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Edge_triggered_reports_once_until_drained_to_EAGAIN(EventLoopBackend backend)
    {
        var (r, w) = Fds.Pipe();
        var seen = new EventRecorder();
        bool drain = false;
        try
        {
            using var lt = new LoopThread(Backends.Options(backend));
            lt.Invoke(() => lt.Loop.Register(r, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
            {
                seen.Record(e);
                if (Volatile.Read(ref drain))
                {
                    Fds.Drain(e.Fd);
                    Fds.AssertWouldBlock(e.Fd);
                }
                else
                {
                    Fds.Read(e.Fd, 1); // partial read: more is pending, but no new edge comes for it
                }
            }));
            Fds.Write(w, 10);
            seen.ExpectEvents(IoEvents.Readable);
            seen.ExpectNoMoreEvents(lt, 1);

            // New data is a new edge; this time the handler drains to EAGAIN.
            Volatile.Write(ref drain, true);
            Fds.Write(w, 10);
            seen.ExpectEvents(IoEvents.Readable, atLeast: 2);
            seen.ExpectNoMoreEvents(lt, 2);

            // After a drain, the next write is reported again.
            Fds.Write(w, 1);
            seen.ExpectEvents(IoEvents.Readable, atLeast: 3);
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void OneShot_reports_once_until_rearmed_with_Modify(EventLoopBackend backend)
    {
        var (r, w) = Fds.Pipe();
        var seen = new EventRecorder();
        try
        {
            using var lt = new LoopThread(Backends.Options(backend));
            var reg = lt.Invoke(() => lt.Loop.Register(r, IoEvents.Readable | IoEvents.OneShot, seen.Record));
            Fds.Write(w);
            seen.ExpectEvents(IoEvents.Readable);
            seen.ExpectNoMoreEvents(lt, 1);
            lt.Invoke(() => reg.Modify(IoEvents.Readable | IoEvents.OneShot));
            seen.ExpectEvents(IoEvents.Readable, atLeast: 2);
            seen.ExpectNoMoreEvents(lt, 2);
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Edge_triggered_one_shot_reports_one_arrival_and_no_new_one_until_rearmed_with_Modify(EventLoopBackend backend)
    {
        // EPOLLET | EPOLLONESHOT: one report, then nothing even for new data (a new edge) until Modify re-arms it.
        // Modify on an fd with unread data reports it once (epoll_ctl MOD looks at the fd's readiness; io_uring's
        // new poll completes at once), and then again nothing for new data.
        var (r, w) = Fds.Pipe();
        var seen = new EventRecorder();
        try
        {
            using var lt = new LoopThread(Backends.Options(backend));
            var reg = lt.Invoke(() => lt.Loop.Register(r, IoEvents.Readable | IoEvents.EdgeTriggered | IoEvents.OneShot, seen.Record)); // never reads
            Fds.Write(w);
            seen.ExpectEvents(IoEvents.Readable);
            Fds.Write(w); // a new arrival: an edge, which the disarmed registration does not report
            seen.ExpectNoMoreEvents(lt, 1);
            lt.Invoke(() => reg.Modify(IoEvents.Readable | IoEvents.EdgeTriggered | IoEvents.OneShot));
            seen.ExpectEvents(IoEvents.Readable, atLeast: 2);
            Fds.Write(w);
            seen.ExpectNoMoreEvents(lt, 2);
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Writable_interest_reports_a_pipe_with_room(EventLoopBackend backend)
    {
        var (r, w) = Fds.Pipe();
        var seen = new EventRecorder();
        try
        {
            using var lt = new LoopThread(Backends.Options(backend));
            var reg = lt.Invoke(() => lt.Loop.Register(w, IoEvents.Writable, seen.Record));
            seen.ExpectEvents(IoEvents.Writable);
            lt.Invoke(reg.Dispose);
            int count = seen.Count;
            seen.ExpectNoMoreEvents(lt, count);
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Post_from_another_thread_wakes_a_sleeping_loop_and_runs_on_the_loop_thread(EventLoopBackend backend)
    {
        using var lt = new LoopThread(Backends.Options(backend));
        // The loop has nothing to do: it sleeps in epoll_wait with no timeout. Only the waker can get it out.
        Waits.Until(() => lt.Loop.Activity.PollStartTimestamp != 0, "the loop to sleep in epoll_wait");
        var ran = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        lt.Loop.Post(() => ran.SetResult(Environment.CurrentManagedThreadId));
        Assert.Equal(lt.ManagedThreadId, Waits.Result(ran.Task, "the posted action"));
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Posts_from_many_threads_all_run_once_in_each_threads_order(EventLoopBackend backend)
    {
        const int Threads = 4, PerThread = 5000;
        using var lt = new LoopThread(Backends.Options(backend));
        var seen = new List<(int Thread, int Seq)>();
        var done = new CountdownEvent(Threads * PerThread);
        var posters = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                int seq = i;
                lt.Loop.Post(() =>
                {
                    seen.Add((t, seq)); // no lock: only the loop thread touches it
                    done.Signal();
                });
            }
        })).ToList();
        posters.ForEach(p => p.Start());
        posters.ForEach(p => p.Join());
        Assert.True(done.Wait(Waits.Long), "posted actions did not all run");
        var snapshot = lt.Invoke(() => seen.ToList());
        Assert.Equal(Threads * PerThread, snapshot.Count);
        foreach (var group in snapshot.GroupBy(x => x.Thread))
        {
            Assert.Equal(Enumerable.Range(0, PerThread), group.Select(x => x.Seq));
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Posted_work_is_bounded_per_turn_so_io_is_not_starved(EventLoopBackend backend)
    {
        var (r, w) = Fds.Pipe();
        try
        {
            using var lt = new LoopThread(new EventLoopOptions { Backend = backend, MaxPostedPerTurn = 16 });
            var ioSeen = new EventRecorder();
            int selfPosts = 0;
            lt.Invoke(() => lt.Loop.Register(r, IoEvents.Readable, e =>
            {
                ioSeen.Record(e);
                Fds.Drain(e.Fd);
            }));
            // An action that re-posts itself forever would starve I/O if posted work ran until the queue was empty.
            Action spin = null!;
            spin = () =>
            {
                if (Interlocked.Increment(ref selfPosts) < 1_000_000 && ioSeen.Count == 0)
                {
                    lt.Loop.Post(spin);
                }
            };
            lt.Loop.Post(spin);
            Fds.Write(w);
            ioSeen.ExpectEvents(IoEvents.Readable);
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Timers_run_in_due_order_on_the_loop_thread_and_not_before_due(EventLoopBackend backend)
    {
        using var lt = new LoopThread(Backends.Options(backend));
        var order = new ConcurrentQueue<(int Id, int Thread, long Elapsed)>();
        var all = new CountdownEvent(4);
        var clock = Stopwatch.StartNew();
        void At(int ms, int id) => lt.Loop.Schedule(TimeSpan.FromMilliseconds(ms), () =>
        {
            order.Enqueue((id, Environment.CurrentManagedThreadId, clock.ElapsedMilliseconds));
            all.Signal();
        });
        lt.Invoke(() =>
        {
            // Scheduled back to back inside one handler, so the 20 ms steps dwarf the gaps between the calls.
            At(60, 3);
            At(20, 1);
            At(40, 2);
            At(40, 22); // (about) the same due time as 2: scheduled later, runs after it
        });
        Assert.True(all.Wait(Waits.Long));
        var list = order.ToArray();
        Assert.Equal(new[] { 1, 2, 22, 3 }, list.Select(x => x.Id));
        Assert.All(list, x => Assert.Equal(lt.ManagedThreadId, x.Thread));
        Assert.True(list[0].Elapsed >= 20, "a timer ran before it was due"); // a lower bound: correctness, not speed
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Cancelled_timers_never_run(EventLoopBackend backend)
    {
        using var lt = new LoopThread(Backends.Options(backend));
        int cancelledRan = 0;
        var later = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Hold the loop inside a handler so it cannot reach its timer phase while this thread schedules and cancels.
        using var hold = new ManualResetEventSlim();
        using var held = new ManualResetEventSlim();
        lt.Loop.Post(() =>
        {
            held.Set();
            hold.Wait(Waits.Long);
        });
        Assert.True(held.Wait(Waits.Long));
        var fromOtherThread = lt.Loop.Schedule(TimeSpan.Zero, () => Interlocked.Increment(ref cancelledRan));
        Assert.True(fromOtherThread.Cancel());
        hold.Set();
        // On the loop thread, scheduling and cancelling happen within one handler: the timer phase cannot interleave.
        var fromLoop = lt.Invoke(() =>
        {
            var t = lt.Loop.Schedule(TimeSpan.Zero, () => Interlocked.Increment(ref cancelledRan));
            Assert.True(t.Cancel());
            return t;
        });
        Assert.False(fromLoop.Cancel()); // second cancel: nothing to do
        lt.Loop.Schedule(TimeSpan.FromMilliseconds(20), () => later.SetResult());
        Waits.Done(later.Task, "the later timer");
        Assert.Equal(0, cancelledRan);
        Assert.True(fromOtherThread.IsCancelled);
        Assert.False(fromOtherThread.HasRun);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Regression_Schedule_from_another_thread_never_misses_a_loop_about_to_sleep(EventLoopBackend backend)
    {
        // Bug: a timer added by another thread after the loop computed its epoll_wait timeout (no timers: infinite)
        // but before it announced its sleep was not noticed: the loop slept forever. The hook schedules from
        // another thread exactly in that window.
        using var ran = new SemaphoreSlim(0);
        var loop = Backends.Loop(backend);
        int armed = 1;
        loop.TestHookBeforeSleep = () =>
        {
            if (Interlocked.Exchange(ref armed, 0) == 1)
            {
                var other = new Thread(() => loop.Schedule(TimeSpan.Zero, () => ran.Release()));
                other.Start();
                other.Join();
            }
        };
        using var lt = new LoopThread(loop);
        Assert.True(ran.Wait(Waits.Long), "the timer never ran: the loop slept through it");
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_timer_that_ran_cannot_be_cancelled(EventLoopBackend backend)
    {
        using var lt = new LoopThread(Backends.Options(backend));
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var t = lt.Loop.Schedule(TimeSpan.Zero, () => ran.SetResult());
        Waits.Done(ran.Task, "the timer");
        Assert.True(t.HasRun);
        Assert.False(t.Cancel());
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Offload_runs_on_the_pool_and_await_resumes_on_the_loop_thread(EventLoopBackend backend)
    {
        using var lt = new LoopThread(Backends.Options(backend));
        var result = new TaskCompletionSource<(int Before, int Worker, int After, int AfterDelay, int Value)>(TaskCreationOptions.RunContinuationsAsynchronously);
        lt.Loop.Post(async () =>
        {
            try
            {
                int before = Environment.CurrentManagedThreadId;
                int worker = 0;
                int value = await lt.Loop.Offload(() =>
                {
                    worker = Environment.CurrentManagedThreadId;
                    Thread.Sleep(10); // blocking work is what Offload is for
                    return 42;
                });
                int after = Environment.CurrentManagedThreadId;
                await Task.Delay(1);
                result.SetResult((before, worker, after, Environment.CurrentManagedThreadId, value));
            }
            catch (Exception ex)
            {
                result.SetException(ex);
            }
        });
        var r = Waits.Result(result.Task, "the async handler");
        Assert.Equal(42, r.Value);
        Assert.Equal(lt.ManagedThreadId, r.Before);
        Assert.NotEqual(lt.ManagedThreadId, r.Worker);
        Assert.Equal(lt.ManagedThreadId, r.After);
        Assert.Equal(lt.ManagedThreadId, r.AfterDelay);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Offload_task_completes_on_the_loop_even_without_await_and_carries_exceptions(EventLoopBackend backend)
    {
        using var lt = new LoopThread(Backends.Options(backend));
        using var gate = new ManualResetEventSlim();
        var task = lt.Loop.Offload(() =>
        {
            gate.Wait(Waits.Long); // finish only after the continuation is attached
            throw new InvalidTimeZoneException("boom");
        });
        var completedOn = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        task.ContinueWith(_ => completedOn.SetResult(Environment.CurrentManagedThreadId), TaskContinuationOptions.ExecuteSynchronously);
        gate.Set();
        Assert.Equal(lt.ManagedThreadId, Waits.Result(completedOn.Task, "the offloaded task"));
        var ex = Assert.Throws<AggregateException>(() => task.Wait());
        Assert.IsType<InvalidTimeZoneException>(ex.InnerException);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Disposing_a_registration_during_dispatch_drops_its_already_fetched_event(EventLoopBackend backend)
    {
        var (r1, w1) = Fds.Pipe();
        var (r2, w2) = Fds.Pipe();
        try
        {
            var loop = Backends.Loop(backend);
            int calls = 0;
            Registration? a = null, b = null;
            // Both fds are ready before the loop's first epoll_wait, so both events come in one batch; whichever
            // runs first disposes the other, whose event is already in the buffer and must be dropped.
            a = loop.Register(r1, IoEvents.Readable, _ =>
            {
                calls++;
                b!.Dispose();
                a!.Dispose();
            });
            b = loop.Register(r2, IoEvents.Readable, _ =>
            {
                calls++;
                a!.Dispose();
                b!.Dispose();
            });
            Fds.Write(w1);
            Fds.Write(w2);
            using var lt = new LoopThread(loop);
            lt.RunTurns();
            Assert.Equal(1, lt.Invoke(() => calls));
            Assert.True(a.IsDisposed && b.IsDisposed);
            Assert.Equal(0, lt.Invoke(() => lt.Loop.RegistrationCount));
        }
        finally
        {
            Fds.Close(r1);
            Fds.Close(w1);
            Fds.Close(r2);
            Fds.Close(w2);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_reused_fd_number_never_receives_the_old_registrations_event(EventLoopBackend backend)
    {
        var (trigger, triggerW) = Fds.Pipe();
        var (victim, victimW) = Fds.Pipe();
        int oldHandlerCalls = 0, newHandlerCalls = 0, swaps = 0;
        var loop = Backends.Loop(backend);
        Registration? old = null;
        // The trigger is ready first, so it comes first in the batch; its handler closes the victim fd and puts a
        // fresh, empty pipe at the same fd number with a new registration. The victim's event, fetched in the same
        // batch, carries the old registration's generation and must not reach the new handler.
        loop.Register(trigger, IoEvents.Readable, e =>
        {
            Fds.Drain(e.Fd);
            if (swaps++ > 0)
            {
                return;
            }
            old!.Dispose();
            Fds.Close(victimW);
            var (fresh, freshW) = Fds.Pipe();
            Fds.Dup2(fresh, victim); // the new pipe's read end now has the victim's number
            Fds.Close(fresh);
            victimW = freshW;
            loop.Register(victim, IoEvents.Readable, _ => newHandlerCalls++);
        });
        Fds.Write(triggerW);
        old = loop.Register(victim, IoEvents.Readable, _ => oldHandlerCalls++);
        Fds.Write(victimW);
        try
        {
            using var lt = new LoopThread(loop);
            lt.RunTurns();
            Assert.Equal(1, lt.Invoke(() => swaps));
            Assert.Equal(0, lt.Invoke(() => oldHandlerCalls)); // else the batch order was not the one this test needs
            Assert.Equal(0, lt.Invoke(() => newHandlerCalls));
            // The new registration works for its own data.
            Fds.Write(victimW);
            Waits.Until(() => lt.Invoke(() => newHandlerCalls) > 0, "the new registration's own event");
        }
        finally
        {
            Fds.Close(trigger);
            Fds.Close(triggerW);
            Fds.Close(victim);
            Fds.Close(victimW);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Handler_exception_closes_that_registration_reports_it_and_the_loop_keeps_serving(EventLoopBackend backend)
    {
        var (r1, w1) = Fds.Pipe();
        var (r2, w2) = Fds.Pipe();
        var faults = new ConcurrentQueue<HandlerFault>();
        try
        {
            using var lt = new LoopThread(new EventLoopOptions { Backend = backend, Name = "faulty", OnHandlerException = faults.Enqueue });
            var good = new EventRecorder();
            var bad = lt.Invoke(() => lt.Loop.Register(r1, IoEvents.Readable, _ => throw new InvalidOperationException("handler bug")));
            lt.Invoke(() => lt.Loop.Register(r2, IoEvents.Readable, e =>
            {
                good.Record(e);
                Fds.Drain(e.Fd);
            }));
            Fds.Write(w1);
            Waits.Until(() => faults.Count == 1, "the fault report");
            Assert.True(bad.IsDisposed);
            var fault = Assert.Single(faults);
            Assert.Equal(r1, fault.Fd);
            Assert.Equal("faulty", fault.LoopName);
            Assert.IsType<InvalidOperationException>(fault.Exception);
            Assert.Contains(nameof(EventLoopTests), fault.Handler);
            Fds.Write(w2);
            good.ExpectEvents(IoEvents.Readable);
            lt.RunTurns();
            Assert.Single(faults); // the level-triggered fd with unread data is not reported again
        }
        finally
        {
            Fds.Close(r1);
            Fds.Close(w1);
            Fds.Close(r2);
            Fds.Close(w2);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void StopLoop_policy_makes_Run_rethrow_the_handler_exception(EventLoopBackend backend)
    {
        using var loop = new EventLoop(new EventLoopOptions { Backend = backend, HandlerExceptionPolicy = HandlerExceptionPolicy.StopLoop });
        loop.Post(() => throw new FormatException("posted bug"));
        var ex = Assert.Throws<FormatException>(loop.Run);
        Assert.Equal("posted bug", ex.Message);
        Assert.False(loop.IsRunning);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Stop_from_another_thread_returns_Run_and_the_loop_can_run_again(EventLoopBackend backend)
    {
        using var loop = Backends.Loop(backend);
        for (int round = 0; round < 2; round++)
        {
            var thread = new Thread(loop.Run);
            thread.Start();
            Waits.Until(() => loop.IsRunning, "Run to start");
            loop.Stop();
            Assert.True(thread.Join(Waits.Long), "Run did not return after Stop");
            Assert.False(loop.IsRunning);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Stop_from_a_handler_returns_Run_after_the_current_turn(EventLoopBackend backend)
    {
        using var loop = Backends.Loop(backend);
        int after = 0;
        loop.Post(() =>
        {
            loop.Stop();
            loop.Post(() => after++); // posted during the posted phase: waits for the next turn, which is the next Run
        });
        loop.Run(); // would never return if Stop from the loop thread were lost
        Assert.Equal(0, after);
        loop.Stop();
        loop.Run();
        Assert.Equal(1, after);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Stop_before_Run_makes_Run_return_after_one_turn(EventLoopBackend backend)
    {
        using var loop = Backends.Loop(backend);
        int ran = 0;
        loop.Post(() => ran++);
        loop.Stop();
        loop.Run(); // would hang forever if the earlier Stop were lost
        Assert.Equal(1, ran);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Watchdog_hooks_show_the_running_handler_and_the_kernel_wait(EventLoopBackend backend)
    {
        using var lt = new LoopThread(Backends.Options(backend));
        var inside = new ManualResetEventSlim();
        var release = new ManualResetEventSlim();
        lt.Loop.Post(() =>
        {
            inside.Set();
            release.Wait(Waits.Long); // a deliberately stalled handler, released by the test
        });
        Assert.True(inside.Wait(Waits.Long));
        var activity = lt.Loop.Activity;
        Assert.True(activity.TryGetCurrentHandler(out long start, out object? handler, out int fd, out _));
        Assert.True(start > 0);
        Assert.Equal(-1, fd);
        Assert.Contains(nameof(EventLoopTests), HandlerNames.Describe(handler));
        Assert.Equal(0, activity.PollStartTimestamp);
        Assert.True(activity.OsThreadId > 0);
        Assert.True(Directory.Exists($"/proc/self/task/{activity.OsThreadId}"), "OsThreadId is not a thread of this process");
        release.Set();
        Waits.Until(() => activity.PollStartTimestamp != 0, "the loop back in epoll_wait");
        Assert.False(activity.TryGetCurrentHandler(out _, out _, out _, out _));
    }
}
