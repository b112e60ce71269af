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
