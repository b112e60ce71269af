using Microsoft.Extensions.Logging;

namespace NoBlock;

/// <summary>
/// Every log event the runtime writes, source-generated (<c>[LoggerMessage]</c>): one documented event id per event
/// (the table in docs/watchdog.md, "Log events"), a message template with named holes, and the same property name
/// for the same thing in every event — <c>LoopName</c>, <c>Handler</c>, <c>Fd</c> (-1: posted work or a timer),
/// <c>Events</c>, <c>ElapsedMs</c>, <c>Verdict</c>, <c>Syscall</c>, … Ids are grouped: 1–9 the stall watchdog,
/// 10–19 the runtime guards, 20–29 the loop, 30–39 the TCP listeners.
/// </summary>
/// <remarks>
/// Holes that may have nothing to say get the word <c>none</c> rather than null, so that a rendered message still
/// reads and a query on the property needs no null case.
/// </remarks>
internal static partial class RuntimeLog
{
    /// <summary>The value of a hole with nothing to say.</summary>
    public const string None = "none";

    // ---- The stall watchdog (1–9) --------------------------------------------------------------------------------

    [LoggerMessage(EventId = 1, EventName = "LoopStalled", Level = LogLevel.Warning,
        Message = "Loop {LoopName} stalled {ElapsedMs} ms in {Handler} on fd {Fd} ({Events}): {Verdict}; syscall {Syscall}, managed wait {ManagedWait}; " +
                  "observed {ObservedMs} ms: {CpuMs} ms on CPU, {RunQueueMs} ms waiting for a CPU, {SleepMs} ms asleep, thread state {ThreadState}; threshold {ThresholdMs} ms; {Stack}")]
    public static partial void LoopStalled(this ILogger logger, string loopName, long elapsedMs, string handler, int fd, string events, StallKind verdict,
        string syscall, string managedWait, long observedMs, long cpuMs, long runQueueMs, long sleepMs, string threadState, long thresholdMs, string stack);

    [LoggerMessage(EventId = 2, EventName = "LoopStillStalled", Level = LogLevel.Warning,
        Message = "Loop {LoopName} still stalled, {ElapsedMs} ms in {Handler} on fd {Fd} ({Events}): {Verdict}; syscall {Syscall}, managed wait {ManagedWait}; " +
                  "observed {ObservedMs} ms: {CpuMs} ms on CPU, {RunQueueMs} ms waiting for a CPU, {SleepMs} ms asleep, thread state {ThreadState}; threshold {ThresholdMs} ms")]
    public static partial void LoopStillStalled(this ILogger logger, string loopName, long elapsedMs, string handler, int fd, string events, StallKind verdict,
        string syscall, string managedWait, long observedMs, long cpuMs, long runQueueMs, long sleepMs, string threadState, long thresholdMs);

    [LoggerMessage(EventId = 3, EventName = "LoopStallEnded", Level = LogLevel.Information,
        Message = "Loop {LoopName} stall ended after {ElapsedMs} ms in {Handler} on fd {Fd} ({Events}), stalled at {StalledAt}, last verdict {Verdict}; syscall {Syscall}; what piled up: {SocketCost}")]
    public static partial void LoopStallEnded(this ILogger logger, string loopName, long elapsedMs, string handler, int fd, string events, string stalledAt, StallKind verdict,
        string syscall, string socketCost);

    [LoggerMessage(EventId = 4, EventName = "StallReportsSuppressed", Level = LogLevel.Warning,
        Message = "Loop {LoopName}: suppressed {SuppressedCount} stall report(s) in the last {WindowSeconds} s (limit {MaxReports} per window)")]
    public static partial void StallReportsSuppressed(this ILogger logger, string loopName, int suppressedCount, double windowSeconds, int maxReports);

    // ---- The runtime guards (10–19) ------------------------------------------------------------------------------

    [LoggerMessage(EventId = 10, EventName = "EdgeTriggeredBytesLeft", Level = LogLevel.Warning,
        Message = "Loop {LoopName}: {Handler} returned with {UnreadBytes} bytes unread on fd {Fd}; epoll will not report it again (edge-triggered: read until EAGAIN, {Rule})")]
    public static partial void EdgeTriggeredBytesLeft(this ILogger logger, string loopName, string handler, long unreadBytes, int fd, string rule);

