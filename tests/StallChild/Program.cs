using System.Runtime.CompilerServices;
using NoBlock;

namespace StallChild;

/// <summary>
/// <c>StallChild shutdown-return|shutdown-exit</c>: stalls its loop (a sleep two calls down) with stack capture on and,
/// once the capture's session is recording (its reader thread, "NoBlock capture reader", is running), ends the process while the loop
/// thread is still stuck: by returning from Main, or by Environment.Exit. Prints "capture in flight" first.
/// <c>StallChild report</c>: stalls once and prints the first report and the end report, then exits.
/// <c>StallChild report-no-port</c>: the same after deleting its own diagnostics socket
/// (<c>$TMPDIR/dotnet-diagnostic-&lt;pid&gt;-*-socket</c>), so that the port cannot be reached.
/// Exit codes: 0 done; 2 bad arguments; 3 what was waited for never came (30 s).
/// </summary>
internal static class Program
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    private static volatile bool s_release;

    private static int Main(string[] args)
    {
        string mode = args.Length == 1 ? args[0] : "";
        if (mode is not ("shutdown-return" or "shutdown-exit" or "report" or "report-no-port"))
        {
            Console.Error.WriteLine("usage: StallChild shutdown-return|shutdown-exit|report|report-no-port");
            return 2;
        }
        if (mode == "report-no-port")
        {
            foreach (var socket in Directory.GetFiles(Path.GetTempPath(), $"dotnet-diagnostic-{Environment.ProcessId}-*-socket"))
            {
                File.Delete(socket);
                Console.WriteLine("deleted the diagnostics socket");
            }
        }
        var stalled = new ManualResetEventSlim();
        var ended = new ManualResetEventSlim();
        var loop = new EventLoop(new EventLoopOptions
        {
            Name = "child",
            StallThreshold = TimeSpan.FromMilliseconds(50),
            OnStall = r =>
            {
                Console.WriteLine(r.ToString());
                (r.Phase == StallPhase.Stalled ? stalled : r.Phase == StallPhase.Ended ? ended : null)?.Set();
            },
            Watchdog = { CaptureStack = true, StackCaptureTimeout = Long, MaxReportsPerMinute = 1000 },
        });
        // Background: a process may end with its loop thread stuck in a handler.
        var thread = new Thread(loop.Run) { IsBackground = true, Name = "loop 'child'" };
        thread.Start();
        loop.Post(Handler);
        if (mode.StartsWith("report", StringComparison.Ordinal))
        {
            bool reported = stalled.Wait(Long);
            s_release = true;
            if (!reported || !ended.Wait(Long))
            {
                Console.WriteLine("no report");
                return 3;
            }
            loop.Stop();
            thread.Join();
            loop.Dispose();
            return 0;
        }
        var deadline = DateTime.UtcNow + Long;
        while (!SessionReaderRunning())
        {
            if (DateTime.UtcNow > deadline)
            {
                Console.WriteLine("no capture seen");
                return 3;
            }
            Thread.Sleep(1);
        }
        Console.WriteLine("capture in flight");
        Console.Out.Flush();
        if (mode == "shutdown-exit")
        {
            Environment.Exit(0);
        }
        return 0; // the runtime shuts down with the loop thread stuck and the session recording
    }

    /// <summary>
    /// The capture's session reader runs (started once the session is, it reads the stream until the rundown's end):
    /// a thread of this process whose OS name (the managed name cut to 15 bytes) is "NoBlock capture".
    /// </summary>
    private static bool SessionReaderRunning()
    {
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n') == "NoBlock capture")
                {
                    return true;
                }
            }
            catch (IOException)
            {
                // the thread ended while we looked
            }
        }
        return false;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Handler() => Parse();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Parse() => Lookup();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Lookup()
    {
        while (!s_release)
        {
            Thread.Sleep(20);
        }
    }
}
