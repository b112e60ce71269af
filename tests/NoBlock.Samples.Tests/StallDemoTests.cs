using System.Text.RegularExpressions;
using Xunit;

namespace NoBlock.Samples.Tests;

/// <summary>
/// samples/StallDemo run as a user runs it: the first alert of each stall names the method and the line of
/// samples/StallDemo/Server.cs that stalled the loop (the lines are read from the source, not written here).
/// </summary>
public sealed class StallDemoTests
{
    private static string[] ServerSource()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "NoBlock.sln")))
        {
            dir = dir.Parent;
        }
        Assert.NotNull(dir);
        return File.ReadAllLines(Path.Combine(dir!.FullName, "samples", "StallDemo", "Server.cs"));
    }

    /// <summary>The 1-based line of the only source line containing <paramref name="text"/>.</summary>
    private static int LineOf(string[] source, string text)
    {
        var lines = source.Select((l, i) => (l, i)).Where(x => x.l.Contains(text, StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count == 1, $"'{text}' is on {lines.Count} lines of Server.cs");
        return lines[0].i + 1;
    }

    private static string FirstAlert(string output, string handler)
    {
        var alert = output.Split('\n').FirstOrDefault(l => l.Contains("loop 'main' stalled ", StringComparison.Ordinal) && l.Contains($"in {handler} ", StringComparison.Ordinal));
        Assert.True(alert is not null, $"no first alert for {handler}. Output:\n{output}");
        return alert!;
    }

    [Fact]
    public void The_first_alert_of_each_stall_names_the_method_and_line_that_stalled_the_loop()
    {
        var source = ServerSource();
        int sleep = LineOf(source, "Thread.Sleep(StallLength);");
        // The spin: its loop, or the statement after it (optimized code maps an address to the nearest IL offset the
        // JIT recorded: docs/watchdog.md, "Limits").
        int spinFrom = LineOf(source, "while (clock.Elapsed < StallLength)");
        int spinTo = LineOf(source, "Send(e.Fd, Encoding.ASCII.GetBytes($\"{sum:x16}\\n\"));");

        var (code, output) = SampleProcess.Run("StallDemo");
        Assert.True(code == 0, $"exit code {code}. Output:\n{output}");

        var lookup = FirstAlert(output, "Server.OnLookup");
        Assert.Contains($"Server.OnLookup (Server.cs:{sleep})", lookup);
        Assert.Contains("at [Thread.Sleep] ← Server.OnLookup", lookup);

        var checksum = FirstAlert(output, "Server.OnChecksum");
        // A CPU-bound spin may be sampled inside a runtime or BCL method it calls (Stopwatch.Elapsed, the JIT's GC poll
        // Thread.PollGC): the alert then names that callee in brackets before the user frame, as it does Thread.Sleep.
        var at = Regex.Match(checksum, @"; at (\[[^\]]+\] ← )?Server\.OnChecksum \(Server\.cs:(\d+)\)");
        Assert.True(at.Success, checksum);
        int line = int.Parse(at.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(line >= spinFrom && line <= spinTo, $"line {line} is not in the spin (lines {spinFrom}-{spinTo}): {checksum}");
    }
}
