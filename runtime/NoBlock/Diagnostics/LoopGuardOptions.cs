using System.Diagnostics;
using System.Reflection;

namespace NoBlock;

/// <summary>
/// Runtime guards (<see cref="EventLoopOptions.Guards"/>): checks on the loop thread that catch what the analyzers
/// cannot see statically. Each costs something per dispatch, so each is on by default only when the application's
/// entry assembly is a Debug build (JIT optimizer disabled).
/// </summary>
public sealed class LoopGuardOptions
{
    /// <summary>
    /// After an edge-triggered handler returns, check whether it left bytes unread (<c>FIONREAD</c>) or, for a
    /// listener, connections unaccepted (a zero-timeout <c>poll</c>): epoll will not report them again. One
    /// syscall per edge-triggered dispatch. Default: on in Debug builds.
    /// </summary>
    public bool EdgeTriggeredLeftovers { get; set; } = IsDebugBuild;

    /// <summary>
    /// Report synchronous task waits (<c>.Result</c>, <c>.Wait()</c>, <c>GetAwaiter().GetResult()</c> on an
    /// unfinished task) on the loop thread, with the managed stack, from the TPL event source's
    /// <c>TaskWaitBegin</c>. Listening to that source costs every task in the process a little. Default: on in
    /// Debug builds.
    /// </summary>
    public bool SyncWaits { get; set; } = IsDebugBuild;

    /// <summary>
    /// Called on the watchdog thread with each guard finding. With no callback and no
    /// <see cref="EventLoopOptions.Logger"/>, findings go to standard error.
    /// </summary>
    public Action<GuardReport>? OnReport { get; set; }

    /// <summary>Findings per loop per minute, per guard, before the rest are only counted. Default 5.</summary>
    public int MaxReportsPerMinute { get; set; } = 5;

    /// <summary>True when the process's entry assembly was compiled without optimizations (a Debug build).</summary>
    public static bool IsDebugBuild { get; } = DetectDebugBuild();

    private static bool DetectDebugBuild()
    {
        try
        {
            var attr = Assembly.GetEntryAssembly()?.GetCustomAttribute<DebuggableAttribute>();
            return attr is not null && attr.IsJITOptimizerDisabled;
        }
        catch (Exception)
        {
            return false;
        }
    }
}

/// <summary>Which runtime guard made a <see cref="GuardReport"/>.</summary>
public enum LoopGuard
{
    /// <summary>An edge-triggered handler returned with data (or connections) left: it will not be told again.</summary>
    EdgeTriggeredLeftover,

    /// <summary>A synchronous wait on an unfinished task ran on the loop thread.</summary>
    SyncWait,
}

/// <summary>A finding of a runtime guard. <see cref="ToString"/> is the one-line alert (plus the stack, for waits).</summary>
public sealed class GuardReport
{
    internal GuardReport(LoopGuard guard, string loopName, string handler, int fd, long unreadBytes, string? stackTrace, int suppressed = 0)
    {
        Guard = guard;
        LoopName = loopName;
        Handler = handler;
        Fd = fd;
        UnreadBytes = unreadBytes;
        StackTrace = stackTrace;
        SuppressedCount = suppressed;
    }

    /// <summary>Which guard.</summary>
    public LoopGuard Guard { get; }

    /// <summary>The loop's name.</summary>
    public string LoopName { get; }

    /// <summary>The handler that was running: declaring type and method.</summary>
    public string Handler { get; }

    /// <summary>The handler's fd, or -1 for posted work and timers.</summary>
    public int Fd { get; }

    /// <summary>Edge-triggered leftovers: bytes unread (<c>FIONREAD</c>); -1 when the fd is readable but cannot say how much (a listener with pending connections).</summary>
    public long UnreadBytes { get; }

    /// <summary>Sync waits: the managed stack of the waiting call, innermost first.</summary>
    public string? StackTrace { get; }

    /// <summary>When nonzero, this is a summary: that many findings of this guard were dropped by the per-minute limit.</summary>
    public int SuppressedCount { get; }

    /// <summary>The alert: one line, followed by the stack for a sync wait.</summary>
    public override string ToString()
    {
        if (SuppressedCount > 0)
        {
            return $"NoBlock: loop '{LoopName}': suppressed {SuppressedCount} {Guard} finding(s) in the last minute";
        }
        if (Guard == LoopGuard.EdgeTriggeredLeftover)
        {
            return UnreadBytes >= 0
                ? $"NoBlock: loop '{LoopName}': {Handler} returned with {UnreadBytes} bytes unread on fd {Fd}; epoll will not report it again (edge-triggered: read until EAGAIN, NB0003)"
                : $"NoBlock: loop '{LoopName}': {Handler} returned with fd {Fd} still readable (connections not accepted); epoll will not report it again (edge-triggered: accept until EAGAIN, NB0004)";
        }
        var where = Fd >= 0 ? $" (fd {Fd})" : "";
        return $"NoBlock: loop '{LoopName}': synchronous wait on an unfinished task in {Handler}{where} blocks the loop (NB0001; await it or Offload the work){Environment.NewLine}{StackTrace}";
    }
}
