using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using NoBlock.IoUring;
using NoBlock.Tests.Runtime;
using Xunit;

namespace NoBlock.Tests.IoUring;

/// <summary>EventLoopOptions.Backend: the default, io_uring demanded or preferred, and the fallback where it is unavailable.</summary>
public sealed class BackendChoiceTests
{
    private const string Reason = "simulated: kernel.io_uring_disabled = 2";

    [Fact]
    public void The_default_backend_is_epoll()
    {
        using var loop = new EventLoop();
        Assert.Equal(EventLoopBackend.Epoll, loop.Backend);
    }

    [Theory, IoUringRow]
    public void IoUring_demanded_where_available_is_what_the_loop_uses(EventLoopBackend backend)
    {
        using var loop = new EventLoop(new EventLoopOptions { Backend = backend });
        Assert.Equal(EventLoopBackend.IoUring, loop.Backend);
    }

    [Theory, IoUringRow]
    public void IoUring_preferred_where_available_is_used_without_a_notice(EventLoopBackend _)
    {
        var writer = new StringWriter();
        using var loop = new EventLoop(new EventLoopOptions { Backend = EventLoopBackend.PreferIoUring, FaultWriter = () => writer });
        Assert.Equal(EventLoopBackend.IoUring, loop.Backend);
        Assert.Equal("", writer.ToString());
    }

    [Fact]
    public void IoUring_demanded_where_unavailable_throws_naming_the_reason()
    {
        using var simulation = IoUringSupport.SimulateUnavailable(Reason);
        var ex = Assert.Throws<PlatformNotSupportedException>(() => new EventLoop(new EventLoopOptions { Name = "strict", Backend = EventLoopBackend.IoUring }));
        Assert.Contains(Reason, ex.Message);
        Assert.Contains("'strict'", ex.Message);
        Assert.Contains("PreferIoUring", ex.Message); // the way out
    }

    [Fact]
    public void IoUring_preferred_where_unavailable_falls_back_to_epoll_with_one_stderr_line_and_serves()
    {
        var writer = new StringWriter();
        EventLoop loop;
        using (IoUringSupport.SimulateUnavailable(Reason))
        {
            loop = new EventLoop(new EventLoopOptions { Name = "fallback", Backend = EventLoopBackend.PreferIoUring, FaultWriter = () => writer });
        }
        Assert.Equal(EventLoopBackend.Epoll, loop.Backend);
        var line = Assert.Single(writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("loop 'fallback'", line);
        Assert.Contains(Reason, line);
        Assert.Contains("using epoll", line);
        var ran = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var lt = new LoopThread(loop);
        lt.Loop.Post(ran.SetResult);
        Waits.Done(ran.Task, "posted work on the fallback loop");
    }

    [Fact]
    public void IoUring_preferred_where_unavailable_with_a_logger_logs_BackendFallback_and_writes_no_line()
    {
        var logger = new FakeLogger();
        var writer = new StringWriter();
        using var simulation = IoUringSupport.SimulateUnavailable(Reason);
        using var loop = new EventLoop(new EventLoopOptions { Name = "logged", Backend = EventLoopBackend.PreferIoUring, Logger = logger, FaultWriter = () => writer });
        Assert.Equal(EventLoopBackend.Epoll, loop.Backend);
        var record = Assert.Single(logger.Collector.GetSnapshot());
        Assert.Equal(26, record.Id.Id);
        Assert.Equal("BackendFallback", record.Id.Name);
        Assert.Equal(LogLevel.Warning, record.Level);
        var state = record.StructuredState!.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal("logged", state["LoopName"]);
        Assert.Equal(Reason, state["Reason"]);
        Assert.Equal("", writer.ToString());
    }

    [Fact]
    public void An_undefined_backend_value_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new EventLoop(new EventLoopOptions { Backend = (EventLoopBackend)7 }));
    }

    [Fact]
    public void WhyUnavailable_gives_the_simulated_reason_while_simulated()
    {
        using (IoUringSupport.SimulateUnavailable(Reason))
        {
            Assert.Equal(Reason, IoUringSupport.WhyUnavailable());
        }
        Assert.NotEqual(Reason, IoUringSupport.WhyUnavailable());
    }
}
