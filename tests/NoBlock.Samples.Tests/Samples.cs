using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Xunit;

namespace NoBlock.Samples.Tests;

/// <summary>
/// Runs a sample as a user does, as a process (<c>dotnet Sample.dll args</c>), from the build beside this test
/// (same configuration; the project references build them first). Waits are generous and nothing asserts how long
/// anything took; a process a test starts is killed by PID in any case.
/// </summary>
internal sealed class SampleProcess : IDisposable
{
    public static readonly TimeSpan Long = TimeSpan.FromSeconds(60);

    public const int SigTerm = 15;

    private readonly ConcurrentQueue<string> _lines = new();

    private SampleProcess(string sample, IEnumerable<string> args, IDictionary<string, string>? environment)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Dll(sample));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[key] = value;
        }
        Process = System.Diagnostics.Process.Start(psi)!;
        Process.OutputDataReceived += (_, e) => { if (e.Data is not null) { _lines.Enqueue(e.Data); } };
        Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { _lines.Enqueue(e.Data); } };
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public IReadOnlyCollection<string> Lines => _lines;

    public string Output => string.Join('\n', _lines);

    public static SampleProcess Start(string sample, IEnumerable<string> args, IDictionary<string, string>? environment = null) => new(sample, args, environment);

    /// <summary>Runs to the end; returns the exit code.</summary>
    public static (int ExitCode, string Output) Run(string sample, params string[] args)
    {
        using var p = Start(sample, args);
        return (p.WaitForExit(), p.Output);
    }

    public int WaitForExit()
    {
        if (!Process.WaitForExit(Long))
        {
            throw new Xunit.Sdk.XunitException($"The sample did not exit. Output:\n{Output}");
        }
        Process.WaitForExit(); // flush the redirected output
        return Process.ExitCode;
    }

    public void Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Long;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline || Process.HasExited && !condition())
            {
                throw new Xunit.Sdk.XunitException($"{(Process.HasExited ? "The sample exited" : "Timed out")} waiting for: {what}. Output:\n{Output}");
            }
            Thread.Sleep(20);
        }
    }

    public void Signal(int signal) => Assert.Equal(0, kill(Process.Id, signal));

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill();
        }
        Process.Dispose();
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    /// <summary>The sample's dll built beside this test: …/samples/&lt;Sample&gt;/bin/&lt;Configuration&gt;/&lt;tfm&gt;/&lt;Sample&gt;.dll.</summary>
    public static string Dll(string sample)
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));   // …/tests/NoBlock.Samples.Tests/bin/<Configuration>/<tfm>
        string tfm = baseDir.Name, configuration = baseDir.Parent!.Name;
        var root = baseDir;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "NoBlock.sln")))
        {
            root = root.Parent;
        }
        Assert.NotNull(root);
        var dll = Path.Combine(root!.FullName, "samples", sample, "bin", configuration, tfm, sample + ".dll");
        Assert.True(File.Exists(dll), $"{dll} is not built");
        return dll;
    }

    public static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    public static string Echo(int port, string text)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = (int)Long.TotalMilliseconds };
        s.Connect(new IPEndPoint(IPAddress.Loopback, port));
        return Echo(s, text);
    }

    public static string Echo(Socket s, string text)
    {
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
}