    [LoggerMessage(EventId = 11, EventName = "EdgeTriggeredConnectionsLeft", Level = LogLevel.Warning,
        Message = "Loop {LoopName}: {Handler} returned with fd {Fd} still readable (connections not accepted); epoll will not report it again (edge-triggered: accept until EAGAIN, {Rule})")]
    public static partial void EdgeTriggeredConnectionsLeft(this ILogger logger, string loopName, string handler, int fd, string rule);

    [LoggerMessage(EventId = 12, EventName = "SyncWaitOnLoopThread", Level = LogLevel.Warning,
        Message = "Loop {LoopName}: synchronous wait on an unfinished task in {Handler} on fd {Fd} blocks the loop ({Rule}; await it or Offload the work); stack: {StackTrace}")]
    public static partial void SyncWaitOnLoopThread(this ILogger logger, string loopName, string handler, int fd, string rule, string stackTrace);

    [LoggerMessage(EventId = 13, EventName = "GuardFindingsSuppressed", Level = LogLevel.Warning,
        Message = "Loop {LoopName}: suppressed {SuppressedCount} {Guard} finding(s) in the last {WindowSeconds} s (limit {MaxReports} per window, or the delivery queue was full)")]
    public static partial void GuardFindingsSuppressed(this ILogger logger, string loopName, int suppressedCount, LoopGuard guard, double windowSeconds, int maxReports);

    // ---- The loop (20–29) ----------------------------------------------------------------------------------------

    [LoggerMessage(EventId = 20, EventName = "HandlerFaulted", Level = LogLevel.Error,
        Message = "Loop {LoopName}: handler {Handler} on fd {Fd} threw; policy {Policy}")]
    public static partial void HandlerFaulted(this ILogger logger, Exception exception, string loopName, string handler, int fd, HandlerExceptionPolicy policy);

    [LoggerMessage(EventId = 21, EventName = "HandlerFaultCloseFailed", Level = LogLevel.Error,
        Message = "Loop {LoopName}: closing fd {Fd} after handler {Handler} threw failed")]
    public static partial void HandlerFaultCloseFailed(this ILogger logger, Exception exception, string loopName, int fd, string handler);

    [LoggerMessage(EventId = 22, EventName = "HandlerFaultCallbackFailed", Level = LogLevel.Error,
        Message = "Loop {LoopName}: EventLoopOptions.OnHandlerException threw while told about handler {Handler} on fd {Fd}")]
    public static partial void HandlerFaultCallbackFailed(this ILogger logger, Exception exception, string loopName, string handler, int fd);

    [LoggerMessage(EventId = 23, EventName = "DisposeReleaseFailed", Level = LogLevel.Warning,
        Message = "Loop {LoopName}: releasing fd {Fd} on Dispose failed")]
    public static partial void DisposeReleaseFailed(this ILogger logger, Exception exception, string loopName, int fd);

    [LoggerMessage(EventId = 24, EventName = "LoopRunFailed", Level = LogLevel.Critical,
        Message = "Loop {LoopName} stopped on an exception")]
    public static partial void LoopRunFailed(this ILogger logger, Exception exception, string loopName);

    [LoggerMessage(EventId = 25, EventName = "LoopFaultedHandlerFailed", Level = LogLevel.Error,
        Message = "Loop {LoopName}: an EventLoopGroup.LoopFaulted handler threw while told that the loop stopped on an exception")]
    public static partial void LoopFaultedHandlerFailed(this ILogger logger, Exception exception, string loopName);

    [LoggerMessage(EventId = 26, EventName = "BackendFallback", Level = LogLevel.Warning,
        Message = "Loop {LoopName}: io_uring is unavailable ({Reason}); the loop uses epoll (EventLoopOptions.Backend = {Backend})")]
    public static partial void BackendFallback(this ILogger logger, string loopName, string reason, EventLoopBackend backend);

    // ---- TCP listeners (30–39) -----------------------------------------------------------------------------------

    [LoggerMessage(EventId = 30, EventName = "AcceptFailed", Level = LogLevel.Error,
        Message = "Loop {LoopName}: listener {EndPoint} on fd {Fd}: {Syscall} failed: {Error}")]
    public static partial void AcceptFailed(this ILogger logger, string loopName, string endPoint, int fd, string syscall, string error);

    [LoggerMessage(EventId = 31, EventName = "AcceptPaused", Level = LogLevel.Warning,
        Message = "Loop {LoopName}: listener {EndPoint} on fd {Fd} is out of file descriptors ({Error}); accepting paused for {PauseMs} ms")]
    public static partial void AcceptPaused(this ILogger logger, string loopName, string endPoint, int fd, string error, long pauseMs);
}
