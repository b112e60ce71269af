using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using NoBlock;
using NoBlock.Samples;

namespace EchoServer;

/// <summary>EchoServer's command line (System.CommandLine): the options, their checks, and the worker processes' arguments.</summary>
internal static class CommandLine
{
    /// <summary>The command; its action calls <paramref name="run"/> with the options and the arguments a worker gets.</summary>
    public static RootCommand Create(Func<Options, IReadOnlyList<string>, int> run)
    {
        var port = CommandLines.Number("--port", 0, 65535, "TCP port to listen on (default 5000; 0 picks a free port, not with --workers)");
        var address = CommandLines.Address("--address", "address to bind (default 127.0.0.1)");
        var loops = CommandLines.Number("--loops", 1, 1024, "event loops, one thread each, one SO_REUSEPORT listener each (default: one per core; one per worker process with --workers)");
        var workers = CommandLines.Number("--workers", 1, 256, "nginx-style: a supervisor starts N worker processes of this program, each with its own loop(s) and SO_REUSEPORT " +
                "listener(s) on the same port (the kernel spreads connections over them); a worker that dies is restarted (at most 5 " +
                "times a minute per worker); Ctrl+C or SIGTERM to the supervisor stops them all. Processes, not threads, because one " +
                "process may hold only RLIMIT_NOFILE fds: N workers hold N times as many connections.");
        var workerIndex = CommandLines.Number("--worker-index", 0, int.MaxValue, "set by the supervisor for its workers (--workers)", "set by the supervisor (--workers)");
        workerIndex.Hidden = true;
        var edgeTriggered = new Option<bool>("--edge-triggered") { Description = "register sockets with EPOLLET instead of level-triggered" };
        var backend = new Option<EventLoopBackend?>("--backend")
        {
            HelpName = "epoll|io_uring|prefer-io_uring",
            Description = "what the loops wait with (default epoll). io_uring needs Linux 6.0+ and io_uring allowed (the server says why not and exits 1); " +
                "prefer-io_uring falls back to epoll with one line on standard error. On io_uring the TCP layer uses completion I/O " +
                "(bounded single-shot accepts, multishot receive into a provided-buffer ring, sends on the ring; docs/io_uring.md)",
            Arity = ArgumentArity.ExactlyOne,
            CustomParser = result =>
            {
                var text = result.Tokens.Single().Value;
                if (ParseBackend(text) is { } value)
                {
                    return value;
                }
                result.AddError($"--backend '{text}' is not one of epoll, io_uring, prefer-io_uring");
                return null;
            },
        };
        var noWatchdog = new Option<bool>("--no-watchdog")
        {
            Description = "run without the stall watchdog (on by default: a handler running past 100 ms is reported on standard error, " +
                "with what piled up in the kernel meanwhile when it ends)",
        };
        var command = new RootCommand(
            "A TCP echo server on NoBlock's EventLoop: one loop per thread, one SO_REUSEPORT listener per loop; with --workers N, N such " +
            "processes under a supervisor, nginx-style. Serves until Ctrl+C or SIGTERM, then prints a one-line summary. SIGUSR1 prints " +
            "counters; SIGUSR2 prints each loop's socket diagnostics (receive/send/accept queues: EventLoop.GetSocketDiagnostics). " +
            "Exit codes: 0 stopped; 1 cannot listen, io_uring demanded where it is unavailable, or every worker was given up on; 2 bad arguments.")
        {
            port, address, loops, workers, workerIndex, edgeTriggered, backend, noWatchdog,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(workers) is not null && result.GetValue(port) == 0)
            {
                result.AddError("--workers needs a fixed --port (the workers must share one port)");
            }
        });
        command.SetAction(parsed =>
        {
            var options = new Options
            {
                Port = parsed.GetValue(port) ?? 5000,
                Address = parsed.GetValue(address) ?? IPAddress.Loopback,
                Loops = parsed.GetValue(loops) ?? 0,
                Workers = parsed.GetValue(workers) ?? 0,
                WorkerIndex = parsed.GetValue(workerIndex) ?? -1,
                EdgeTriggered = parsed.GetValue(edgeTriggered),
                NoWatchdog = parsed.GetValue(noWatchdog),
                Backend = parsed.GetValue(backend) ?? EventLoopBackend.Epoll,
            };
            return run(options, WithoutWorkers(parsed, workers));
        });
        return command;
    }

    /// <summary>The command line's names of the backends (the kernel's spelling, io_uring), or null.</summary>
    internal static EventLoopBackend? ParseBackend(string text) => text switch
    {
        "epoll" => EventLoopBackend.Epoll,
        "io_uring" => EventLoopBackend.IoUring,
        "prefer-io_uring" => EventLoopBackend.PreferIoUring,
        _ => null,
    };

    /// <summary>What <see cref="ParseBackend"/> reads, for messages.</summary>
    internal static string BackendName(EventLoopBackend backend) => backend switch
    {
        EventLoopBackend.IoUring => "io_uring",
        EventLoopBackend.PreferIoUring => "prefer-io_uring",
        _ => "epoll",
    };

    /// <summary>A worker's arguments: the supervisor's own, token by token, without <c>--workers N</c> (in any spelling).</summary>
    private static List<string> WithoutWorkers(ParseResult parsed, Option<int?> workers)
    {
        var skip = new HashSet<Token>(ReferenceEqualityComparer.Instance);
        if (parsed.GetResult(workers) is { } result)
        {
            if (result.IdentifierToken is { } id)
            {
                skip.Add(id);
            }
            skip.UnionWith(result.Tokens);
        }
        return parsed.Tokens.Where(t => !skip.Contains(t)).Select(t => t.Value).ToList();
    }
}

/// <summary>What the command line asked for.</summary>
internal sealed class Options
{
    public int Port = 5000;
    public IPAddress Address = IPAddress.Loopback;
    public int Loops;
    public bool EdgeTriggered;
    public bool NoWatchdog;
    public EventLoopBackend Backend = EventLoopBackend.Epoll;
    public int Workers;
    public int WorkerIndex = -1;
}
