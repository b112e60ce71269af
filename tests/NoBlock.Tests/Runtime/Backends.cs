using System.Reflection;
using NoBlock.IoUring;
using Xunit.Sdk;

namespace NoBlock.Tests.Runtime;

/// <summary>
/// The io_uring row of a backend matrix: <c>[Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]</c> runs a
/// test on both backends. Where this process cannot run the io_uring backend the row is skipped with the reason
/// <see cref="IoUringSupport.WhyUnavailable"/> gives (old kernel, io_uring_disabled, seccomp), never silently passed.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class IoUringRowAttribute : DataAttribute
{
    private readonly object[] _more;

    /// <summary>The row <c>(IoUring, more...)</c>: further arguments after the backend, as InlineData's.</summary>
    public IoUringRowAttribute(params object[] more)
    {
        _more = more;
        if (IoUringSupport.WhyUnavailable() is { } why)
        {
            Skip = $"io_uring is unavailable here: {why}";
        }
    }

    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => [[EventLoopBackend.IoUring, .. _more]];
}

internal static class Backends
{
    /// <summary>
    /// The skip reason of the io_uring rows that need the listener's accept queue (or a receive queue) to fill while
    /// the loop is stalled: found by the matrix, open (docs/io_uring.md, "What the matrix covers").
    /// </summary>
    public const string StalledQueuesDifference = "io_uring: while the loop is stalled the listener's accept queue (and, in the stall-ended "
        + "report, the receive queues) do not fill - a snapshot read '6 connections: receive queues empty, accept queue 0/16'; "
        + "most likely the multishot accept and receives, which keep completing into the ring while the loop is stuck (docs/io_uring.md)";

    /// <summary>Default options on <paramref name="backend"/> (demanded: a matrix row must not fall back silently).</summary>
    public static EventLoopOptions Options(EventLoopBackend backend) => new() { Backend = backend };

    /// <summary>A loop on <paramref name="backend"/>, checked to be on it.</summary>
    public static EventLoop Loop(EventLoopBackend backend, EventLoopOptions? options = null)
    {
        options ??= new EventLoopOptions();
        options.Backend = backend;
        var loop = new EventLoop(options);
        Xunit.Assert.Equal(backend, loop.Backend);
        return loop;
    }
}
