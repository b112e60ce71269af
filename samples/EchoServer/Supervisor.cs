using System.Diagnostics;
using System.Runtime.InteropServices;

namespace EchoServer;

/// <summary>
/// <c>--workers N</c>: nginx's master process. Starts N worker processes of this same program (each a normal
/// EchoServer with its own loop(s) and its own <c>SO_REUSEPORT</c> listener on the same port, so the kernel spreads
/// connections over the processes), restarts a worker that dies, and stops them all on Ctrl+C or SIGTERM.
/// Processes instead of threads because one process may hold only so many fds (<c>RLIMIT_NOFILE</c>): N processes
/// hold N times as many connections.
/// </summary>
internal static class Supervisor
{
    /// <summary>How often the supervisor looks at its workers (and at a stop request). 100 ms: a dead worker's port share is back within a tenth of a second plus its start-up.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Most restarts of one worker slot per <see cref="RestartWindow"/>. 5 a minute: a worker that crashes on a bad
    /// request comes back; one that crashes at start-up (port taken, bad flag) is given up on instead of being
    /// restarted forever in a tight loop.
    /// </summary>
    private const int MaxRestartsPerWindow = 5;

    private static readonly TimeSpan RestartWindow = TimeSpan.FromMinutes(1);

    /// <summary>Wait before a restart: a worker that dies at once must not turn the supervisor into a fork loop.</summary>
    private static readonly TimeSpan RestartDelay = TimeSpan.FromMilliseconds(500);

    /// <summary>How long workers get to exit after SIGTERM before they are killed.</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    private const int SigTerm = 15, SigKill = 9;

    /// <summary>Tells a worker its supervisor's pid, so it can tell whether it was orphaned before it asked to die with it.</summary>
    private const string SupervisorPidVariable = "NOBLOCK_ECHO_SUPERVISOR_PID";

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    /// <summary>Runs the supervisor until Ctrl+C/SIGTERM; returns the exit code.</summary>
    /// <param name="workers">Worker processes to keep running.</param>
    /// <param name="workerArgs">Arguments for each worker (this program's own, without <c>--workers</c>).</param>
    public static int Run(int workers, IReadOnlyList<string> workerArgs)
    {
        using var stop = new ManualResetEventSlim();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.Set(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Set(); });

        var slots = new Slot[workers];
        for (int i = 0; i < workers; i++)
        {
            slots[i] = new Slot(i);
        }
        Console.WriteLine($"EchoServer supervisor pid {Environment.ProcessId}: starting {workers} worker process(es); Ctrl+C to stop all");
        Console.Out.Flush();
        // Every worker is started from this (main) thread, which lives as long as the supervisor: the workers'
        // "die with the parent" signal (PR_SET_PDEATHSIG, set by each worker) is tied to the thread that forked them.
        foreach (var slot in slots)
        {
            slot.Start(workerArgs);
        }
        int givenUp = 0;
        while (!stop.Wait(PollInterval))
        {
            foreach (var slot in slots)
            {
                if (slot.Process is null || !slot.Process.HasExited)
                {
                    if (slot.Process is null && slot.RestartAt is { } at && DateTime.UtcNow >= at)
                    {
                        slot.RestartAt = null;
                        slot.Start(workerArgs);
                    }
                    continue;
                }
                int code = slot.Process.ExitCode;
                int pid = slot.Process.Id;
                slot.Process.Dispose();
                slot.Process = null;
                if (slot.TryTakeRestart())
                {
                    Console.WriteLine($"EchoServer supervisor: worker {slot.Index} (pid {pid}) exited with code {code}; restarting in {RestartDelay.TotalMilliseconds:0} ms");
                    slot.RestartAt = DateTime.UtcNow + RestartDelay;
                }
                else
                {
                    givenUp++;
                    Console.WriteLine($"EchoServer supervisor: worker {slot.Index} (pid {pid}) exited with code {code}, its {MaxRestartsPerWindow + 1}th exit within {RestartWindow.TotalSeconds:0} s; not restarting it");
                }
                Console.Out.Flush();
            }
            if (givenUp == workers)
            {
                Console.WriteLine("EchoServer supervisor: every worker was given up on; exiting");
                return 1;
            }
        }

        Console.WriteLine("EchoServer supervisor: stopping workers");
        Console.Out.Flush();
        foreach (var slot in slots)
        {
            if (slot.Process is { HasExited: false } p)
            {
                kill(p.Id, SigTerm);
            }
        }
        var deadline = DateTime.UtcNow + StopGrace;
        foreach (var slot in slots)
        {
            if (slot.Process is not { } p)
            {
                continue;
            }
            var left = deadline - DateTime.UtcNow;
            if (!p.WaitForExit(left > TimeSpan.Zero ? left : TimeSpan.Zero))
            {
                kill(p.Id, SigKill);
                p.WaitForExit();
            }
            p.Dispose();
        }
        Console.WriteLine("EchoServer supervisor: all workers stopped");
        return 0;
    }

    private sealed class Slot(int index)
    {
        private readonly Queue<DateTime> _restarts = new();

        public int Index { get; } = index;
        public Process? Process { get; set; }
        public DateTime? RestartAt { get; set; }

        public void Start(IReadOnlyList<string> workerArgs)
        {
            var psi = new ProcessStartInfo { FileName = Environment.ProcessPath!, UseShellExecute = false };
            // Under `dotnet EchoServer.dll`, ProcessPath is dotnet itself: pass the assembly first.
            var entry = Environment.GetCommandLineArgs()[0];
            if (entry.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            {
                psi.ArgumentList.Add(entry);
            }
            foreach (var a in workerArgs)
            {
                psi.ArgumentList.Add(a);
            }
            psi.Environment[SupervisorPidVariable] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
            psi.ArgumentList.Add("--worker-index");
            psi.ArgumentList.Add(Index.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Process = Process.Start(psi) ?? throw new InvalidOperationException("could not start a worker process");
            Console.WriteLine($"EchoServer supervisor: worker {Index} started, pid {Process.Id}");
            Console.Out.Flush();
        }

        public bool TryTakeRestart()
        {
            var now = DateTime.UtcNow;
            while (_restarts.Count > 0 && now - _restarts.Peek() > RestartWindow)
            {
                _restarts.Dequeue();
            }
            if (_restarts.Count >= MaxRestartsPerWindow)
            {
                return false;
            }
            _restarts.Enqueue(now);
            return true;
        }
    }

    /// <summary>In a worker: ask the kernel to SIGTERM us if the supervisor dies (even by SIGKILL), so no worker outlives it.</summary>
    public static void DieWithParent()
    {
        const int PR_SET_PDEATHSIG = 1;
        prctl(PR_SET_PDEATHSIG, SigTerm, 0, 0, 0);
        // The supervisor may have died before the prctl: then we were re-parented and nobody would signal us.
        if (int.TryParse(Environment.GetEnvironmentVariable(SupervisorPidVariable), out int supervisor) && getppid() != supervisor)
        {
            Console.Error.WriteLine("EchoServer worker: the supervisor is gone; exiting");
            Environment.Exit(0);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int prctl(int option, nint arg2, nint arg3, nint arg4, nint arg5);

    [DllImport("libc")]
    private static extern int getppid();
}
