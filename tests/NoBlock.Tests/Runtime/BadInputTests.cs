using Xunit;

namespace NoBlock.Tests.Runtime;

/// <summary>DESIGN.md "Errors and bad input": each misuse gets a clear exception and the loop keeps serving.</summary>
[Xunit.Collection(NoBlock.Tests.Runtime.FdCounting.Name)]
public sealed class BadInputTests
{
    private static void NoOp(IoEvent e)
    {
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Negative_fd_is_refused(EventLoopBackend backend)
    {
        using var loop = Backends.Loop(backend);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => loop.Register(-1, IoEvents.Readable, NoOp));
        Assert.Contains("fd -1", ex.Message);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Closed_fd_is_refused_with_its_number(EventLoopBackend backend)
    {
        using var loop = Backends.Loop(backend); // created first: its own fds must not take the closed number
        var (r, w) = Fds.Pipe();
        Fds.Close(r);
        Fds.Close(w);
        var ex = Assert.Throws<ArgumentException>(() => loop.Register(r, IoEvents.Readable, NoOp));
        Assert.Contains($"fd {r}", ex.Message);
        Assert.Contains("not open", ex.Message);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Blocking_fd_is_refused_with_the_fix(EventLoopBackend backend)
    {
        var (r, w) = Fds.Pipe(nonBlocking: false);
        try
        {
            using var loop = Backends.Loop(backend);
            var ex = Assert.Throws<ArgumentException>(() => loop.Register(r, IoEvents.Readable, NoOp));
            Assert.Contains($"fd {r}", ex.Message);
            Assert.Contains("O_NONBLOCK", ex.Message);
            Assert.Contains("F_SETFL", ex.Message);
            Assert.Equal(0, loop.RegistrationCount);
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Double_registration_is_refused_and_the_first_keeps_working(EventLoopBackend backend)
    {
        var (r, w) = Fds.Pipe();
        try
        {
            var seen = new EventRecorder();
            var loop = Backends.Loop(backend);
            loop.Register(r, IoEvents.Readable, e =>
            {
                seen.Record(e);
                Fds.Drain(e.Fd);
            });
            var ex = Assert.Throws<ArgumentException>(() => loop.Register(r, IoEvents.Readable, NoOp));
            Assert.Contains($"fd {r}", ex.Message);
            Assert.Contains("already registered", ex.Message);
            Assert.Contains("Modify", ex.Message);
            using var lt = new LoopThread(loop);
            Fds.Write(w);
            seen.ExpectEvents(IoEvents.Readable);
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Regular_file_is_refused_because_epoll_cannot_watch_it(EventLoopBackend backend)
    {
        int fd = Fds.OpenFile("/proc/self/status");
        Assert.True(fd >= 0);
        try
        {
            using var loop = Backends.Loop(backend);
            var ex = Assert.Throws<ArgumentException>(() => loop.Register(fd, IoEvents.Readable, NoOp));
            Assert.Contains($"fd {fd}", ex.Message);
        }
        finally
        {
            Fds.Close(fd);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Bad_registration_inside_a_handler_is_reported_and_the_loop_keeps_serving_others(EventLoopBackend backend)
    {
        var (r, w) = Fds.Pipe();
        var (blockingR, blockingW) = Fds.Pipe(nonBlocking: false);
        try
        {
            using var lt = new LoopThread(Backends.Options(backend));
            var seen = new EventRecorder();
            lt.Invoke(() => lt.Loop.Register(r, IoEvents.Readable, e =>
            {
                seen.Record(e);
                Fds.Drain(e.Fd);
            }));
            var ex = Assert.Throws<ArgumentException>(() => lt.Invoke(() => lt.Loop.Register(blockingR, IoEvents.Readable, NoOp)));
            Assert.Contains("O_NONBLOCK", ex.Message);
            Fds.Write(w);
            seen.ExpectEvents(IoEvents.Readable);
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
            Fds.Close(blockingR);
            Fds.Close(blockingW);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Register_from_another_thread_while_running_is_refused_with_the_fix(EventLoopBackend backend)
    {
        var (r, w) = Fds.Pipe();
        try
        {
            using var lt = new LoopThread(Backends.Options(backend));
            var ex = Assert.Throws<InvalidOperationException>(() => lt.Loop.Register(r, IoEvents.Readable, NoOp));
            Assert.Contains("Post", ex.Message);
            Assert.Equal(0, lt.Invoke(() => lt.Loop.RegistrationCount));
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Use_after_Dispose_throws_ObjectDisposedException(EventLoopBackend backend)
    {
        var (r, w) = Fds.Pipe();
        try
        {
            var loop = new EventLoop(new EventLoopOptions { Backend = backend, Name = "gone" });
            loop.Dispose();
            loop.Dispose(); // idempotent
            Assert.Contains("gone", Assert.Throws<ObjectDisposedException>(() => loop.Register(r, IoEvents.Readable, NoOp)).Message);
            Assert.Throws<ObjectDisposedException>(() => loop.Post(() => { }));
            Assert.Throws<ObjectDisposedException>(() => loop.Schedule(TimeSpan.Zero, () => { }));
            Assert.Throws<ObjectDisposedException>(() => { _ = loop.Offload(() => { }); });
            Assert.Throws<ObjectDisposedException>(loop.Run);
            loop.Stop(); // harmless
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Registration_Modify_after_Dispose_throws_and_Dispose_is_idempotent(EventLoopBackend backend)
    {
        var (r, w) = Fds.Pipe();
        try
        {
            using var loop = Backends.Loop(backend);
            var reg = loop.Register(r, IoEvents.Readable, NoOp);
            reg.Dispose();
            reg.Dispose();
            var ex = Assert.Throws<ObjectDisposedException>(() => reg.Modify(IoEvents.Writable));
            Assert.Contains($"fd {r}", ex.Message);
            // The fd can be registered again.
            loop.Register(r, IoEvents.Readable, NoOp).Dispose();
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Run_on_a_second_thread_is_refused_while_the_first_keeps_running(EventLoopBackend backend)
    {
        using var lt = new LoopThread(Backends.Options(backend));
        var ex = Assert.Throws<InvalidOperationException>(lt.Loop.Run);
        Assert.Contains("already running", ex.Message);
        Assert.True(lt.Loop.IsRunning);
        Assert.Equal(7, lt.Invoke(() => 7));
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Run_inside_a_handler_is_refused(EventLoopBackend backend)
    {
        using var lt = new LoopThread(Backends.Options(backend));
        var ex = Assert.Throws<InvalidOperationException>(() => lt.Invoke(() =>
        {
            lt.Loop.Run();
            return 0;
        }));
        Assert.Contains("already running", ex.Message);
        Assert.Equal(7, lt.Invoke(() => 7));
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Dispose_while_running_is_refused_and_the_loop_keeps_serving(EventLoopBackend backend)
    {
        using var lt = new LoopThread(Backends.Options(backend));
        var ex = Assert.Throws<InvalidOperationException>(lt.Loop.Dispose);
        Assert.Contains("Stop()", ex.Message);
        Assert.Equal(7, lt.Invoke(() => 7));
        var fromHandler = Assert.Throws<InvalidOperationException>(() => lt.Invoke(() =>
        {
            lt.Loop.Dispose();
            return 0;
        }));
        Assert.Contains("Stop()", fromHandler.Message);
        Assert.Equal(8, lt.Invoke(() => 8));
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Negative_timer_delay_and_null_handlers_are_refused(EventLoopBackend backend)
    {
        using var loop = Backends.Loop(backend);
        Assert.Throws<ArgumentOutOfRangeException>(() => loop.Schedule(TimeSpan.FromMilliseconds(-1), () => { }));
        Assert.Throws<ArgumentNullException>(() => loop.Post(null!));
        Assert.Throws<ArgumentNullException>(() => loop.Register(0, IoEvents.Readable, null!));
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Loop_resources_are_released_on_Dispose(EventLoopBackend backend)
    {
        int before = Fds.OpenCount();
        for (int i = 0; i < 20; i++)
        {
            using var loop = Backends.Loop(backend);
            loop.Post(() => { });
            loop.Stop();
            loop.Run();
        }
        Fds.ExpectOpenCount(before);
    }
}
