using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace NoBlock.Samples.Tests.HostedEcho;

/// <summary>
/// samples/HostedEcho as a user runs it, a real process on a real port: it echoes, SIGTERM stops it with exit code 0
/// (the host closes the connections), and a handler fault under the StopLoop policy stops it with exit code 1 and the
/// fault logged — not a crash.
/// </summary>
public sealed partial class HostedEchoTests(ITestOutputHelper output)
{
    [Fact]
    public void It_echoes_and_SIGTERM_stops_it_with_exit_code_0_closing_the_connections()
    {
        using var run = SampleProcess.Start("HostedEcho", ["--port", "0", "--loops", "2"]);
        try
        {
            int port = ListeningPort(run);
            using var client = Connect(port);
            Assert.Equal("hello", SampleProcess.Echo(client, "hello"));

            run.Signal(SampleProcess.SigTerm);
            Assert.Equal(0, run.WaitForExit());
            Assert.Equal(0, client.Receive(new byte[1])); // closed by the host's stop, not by the process dying
            Assert.Contains(run.Lines, l => l.Contains("HostedEcho stopping: 1 connections, 5 bytes echoed"));
            Assert.DoesNotContain(run.Lines, l => l.Contains("crit:") || l.Contains("Unhandled exception"));
        }
        finally
        {
            output.WriteLine(run.Output);
        }
    }

    [Fact]
    public void A_handler_fault_under_StopLoop_stops_it_with_exit_code_1_and_the_fault_logged()
    {
        using var run = SampleProcess.Start("HostedEcho", ["--port", "0", "--loops", "1", "--fault-on", "boom"],
            new Dictionary<string, string> { ["NoBlock__Loops__echo__HandlerExceptionPolicy"] = "StopLoop" });
        try
        {
            using var client = Connect(ListeningPort(run));
            Assert.Equal("fine", SampleProcess.Echo(client, "fine"));
            client.Send("boom"u8.ToArray());
            Assert.Equal(1, run.WaitForExit());
            Assert.Contains(run.Lines, l => l.Contains("crit: NoBlock.Hosting[2003] Loop echo-0 stopped on an unhandled exception; stopping the application (exit code 1)"));
            Assert.Contains(run.Lines, l => l.Contains("Application is shutting down"));
            Assert.DoesNotContain(run.Lines, l => l.Contains("Unhandled exception"));
        }
        finally
        {
            output.WriteLine(run.Output);
        }
    }

    [Fact]
    public void Under_the_default_policy_the_same_fault_closes_only_that_connection()
    {
        using var run = SampleProcess.Start("HostedEcho", ["--port", "0", "--loops", "1", "--fault-on", "boom"]);
        try
        {
            int port = ListeningPort(run);
            using (var bad = Connect(port))
            {
                bad.Send("boom"u8.ToArray());
                Assert.Equal(0, bad.Receive(new byte[1]));
            }
            Assert.Equal("still here", SampleProcess.Echo(port, "still here"));
            run.Signal(SampleProcess.SigTerm);
            Assert.Equal(0, run.WaitForExit());
        }
        finally
        {
            output.WriteLine(run.Output);
        }
    }

    [Fact]
    public void A_port_in_use_is_a_clear_start_failure()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var (code, text) = SampleProcess.Run("HostedEcho", "--port", ((IPEndPoint)taken.LocalEndPoint!).Port.ToString());
        Assert.Equal(1, code);
        Assert.Contains("HostedEcho: cannot listen on 127.0.0.1:", text);
        Assert.DoesNotContain("Unhandled exception", text);
    }

    [Fact]
    public void A_bad_setting_in_the_environment_is_a_clear_start_failure()
    {
        using var run = SampleProcess.Start("HostedEcho", ["--port", "0"], new Dictionary<string, string> { ["NoBlock__Loops__echo__StallThreshold"] = "fast" });
        Assert.Equal(1, run.WaitForExit());
        Assert.Contains("NoBlock:Loops:echo:StallThreshold = 'fast' is not a duration", run.Output);
    }

    private static int ListeningPort(SampleProcess run)
    {
        run.Until(() => run.Lines.Any(l => Listening().IsMatch(l)), "HostedEcho to listen");
        return int.Parse(Listening().Match(run.Lines.First(l => Listening().IsMatch(l))).Groups[1].Value);
    }

    private static Socket Connect(int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = (int)SampleProcess.Long.TotalMilliseconds };
        s.Connect(new IPEndPoint(IPAddress.Loopback, port));
        return s;
    }

    [GeneratedRegex(@"HostedEcho listening on 127\.0\.0\.1:(\d+)")]
    private static partial Regex Listening();
}
