using Xunit;

namespace NoBlock.Samples.Tests;

/// <summary>Every sample's command line (System.CommandLine) as a user meets it: --help works, a bad value is a clear error, exit code 2.</summary>
public sealed class CommandLineTests
{
    [Theory]
    [InlineData("EchoServer", "--edge-triggered")]
    [InlineData("EchoServer", "--backend <epoll|io_uring|prefer-io_uring>")]
    [InlineData("HostedEcho", "--fault-on")]
    [InlineData("StallDemo", "Usage:")]
    [InlineData("Multiplexing", "--max-fds")]
    public void Help_lists_the_options_and_exits_0(string sample, string expected)
    {
        var (code, output) = SampleProcess.Run(sample, "--help");
        Assert.Equal(0, code);
        Assert.Contains(expected, output);
    }

    [Theory]
    [InlineData("EchoServer", new[] { "--port", "70000" }, "EchoServer: --port 70,000 is out of range: 0..65,535")]
    [InlineData("EchoServer", new[] { "--loops", "many" }, "EchoServer: --loops 'many' is not a whole number")]
    [InlineData("EchoServer", new[] { "--address", "localhost" }, "EchoServer: --address 'localhost' is not an IP address")]
    [InlineData("EchoServer", new[] { "--workers", "2", "--port", "0" }, "EchoServer: --workers needs a fixed --port")]
    [InlineData("EchoServer", new[] { "--backend", "kqueue" }, "EchoServer: --backend 'kqueue' is not one of epoll, io_uring, prefer-io_uring")]
    [InlineData("EchoServer", new[] { "--backend", "IoUring" }, "EchoServer: --backend 'IoUring' is not one of epoll, io_uring, prefer-io_uring")]
    [InlineData("EchoServer", new[] { "--frob" }, "EchoServer: Unrecognized command or argument '--frob'")]
    [InlineData("HostedEcho", new[] { "--port", "-1" }, "HostedEcho: --port '-1' is not a whole number")]
    [InlineData("HostedEcho", new[] { "--loops", "0" }, "HostedEcho: --loops 0 is out of range: 1..1,024")]
    [InlineData("StallDemo", new[] { "--fast" }, "StallDemo: Unrecognized command or argument '--fast'")]
    [InlineData("Multiplexing", new[] { "--iterations", "0" }, "error: --iterations 0 is out of range: 1..1,000,000")]
    public void A_bad_argument_is_a_clear_error_with_exit_code_2(string sample, string[] args, string expected)
    {
        var (code, output) = SampleProcess.Run(sample, args);
        Assert.Equal(2, code);
        Assert.Contains(expected, output);
        Assert.Contains("--help", output);
        Assert.DoesNotContain("Unhandled exception", output);
    }
}
