using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace NoBlock.Samples.Tests.EchoServer;

/// <summary>
/// <c>EchoServer --workers N</c> as a user runs it: real processes on a real port. The supervisor starts N workers
/// that share the port, restarts one that is killed, and stops them all on SIGTERM. Waits are generous and nothing
/// asserts how long anything took; every process the test causes is stopped by PID in any case.
/// </summary>
public sealed partial class WorkersTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Long = SampleProcess.Long;

    [Fact]
    public void Workers_share_the_port_a_killed_worker_is_restarted_and_SIGTERM_stops_them_all()
    {
        int port = SampleProcess.FreePort();
        using var run = SampleProcess.Start("EchoServer", ["--workers", "2", "--port", port.ToString(), "--no-watchdog"]);
        var supervisor = run.Process;
        var lines = run.Lines;
        var workerPids = new HashSet<int>();
        try
        {
            run.Until(() => lines.Count(l => l.Contains("listening on")) >= 2, "two workers listening");
            foreach (Match m in StartedPid().Matches(string.Join('\n', lines)))
            {
                workerPids.Add(int.Parse(m.Groups[1].Value));
            }
            Assert.Equal(2, workerPids.Count);
            Assert.Equal("hello", SampleProcess.Echo(port, "hello"));

            int victim = workerPids.First();
            Process.GetProcessById(victim).Kill();
            run.Until(() => lines.Any(l => l.Contains($"(pid {victim}) exited")) && lines.Count(l => l.Contains("listening on")) >= 3,
                "the supervisor to restart the killed worker");
            foreach (Match m in StartedPid().Matches(string.Join('\n', lines)))
            {
                workerPids.Add(int.Parse(m.Groups[1].Value));
            }
            Assert.Equal(3, workerPids.Count);
            Assert.Equal("again", SampleProcess.Echo(port, "again"));

            run.Signal(SampleProcess.SigTerm);
            Assert.True(supervisor.WaitForExit(Long), "the supervisor did not exit after SIGTERM");
            supervisor.WaitForExit(); // flush the redirected output
            Assert.Equal(0, supervisor.ExitCode);
            Assert.Contains(lines, l => l.Contains("all workers stopped"));
            Assert.Equal(2, lines.Count(l => l.StartsWith("EchoServer stopped after", StringComparison.Ordinal)));
            foreach (var pid in workerPids)
            {
                Assert.False(IsAlive(pid), $"worker pid {pid} outlived the supervisor");
            }
        }
        finally
        {
            output.WriteLine(string.Join('\n', lines));
            foreach (var pid in workerPids.Where(IsAlive))
            {
                try
                {
                    Process.GetProcessById(pid).Kill();
                }
                catch (ArgumentException)
                {
                    // already gone
                }
            }
        }
    }

    [GeneratedRegex(@"worker \d+ started, pid (\d+)")]
    private static partial Regex StartedPid();

    private static bool IsAlive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
