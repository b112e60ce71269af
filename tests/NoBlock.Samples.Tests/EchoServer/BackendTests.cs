using NoBlock;
using Xunit;
using Xunit.Abstractions;

namespace NoBlock.Samples.Tests.EchoServer;

/// <summary>A test that needs io_uring: skipped, with the reason, where this process cannot run the io_uring backend.</summary>
public sealed class IoUringFactAttribute : FactAttribute
{
    public IoUringFactAttribute()
    {
        // PreferIoUring falls back to epoll where io_uring is unavailable (and says why on standard error once).
        using var probe = new EventLoop(new EventLoopOptions { Backend = EventLoopBackend.PreferIoUring });
        if (probe.Backend != EventLoopBackend.IoUring)
        {
            Skip = "io_uring is unavailable here (the runtime's fallback line on standard error says why)";
        }
    }
}

/// <summary><c>EchoServer --backend</c> as a user runs it: the server says which backend it runs and echoes on it.</summary>
public sealed class BackendTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("epoll", "backend epoll")]
    [InlineData("prefer-io_uring", "backend ")]
    public void Echoes_on_the_backend_it_names(string backend, string expected) => EchoOn(backend, expected);

    [IoUringFact]
    public void Echoes_on_io_uring_and_says_so() => EchoOn("io_uring", "backend io_uring (TCP on completions");

    private void EchoOn(string backend, string expected)
    {
        int port = SampleProcess.FreePort();
        using var run = SampleProcess.Start("EchoServer", ["--port", port.ToString(), "--loops", "1", "--backend", backend, "--no-watchdog"]);
        try
        {
            run.Until(() => run.Lines.Any(l => l.Contains("listening on")), "the server to listen");
            Assert.Contains(run.Lines, l => l.Contains("listening on") && l.Contains(expected));
            Assert.Equal("hello over " + backend, SampleProcess.Echo(port, "hello over " + backend));
            var big = new string('x', 200_000); // more than one read and one send
            Assert.Equal(big, SampleProcess.Echo(port, big));
            run.Signal(SampleProcess.SigTerm);
            Assert.Equal(0, run.WaitForExit());
            Assert.Contains(run.Lines, l => l.StartsWith("EchoServer stopped after", StringComparison.Ordinal) && l.Contains("2 connections"));
        }
        finally
        {
            output.WriteLine(run.Output);
        }
    }
}
