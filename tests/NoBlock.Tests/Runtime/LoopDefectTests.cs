using System.Diagnostics;
using System.Linq.Expressions;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Microsoft.Extensions.Logging.Abstractions;
using NoBlock.Tcp;
using Xunit;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace NoBlock.Tests.Runtime;

/// <summary>Remembers the last connection opened, so a test can look at its socket from the loop.</summary>
internal sealed class RememberedEcho : EchoConnection
{
    public static volatile RememberedEcho? Last;

    protected override void OnOpened()
    {
        base.OnOpened();
        Last = this;
    }
}

/// <summary>
/// One regression test per defect of issue 11 ("EventLoop under races and faults"), each on real fds. Each failed on
/// the code before its fix; the racy ones loop enough cycles to catch the bug, bounded in count and in time.
/// </summary>
public sealed unsafe class LoopDefectTests
{
    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);

    /// <summary>Runs <paramref name="body"/> on the loop while the test waits; the loop is busy (gated) until it returns.</summary>
    private static void OnLoop(LoopThread lt, Action body) => lt.Invoke(body);

    /// <summary>Spins (on the calling thread) until <paramref name="fd"/> reports all of <paramref name="events"/> to a zero-timeout poll.</summary>
    private static void SpinUntilPollReports(int fd, short events, string what)
    {
        Waits.Until(() =>
        {
            pollfd p = default;
            p.fd = fd;
            p.events = events;
            return poll(&p, 1, 0) == 1 && (p.revents & events) == events;
        }, what);
    }

    // ---- 1: edge-triggered, a FIN that arrives with the last data -------------------------------------------------

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Regression_edge_triggered_FIN_arriving_with_the_last_data_is_read(EventLoopBackend backend)
    {
        // Bug: the edge-triggered read path took a short read for "drained" and ignored EPOLLRDHUP, so when data and
        // FIN came in one edge the end of stream was never read: the peer waited forever for our FIN (CLOSE_WAIT).
        EchoConnection.Reset();
        RememberedEcho.Last = null;
        TcpAcceptor? acceptor = null;
        using var lt = new LoopThread(Backends.Options(backend), loop => acceptor = TcpAcceptor.Listen(loop, AnyLoopbackPort, () => new RememberedEcho(), new TcpServerOptions { EdgeTriggered = true }));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(acceptor!.LocalEndPoint);
        client.ReceiveTimeout = (int)Waits.Long.TotalMilliseconds;
        Waits.Until(() => RememberedEcho.Last is not null, "the server connection");
        int serverFd = RememberedEcho.Last!.Fd;
        // Hold the loop until the data and the FIN are both queued on the server socket: they arrive in one edge.
        OnLoop(lt, () =>
        {
            client.Send(new byte[100]);
            client.Shutdown(SocketShutdown.Send);
            SpinUntilPollReports(serverFd, (short)(POLLIN | POLLRDHUP), "data and FIN queued on the server socket");
        });
        var echoed = new byte[200];
        int got = 0;
        while (got < 100)
        {
            int n = client.Receive(echoed, got, echoed.Length - got, SocketFlags.None);
            Assert.True(n > 0, $"EOF after {got} of 100 echoed bytes");
            got += n;
        }
        Assert.Equal(0, client.Receive(echoed)); // our FIN: the server saw the peer's end of stream and closed
        Waits.Until(() => EchoConnection.Closes.Any(c => c.Reason == CloseReason.PeerClosed), "the server connection to close as PeerClosed");
    }

    // ---- 2: a cross-thread Registration.Dispose and a reused fd number ------------------------------------------

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Regression_cross_thread_Dispose_never_unregisters_the_fd_that_reused_its_number(EventLoopBackend backend)
    {
        // Bug: from another thread the removal was posted and later ran EPOLL_CTL_DEL by fd number; when the user had
        // closed the fd (after Dispose, as the docs say) and the loop reused the number meanwhile, the new registration
        // silently stopped getting events.
        using var lt = new LoopThread(Backends.Options(backend));
        var (oldRead, oldWrite) = Fds.Pipe();
        var oldReg = lt.Invoke(() => lt.Loop.Register(oldRead, IoEvents.Readable, _ => { }));
        var fresh = new EventRecorder();
        var (newRead, newWrite) = (-1, -1);
        OnLoop(lt, () =>
        {
            // On the loop (so the posted removal waits behind this): another thread disposes and closes, then the loop
            // opens an fd that gets the same number and registers it.
            var other = new Thread(() =>
            {
                oldReg.Dispose();
                Fds.Close(oldRead);
            });
            other.Start();
            other.Join();
            var (r, w) = Fds.Pipe();
            if (r != oldRead) // the lowest free number is normally the one just closed; make sure of it
            {
                Fds.Dup2(r, oldRead);
                Fds.Close(r);
            }
            (newRead, newWrite) = (oldRead, w);
            lt.Loop.Register(newRead, IoEvents.Readable, fresh.Record);
        });
        Assert.Equal(oldRead, newRead);
        lt.RunTurns(); // the posted removal runs
        Fds.Write(newWrite);
        lt.RunTurns();
        Assert.True(fresh.Count > 0, "the fd that reused the number gets no events: the old registration's removal unregistered it");
        lt.Invoke(() => lt.Loop.RegistrationCount == 1);
        Fds.Close(newRead);
        Fds.Close(newWrite);
        Fds.Close(oldWrite);
    }

    // ---- 3: a Stop from another thread racing the loop going to sleep -------------------------------------------

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Regression_Stop_from_another_thread_is_never_lost_when_it_races_the_loop_going_to_sleep(EventLoopBackend backend)
    {
        // Bug: Stop stored its flag and then read "is the loop asleep" with no full fence between them, so both sides
        // could miss each other: the loop slept in epoll_wait forever (about 1 in 3,000-30,000 such races). The hook
        // lines the race up: the stopper calls Stop the moment the loop is about to announce its sleep.
        const int MaxCycles = 60_000;
        var budget = Stopwatch.StartNew();
        using var loop = new EventLoop(new EventLoopOptions { Backend = backend, Name = "stop-race", Watchdog = { Enabled = false } });
        int aboutToSleep = 0, offset = 0;
        loop.TestHookBeforeSleep = () =>
        {
            Volatile.Write(ref aboutToSleep, 1);
            Thread.SpinWait(offset); // varies where in the stopper's Stop the loop's announcement lands
        };
        using var start = new SemaphoreSlim(0);
        using var returned = new SemaphoreSlim(0);
        bool done = false;
        var runner = new Thread(() =>
        {
            while (true)
            {
                start.Wait();
                if (Volatile.Read(ref done))
                {
                    return;
                }
                loop.Run();
                returned.Release();
            }
        }) { IsBackground = true, Name = "stop-race-loop" };
        runner.Start();
        int cycles = 0, lost = 0;
        try
        {
            for (; cycles < MaxCycles && budget.Elapsed < TimeSpan.FromSeconds(8); cycles++)
            {
                Volatile.Write(ref aboutToSleep, 0);
                offset = cycles % 8;
                start.Release();
                var spin = new SpinWait();
                while (Volatile.Read(ref aboutToSleep) == 0)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                }
                loop.Stop();
                if (!returned.Wait(TimeSpan.FromSeconds(10)))
                {
                    lost++;
                    loop.Post(() => { }); // a post always wakes a sleeping loop: rescue it to count the rest
                    Assert.True(returned.Wait(Waits.Long), "the loop did not return even after a post");
                }
            }
        }
        finally
        {
            Volatile.Write(ref done, true);
            start.Release();
            runner.Join(Waits.Long);
        }
        Assert.True(lost == 0, $"{lost} of {cycles} Stop calls were lost (the loop slept through them)");
        Assert.True(cycles > 0);
    }

    // ---- 4: an edge-triggered listener whose factory throws ---------------------------------------------------

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Regression_edge_triggered_listener_accepts_the_queued_connections_after_a_factory_throws(EventLoopBackend backend)
    {
        // Bug: the exception left the accept batch before EAGAIN and before the continuation was posted, so the
        // connections still queued waited until another client connected (no new edge came for them).
        EchoConnection.Reset();
        int made = 0;
        TcpConnection Factory() => Interlocked.Increment(ref made) == 1 ? throw new InvalidOperationException("factory bug") : new EchoConnection();
        var faults = new List<HandlerFault>();
        TcpAcceptor? acceptor = null;
        using var lt = new LoopThread(
            new EventLoopOptions { Backend = backend, OnHandlerException = f => faults.Add(f) },
            loop => acceptor = TcpAcceptor.Listen(loop, AnyLoopbackPort, Factory, new TcpServerOptions { EdgeTriggered = true }));
        var clients = new List<Socket>();
        try
        {
            OnLoop(lt, () =>
            {
                // All three wait in the accept queue before the loop looks: one edge for all of them.
                for (int i = 0; i < 3; i++)
                {
                    var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    c.Connect(acceptor!.LocalEndPoint);
                    clients.Add(c);
                }
                // On io_uring the armed multishot accept may take them from the queue already (the kernel completes
                // it while this thread sleeps), so only epoll's queue is sure to hold all three here.
                Waits.Until(() => backend == EventLoopBackend.IoUring || (NoBlock.Interop.Sys.ListenQueue(acceptor!.Fd, out int q, out _, out _) && q == 3), "three connections in the accept queue");
            });
            lt.RunTurns(); // no new client connects: only the listener's own continuation can accept the other two
            Assert.Equal(2, Volatile.Read(ref EchoConnection.Open));
            Assert.Equal(3, lt.Invoke(() => acceptor!.AcceptedCount));
            Assert.Contains(lt.Invoke(() => faults.ToArray()), f => f.Exception.Message == "factory bug");
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    // ---- 5: Dispose and Offload completions already queued -----------------------------------------------------

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Regression_Dispose_completes_Offload_tasks_whose_completion_is_already_queued(EventLoopBackend backend)
    {
        // Bug: Dispose emptied the posted-work queue, completions of finished Offload work included: the task never
        // completed. The docs promise it completes on the pool thread when the loop is gone.
        var loop = Backends.Loop(backend);
        var task = loop.Offload(() => 42);
        Waits.Until(() => loop.QueuedWorkCount == 1, "the finished work's completion queued for the (not running) loop");
        loop.Dispose();
        Assert.Equal(42, Waits.Result(task, "the Offload task after Dispose"));
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Offload_work_that_finishes_after_Dispose_completes_its_task_on_the_pool(EventLoopBackend backend)
    {
        var loop = Backends.Loop(backend);
        using var release = new ManualResetEventSlim();
        var task = loop.Offload(() =>
        {
            release.Wait(Waits.Long);
            throw new InvalidDataException("late");
        });
        loop.Dispose();
        release.Set();
        Waits.Until(() => task.IsCompleted, "the Offload task of work that ended after Dispose");
        Assert.IsType<InvalidDataException>(task.Exception!.InnerException);
    }

    // ---- 6: huge timer delays ----------------------------------------------------------------------------------

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Regression_a_timer_delay_beyond_the_maximum_is_refused_and_the_maximum_does_not_fire(EventLoopBackend backend)
    {
        // Bug: Schedule(TimeSpan.MaxValue) (or ~300 years) overflowed the deadline: the timer fired at once, and the
        // wrapped deadline made the loop poll with an int.MaxValue timeout so other timers stopped firing.
        using var lt = new LoopThread(Backends.Options(backend));
        int hugeRan = 0;
        foreach (var huge in new[] { TimeSpan.MaxValue, TimeSpan.FromDays(365.25 * 300), EventLoop.MaxTimerDelay + TimeSpan.FromMilliseconds(1) })
        {
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => lt.Loop.Schedule(huge, () => hugeRan++));
            Assert.Contains("49", ex.Message); // names the limit (49.7 days)
        }
        var longest = lt.Loop.Schedule(EventLoop.MaxTimerDelay, () => Interlocked.Increment(ref hugeRan));
        var soon = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lt.Loop.Schedule(TimeSpan.FromMilliseconds(1), () => soon.SetResult());
        Waits.Done(soon.Task, "a short timer next to the longest one");
        lt.RunTurns();
        Assert.Equal(0, Volatile.Read(ref hugeRan));
        Assert.False(longest.HasRun);
        longest.Cancel();
    }

    // ---- 7: EventLoopGroup gives every loop every option -------------------------------------------------------

    [Fact]
    public void Regression_EventLoopGroup_gives_every_loop_every_public_option()
    {
        // Bug: the group copied options member by member and forgot Watchdog and Guards. This sets every public
        // settable property (and those of the nested option objects) to a value that is not its default, so a new
        // option that the copy forgets fails here without anyone updating the test.
        var options = new EventLoopOptions();
        var expected = Fill(options);
        using var group = new EventLoopGroup(2, options);
        Assert.All(group.Loops.Select((l, i) => (l, i)), x =>
        {
            foreach (var (path, value) in expected)
            {
                object? actual = Read(x.l.Options, path);
                if (path == nameof(EventLoopOptions.Name))
                {
                    Assert.Equal($"{value}-{x.i}", actual);
                }
                else
                {
                    Assert.True(Equals(value, actual), $"{path}: loop {x.i} has '{actual}', the group was given '{value}'");
                }
            }
        });
    }

    private static List<(string Path, object? Value)> Fill(object target, string prefix = "")
    {
        var set = new List<(string, object?)>();
        foreach (var p in target.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite && p.SetMethod!.IsPublic))
        {
            string path = prefix + p.Name;
            var type = p.PropertyType;
            if (type.IsClass && type.Namespace == "NoBlock" && !typeof(Delegate).IsAssignableFrom(type))
            {
                var nested = Activator.CreateInstance(type)!;
                set.AddRange(Fill(nested, path + "."));
                p.SetValue(target, nested);
                continue;
            }
            object? value = OtherThan(p.GetValue(target), type, path);
            p.SetValue(target, value);
            set.Add((path, value));
        }
        return set;
    }

    private static object? OtherThan(object? current, Type type, string path)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (typeof(Delegate).IsAssignableFrom(t))
        {
            var invoke = t.GetMethod("Invoke")!;
            var parameters = invoke.GetParameters().Select(x => Expression.Parameter(x.ParameterType)).ToArray();
            return Expression.Lambda(t, Expression.Default(invoke.ReturnType), parameters).Compile();
        }
        return t switch
        {
            _ when t == typeof(string) => "set-" + path,
            _ when t == typeof(bool) => !(bool)(current ?? false),
            _ when t == typeof(int) => (int)(current ?? 0) + 3,
            _ when t == typeof(TimeSpan) => (TimeSpan)(current ?? TimeSpan.Zero) + TimeSpan.FromMilliseconds(7),
            _ when t.IsEnum => Enum.GetValues(t).Cast<object>().First(v => !v.Equals(current)),
            _ when t == typeof(Microsoft.Extensions.Logging.ILogger) => NullLogger.Instance,
            _ when t == typeof(System.Diagnostics.Metrics.IMeterFactory) => new TestMeterFactory(),
            _ => throw new Xunit.Sdk.XunitException($"{path} ({t.Name}): give this test a non-default value for the type"),
        };
    }

    private static object? Read(object target, string path)
    {
        object? value = target;
        foreach (var part in path.Split('.'))
        {
            value = value!.GetType().GetProperty(part)!.GetValue(value);
        }
        return value;
    }

    private sealed class TestMeterFactory : System.Diagnostics.Metrics.IMeterFactory
    {
        public System.Diagnostics.Metrics.Meter Create(System.Diagnostics.Metrics.MeterOptions options) => new(options);

        public void Dispose()
        {
        }
    }
}
