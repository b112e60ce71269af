using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace NoBlock;

/// <summary>Settings for an <see cref="EventLoop"/>.</summary>
public sealed class EventLoopOptions
{
    /// <summary>The loop's name, in logs, metrics (tag <c>noblock.loop.name</c>), stall reports and the thread name.</summary>
    public string Name { get; set; } = "loop";

    /// <summary>How long a handler may run before the stall watchdog reports it. Default 100 ms.</summary>
    public TimeSpan StallThreshold { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Called (on the watchdog's thread) when a stall is detected.</summary>
    public Action<StallReport>? OnStall { get; set; }

    /// <summary>How the stall watchdog reports: per-minute limit, escalation, end reports, quiet under a debugger (docs/watchdog.md).</summary>
    public StallWatchdogOptions Watchdog { get; set; } = new();

    /// <summary>Runtime guards: edge-triggered leftovers and synchronous waits on the loop thread (on by default in Debug builds).</summary>
    public LoopGuardOptions Guards { get; set; } = new();

    /// <summary>Where the loop logs handler failures and other trouble. Null: nothing is logged.</summary>
    public ILogger? Logger { get; set; }

    /// <summary>
    /// Where the loop's instruments (meter <c>NoBlock</c>: <c>noblock.loop.stalls</c>, <c>.handler.duration</c>,
    /// <c>.lag</c>, <c>.utilization</c>, <c>.events</c>) are created. Null (the default): on one process-wide meter
    /// named <c>NoBlock</c>. A factory (a host's <see cref="IMeterFactory"/>, which NoBlock.Hosting passes): on the
    /// meter <c>NoBlock</c> that factory makes, owned and disposed by it, so metrics are scoped to that host and a test
    /// can observe them with <c>MetricCollector</c>. Meter and instrument names are the same either way.
    /// </summary>
    public IMeterFactory? MeterFactory { get; set; }

    /// <summary>What happens when a handler throws. Default: <see cref="HandlerExceptionPolicy.CloseRegistration"/>.</summary>
    public HandlerExceptionPolicy HandlerExceptionPolicy { get; set; } = HandlerExceptionPolicy.CloseRegistration;

    /// <summary>Called on the loop thread with every handler failure, whatever the policy. Must not throw or block.</summary>
    public Action<HandlerFault>? OnHandlerException { get; set; }

    /// <summary>
    /// With neither <see cref="Logger"/> nor <see cref="OnHandlerException"/> set, write each handler failure as one
    /// line to standard error (at most <see cref="StandardErrorFaultsPerMinute"/> a minute; the rest are counted and
    /// the count is written with the next line). Default true: a failing handler never goes unnoticed. False: silence.
    /// </summary>
    public bool HandlerFaultsToStandardError { get; set; } = true;

    /// <summary>Most handler-failure lines written to standard error per minute (see <see cref="HandlerFaultsToStandardError"/>). Default 10.</summary>
    public int StandardErrorFaultsPerMinute { get; set; } = 10;

    /// <summary>Tests: where the standard-error lines go instead of <see cref="Console.Error"/> (Console.SetError is process-wide).</summary>
    internal Func<TextWriter>? FaultWriter { get; set; }

    /// <summary>
    /// The kernel mechanism the loop waits with: <see cref="EventLoopBackend.Epoll"/> (the default),
    /// <see cref="EventLoopBackend.IoUring"/> (throws where io_uring is unavailable) or
    /// <see cref="EventLoopBackend.PreferIoUring"/> (io_uring if available, else epoll with a notice).
    /// <see cref="EventLoop.Backend"/> says which one a loop got.
    /// </summary>
    public EventLoopBackend Backend { get; set; } = EventLoopBackend.Epoll;

    /// <summary>
    /// Most readiness events fetched by one <c>epoll_wait</c> (the size of the loop's reusable event buffer).
    /// Default 256: large enough that a busy loop needs few syscalls, small enough that the events of one turn
    /// are dispatched before timers and posted work get their next chance.
    /// </summary>
    public int MaxEventsPerPoll { get; set; } = 256;

    /// <summary>
    /// Most posted actions run per loop turn. Default 1024: work posted while the batch runs waits for the next
    /// turn, so a thread that posts in a tight loop cannot starve I/O.
    /// </summary>
    public int MaxPostedPerTurn { get; set; } = 1024;

    /// <summary>
    /// A copy of every setting under another name: what <see cref="Tcp.EventLoopGroup"/> gives each of its loops.
    /// The nested <see cref="Watchdog"/> and <see cref="Guards"/> settings and the callbacks are shared, not copied.
    /// </summary>
    internal EventLoopOptions WithName(string name)
    {
        var copy = (EventLoopOptions)MemberwiseClone();
        copy.Name = name;
        return copy;
    }
}
