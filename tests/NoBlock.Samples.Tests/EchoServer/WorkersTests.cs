using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
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
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);

    private const int SigTerm = 15;

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    [Fact]
    public void Workers_share_the_port_a_killed_worker_is_restarted_and_SIGTERM_stops_them_all()
    {
        int port = FreePort();
        var lines = new ConcurrentQueue<string>();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { EchoServerDll(), "--workers", "2", "--port", port.ToString(), "--no-watchdog" })
        {
            psi.ArgumentList.Add(a);
        }
        using var supervisor = Process.Start(psi)!;
        supervisor.OutputDataReceived += (_, e) => { if (e.Data is not null) { lines.Enqueue(e.Data); } };
        supervisor.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lines.Enqueue(e.Data); } };
        supervisor.BeginOutputReadLine();
        supervisor.BeginErrorReadLine();
        var workerPids = new HashSet<int>();
        try
        {
            Until(() => lines.Count(l => l.Contains("listening on")) >= 2, "two workers listening", lines);
            foreach (Match m in StartedPid().Matches(string.Join('\n', lines)))
            {
                workerPids.Add(int.Parse(m.Groups[1].Value));
            }
            Assert.Equal(2, workerPids.Count);
            Assert.Equal("hello", Echo(port, "hello"));

            int victim = workerPids.First();
            Process.GetProcessById(victim).Kill();
            Until(() => lines.Any(l => l.Contains($"(pid {victim}) exited")) && lines.Count(l => l.Contains("listening on")) >= 3,
                "the supervisor to restart the killed worker", lines);
            foreach (Match m in StartedPid().Matches(string.Join('\n', lines)))
            {
                workerPids.Add(int.Parse(m.Groups[1].Value));
            }
            Assert.Equal(3, workerPids.Count);
            Assert.Equal("again", Echo(port, "again"));

            Assert.Equal(0, kill(supervisor.Id, SigTerm));
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
            if (!supervisor.HasExited)
            {
                supervisor.Kill();
            }
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

    private static string Echo(int port, string text)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = (int)Long.TotalMilliseconds };
        s.Connect(new IPEndPoint(IPAddress.Loopback, port));
        var bytes = System.Text.Encoding.ASCII.GetBytes(text);
        s.Send(bytes);
        var buf = new byte[bytes.Length];
        int got = 0;
        while (got < buf.Length)
        {
            int n = s.Receive(buf, got, buf.Length - got, SocketFlags.None);
            if (n == 0)
            {
                break;
            }
            got += n;
        }
        return System.Text.Encoding.ASCII.GetString(buf, 0, got);
    }

    private static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    private static void Until(Func<bool> condition, string what, ConcurrentQueue<string> lines)
    {
        var deadline = DateTime.UtcNow + Long;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"Timed out waiting for: {what}. Output:\n{string.Join('\n', lines)}");
            }
            Thread.Sleep(20);
        }
    }

    /// <summary>The EchoServer built beside this test (same configuration; the project reference builds it first).</summary>
    private static string EchoServerDll()
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));   // …/tests/NoBlock.Samples.Tests/bin/<Configuration>/<tfm>
        string tfm = baseDir.Name, configuration = baseDir.Parent!.Name;
        var root = baseDir;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "NoBlock.sln")))
        {
            root = root.Parent;
        }
        Assert.NotNull(root);
        var dll = Path.Combine(root!.FullName, "samples", "EchoServer", "bin", configuration, tfm, "EchoServer.dll");
        Assert.True(File.Exists(dll), $"{dll} is not built");
        return dll;
    }
}
