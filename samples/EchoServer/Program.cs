using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using NoBlock;
using NoBlock.Tcp;

namespace EchoServer;

/// <summary>
/// A TCP echo server on NoBlock's EventLoop: one loop per thread, one SO_REUSEPORT listener per loop; with
/// <c>--workers N</c>, N such processes under a supervisor, nginx-style.
/// <c>dotnet run -c Release --project samples/EchoServer -- --port 5000 [--edge-triggered] [--loops N] [--workers N] [--no-watchdog]</c>
/// </summary>
internal static class Program
{
    private const string Usage = """
        usage: EchoServer [--port N] [--address IP] [--loops N] [--workers N] [--edge-triggered] [--no-watchdog] [--help]

          --port N          TCP port to listen on (default 5000; 0 picks a free port, not with --workers)
          --address IP      address to bind (default 127.0.0.1)
          --loops N         event loops, one thread each, one SO_REUSEPORT listener each (default: one per core;
                            one per worker process with --workers)
          --workers N       nginx-style: a supervisor starts N worker processes of this program, each with its own
                            loop(s) and SO_REUSEPORT listener(s) on the same port (the kernel spreads connections
                            over them); a worker that dies is restarted (at most 5 times a minute per worker);
                            Ctrl+C or SIGTERM to the supervisor stops them all. Processes, not threads, because one
                            process may hold only RLIMIT_NOFILE fds: N workers hold N times as many connections.
          --edge-triggered  register sockets with EPOLLET instead of level-triggered
          --no-watchdog     run without the stall watchdog (on by default: a handler running past 100 ms is
                            reported on standard error, with what piled up in the kernel meanwhile when it ends)

        Serves until Ctrl+C or SIGTERM, then prints a one-line summary. SIGUSR1 prints counters; SIGUSR2 prints each
        loop's socket diagnostics (receive/send/accept queues: EventLoop.GetSocketDiagnostics).
        """;

    private static int Main(string[] args)
    {
        if (!TryParse(args, out var options, out var error))
        {
            Console.Error.WriteLine($"EchoServer: {error}");
            Console.Error.WriteLine(Usage);
            return 2;
        }
        if (options.Help)
        {
            Console.WriteLine(Usage);
            return 0;
        }
        if (options.Workers > 0)
        {
            if (options.Port == 0)
            {
                Console.Error.WriteLine("EchoServer: --workers needs a fixed --port (the workers must share one port)");
                return 2;
            }
            return Supervisor.Run(options.Workers, WithoutWorkers(args));
        }
        if (options.WorkerIndex >= 0)
        {
            Supervisor.DieWithParent();
            if (options.Loops == 0)
            {
                options.Loops = 1; // nginx's worker: one single-threaded loop per process
            }
        }

        using var group = new EventLoopGroup(options.Loops, new EventLoopOptions
        {
            Name = options.WorkerIndex >= 0 ? $"echo-w{options.WorkerIndex}" : "echo",
            // An infinite threshold turns the watchdog off (EventLoopGroup passes the threshold on to every loop).
            StallThreshold = options.NoWatchdog ? Timeout.InfiniteTimeSpan : new EventLoopOptions().StallThreshold,
        });
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
        Console.WriteLine($"EchoServer {worker}listening on {bound} ({group.Loops.Count} loop(s), {(options.EdgeTriggered ? "edge" : "level")}-triggered, watchdog {(options.NoWatchdog ? "off" : "on")}); Ctrl+C to stop");
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

    /// <summary>The worker's arguments: the supervisor's own, without <c>--workers N</c>.</summary>
    private static List<string> WithoutWorkers(string[] args)
    {
        var result = new List<string>(args.Length);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--workers")
            {
                i++;
                continue;
            }
            result.Add(args[i]);
        }
        return result;
    }

    private static IPEndPoint Listen(EventLoopGroup group, Options options, LoopStats[] stats)
    {
        var serverOptions = new TcpServerOptions { EdgeTriggered = options.EdgeTriggered, Backlog = 4096 };
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

    private sealed class Options
    {
        public int Port = 5000;
        public IPAddress Address = IPAddress.Loopback;
        public int Loops;
        public bool EdgeTriggered;
        public bool NoWatchdog;
        public int Workers;
        public int WorkerIndex = -1;
        public bool Help;
    }

    private static bool TryParse(string[] args, out Options options, out string error)
    {
        options = new Options();
        error = "";
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string? Value()
            {
                if (i + 1 >= args.Length)
                {
                    return null;
                }
                return args[++i];
            }
            switch (arg)
            {
                case "--port":
                    if (!int.TryParse(Value(), out options.Port) || options.Port is < 0 or > 65535)
                    {
                        error = "--port needs a number from 0 to 65535";
                        return false;
                    }
                    break;
                case "--address":
                    if (!IPAddress.TryParse(Value() ?? "", out var address))
                    {
                        error = "--address needs an IP address such as 127.0.0.1";
                        return false;
                    }
                    options.Address = address;
                    break;
                case "--loops":
                    if (!int.TryParse(Value(), out options.Loops) || options.Loops is < 1 or > 1024)
                    {
                        error = "--loops needs a number from 1 to 1024";
                        return false;
                    }
                    break;
                case "--workers":
                    if (!int.TryParse(Value(), out options.Workers) || options.Workers is < 1 or > 256)
                    {
                        error = "--workers needs a number from 1 to 256";
                        return false;
                    }
                    break;
                case "--worker-index": // set by the supervisor for its workers
                    if (!int.TryParse(Value(), out options.WorkerIndex) || options.WorkerIndex < 0)
                    {
                        error = "--worker-index is set by the supervisor (--workers)";
                        return false;
                    }
                    break;
                case "--edge-triggered":
                    options.EdgeTriggered = true;
                    break;
                case "--no-watchdog":
                    options.NoWatchdog = true;
                    break;
                case "--help" or "-h":
                    options.Help = true;
                    break;
                default:
                    error = $"unknown argument '{arg}'";
                    return false;
            }
        }
        return true;
    }
}
