using System.Diagnostics;
using Xunit;

namespace NoBlock.Tests.Diagnostics;

/// <summary>
/// Stack capture where only a process of its own can show it (tests/StallChild): the process ends while a capture's
/// session is recording, and a capture where diagnostics are off or the port cannot be reached. The child is waited
/// for at most a minute (then killed by PID and the test fails); nothing asserts how long anything took.
/// </summary>
public sealed class CaptureProcessTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);

    private static (int ExitCode, string Output) RunChild(string mode, IDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(ChildDll());
        psi.ArgumentList.Add(mode);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[key] = value;
        }
        using var p = Process.Start(psi)!;
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(Long))
        {
            p.Kill();
            throw new Xunit.Sdk.XunitException($"StallChild {mode} did not exit (killed). Output:\n{string.Join('\n', output)}");
        }
        p.WaitForExit(); // flush the redirected output
        // A capture writes nothing to disk, so a process that ended during one leaves nothing behind either.
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), $"noblock-stack-{p.Id}-*"));
        return (p.ExitCode, string.Join('\n', output));
    }

    /// <summary>…/tests/NoBlock.Tests/bin/&lt;Configuration&gt;/&lt;tfm&gt; → …/tests/StallChild/bin/&lt;Configuration&gt;/&lt;tfm&gt;/StallChild.dll.</summary>
    private static string ChildDll()
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        string tfm = baseDir.Name, configuration = baseDir.Parent!.Name;
        string tests = baseDir.Parent!.Parent!.Parent!.Parent!.FullName;
        var dll = Path.Combine(tests, "StallChild", "bin", configuration, tfm, "StallChild.dll");
        Assert.True(File.Exists(dll), $"{dll} is not built");
        return dll;
    }

    [Theory]
    [InlineData("shutdown-return")]
    [InlineData("shutdown-exit")]
    public void The_process_exits_cleanly_while_a_capture_is_recording(string mode)
    {
        var (code, output) = RunChild(mode);
        Assert.Contains("capture in flight", output);
        Assert.True(code == 0, $"exit code {code}. Output:\n{output}");
    }

    [Fact]
    public void Diagnostics_disabled_gives_stack_unavailable_and_the_rest_of_the_report()
    {
        var (code, output) = RunChild("report", new Dictionary<string, string> { ["DOTNET_EnableDiagnostics"] = "0" });
        Assert.True(code == 0, $"exit code {code}. Output:\n{output}");
        Assert.Contains("loop 'child' stalled", output);
        Assert.Contains("in Program.Handler", output);
        Assert.Contains("; stack unavailable: diagnostics are disabled (DOTNET_EnableDiagnostics=0)", output);
        Assert.Contains("loop 'child' stall ended", output);
    }

    [Fact]
    public void An_unreachable_diagnostics_port_gives_stack_unavailable_and_the_rest_of_the_report()
    {
        var (code, output) = RunChild("report-no-port");
        Assert.True(code == 0, $"exit code {code}. Output:\n{output}");
        Assert.Contains("deleted the diagnostics socket", output);
        Assert.Contains("; stack unavailable: the diagnostics port is unavailable (", output);
        Assert.Contains("loop 'child' stall ended", output);
    }

    [Fact]
    public void With_diagnostics_on_the_child_reports_its_stack()
    {
        // The control for the two above: the same child, nothing disabled, names its inner methods in order.
        var (code, output) = RunChild("report");
        Assert.True(code == 0, $"exit code {code}. Output:\n{output}");
        Assert.Contains("Program.Lookup (Program.cs:", output);
        Assert.Matches(@"Program\.Lookup \(Program\.cs:\d+\) ← Program\.Parse \(Program\.cs:\d+\)", output);
    }
}
