using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using NoBlock;
using NoBlock.Samples;
using NoBlock.Tcp;

namespace EchoServer;

/// <summary>
/// A TCP echo server on NoBlock's EventLoop: one loop per thread, one SO_REUSEPORT listener per loop; with
/// <c>--workers N</c>, N such processes under a supervisor, nginx-style.
/// <c>dotnet run -c Release --project samples/EchoServer -- --port 5000 [--edge-triggered] [--loops N] [--workers N] [--backend epoll|io_uring|prefer-io_uring] [--no-watchdog]</c>
/// (<c>--help</c> lists the options: <see cref="CommandLine"/>).
/// </summary>
internal static class Program
{
    private static int Main(string[] args) => CommandLines.Run(CommandLine.Create(Run), args);

    private static int Run(Options options, IReadOnlyList<string> workerArgs)
    {
        if (options.Workers > 0)
        {
            return Supervisor.Run(options.Workers, workerArgs);
        }
        if (options.WorkerIndex >= 0)
        {
            Supervisor.DieWithParent();
            if (options.Loops == 0)
            {
                options.Loops = 1; // nginx's worker: one single-threaded loop per process
            }
        }

        EventLoopGroup group;
        try
        {
            group = new EventLoopGroup(options.Loops, new EventLoopOptions
            {
                Name = options.WorkerIndex >= 0 ? $"echo-w{options.WorkerIndex}" : "echo",
                // An infinite threshold turns the watchdog off (EventLoopGroup passes the threshold on to every loop).
                StallThreshold = options.NoWatchdog ? Timeout.InfiniteTimeSpan : new EventLoopOptions().StallThreshold,
                Backend = options.Backend,
            });
        }
        catch (PlatformNotSupportedException ex) // --backend io_uring where io_uring is unavailable: the reason, and the way out
        {
            Console.Error.WriteLine($"EchoServer: --backend io_uring: {ex.Message}");
            return 1;
        }
        using var _ = group;
        var stats = group.Loops.Select(_ => new LoopStats()).ToArray();
        IPEndPoint bound;
        try
        {
            bound = Listen(group, options, stats);
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            Console.Error.WriteLine($"EchoServer: cannot listen on {options.Address}:{options.Port}: {ex.Message}");
            return 1;
        }

        using var stop = new ManualResetEventSlim();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.Set(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Set(); });

        // SIGUSR1 prints the counters so far (the benchmark uses two snapshots to measure steady-state allocations).
        using var sigusr1 = PosixSignalRegistration.Create((PosixSignal)SigUsr1, ctx =>
        {
            ctx.Cancel = true;
            Console.WriteLine($"stats: reads {stats.Sum(s => s.Reads)} allocated {GC.GetTotalAllocatedBytes(precise: true)} open {stats.Sum(s => s.Open)}");
            Console.Out.Flush();
        });

        // SIGUSR2 prints what the kernel holds for each loop's sockets (EventLoop.GetSocketDiagnostics) and how long
        // asking took; a separate signal so that SIGUSR1's allocation snapshots stay free of it.
        using var sigusr2 = PosixSignalRegistration.Create((PosixSignal)SigUsr2, ctx =>
        {
            ctx.Cancel = true;
            foreach (var loop in group.Loops)
            {
                long t0 = Stopwatch.GetTimestamp();
                var d = loop.GetSocketDiagnostics();
                var ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                Console.WriteLine($"sockets: loop '{loop.Name}': {d} (asked in {ms:0.0} ms)");
            }
            Console.Out.Flush();
        });

        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        group.Start();
        var worker = options.WorkerIndex >= 0 ? $"worker {options.WorkerIndex} (pid {Environment.ProcessId}) " : "";
        Console.WriteLine($"EchoServer {worker}listening on {bound} ({group.Loops.Count} loop(s), {(options.EdgeTriggered ? "edge" : "level")}-triggered, {Describe(group.Loops[0].Backend)}, watchdog {(options.NoWatchdog ? "off" : "on")}); Ctrl+C to stop");
        Console.Out.Flush();

        stop.Wait();
        group.Stop();
        clock.Stop();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        long accepted = stats.Sum(s => s.Accepted), reads = stats.Sum(s => s.Reads), bytes = stats.Sum(s => s.BytesIn), errors = stats.Sum(s => s.Errors);
        Console.WriteLine(
            $"EchoServer stopped after {clock.Elapsed.TotalSeconds:0.0} s: {accepted} connections, {reads} reads, {bytes} bytes echoed, " +
            $"{errors} connections reset or failed, CPU {cpu.TotalSeconds:0.00} s, allocated {allocated} bytes ({(reads > 0 ? (double)allocated / reads : 0):0.###} B/read), " +
            $"GC gen0/1/2 {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}");
        return 0;
    }

    /// <summary>The backend the loops got, as the startup line says it (io_uring: what the TCP layer does on it today).</summary>
    private static string Describe(EventLoopBackend backend) => backend == EventLoopBackend.IoUring
        ? "backend io_uring (TCP on completions: bounded single-shot accepts, multishot receive, sends on the ring)"
        : "backend epoll";

    private static IPEndPoint Listen(EventLoopGroup group, Options options, LoopStats[] stats)
    {
        // Workers of one supervisor share the port on purpose; a lone server wants "port in use" if it is taken.
        var serverOptions = new TcpServerOptions { EdgeTriggered = options.EdgeTriggered, Backlog = 4096, ReusePort = options.WorkerIndex >= 0 };
        return group.Listen(new IPEndPoint(options.Address, options.Port), () =>
        {
            // The factory runs on the accepting loop's thread: each loop counts into its own stats, unshared.
            var s = stats[CurrentLoopIndex(group)];
            return new EchoConnection(s);
        }, serverOptions);
    }

    /// <summary>SIGUSR1 on Linux (PosixSignal takes raw signal numbers for signals it does not name).</summary>
    private const int SigUsr1 = 10;

    /// <summary>SIGUSR2 on Linux.</summary>
    private const int SigUsr2 = 12;

    [ThreadStatic]
    private static int t_loopIndex;

    [ThreadStatic]
    private static bool t_loopIndexKnown;

    private static int CurrentLoopIndex(EventLoopGroup group)
    {
        if (!t_loopIndexKnown)
        {
            for (int i = 0; i < group.Loops.Count; i++)
            {
                if (group.Loops[i].IsOnLoopThread)
                {
                    t_loopIndex = i;
                    break;
                }
            }
            t_loopIndexKnown = true;
        }
        return t_loopIndex;
    }
}
