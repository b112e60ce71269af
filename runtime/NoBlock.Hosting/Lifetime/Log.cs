using Microsoft.Extensions.Logging;

namespace NoBlock.Hosting.Lifetime;

/// <summary>NoBlock.Hosting's own log events (category <c>NoBlock.Hosting</c>); docs/hosting.md lists them.</summary>
internal static partial class Log
{
    public const string Category = "NoBlock.Hosting";

    [LoggerMessage(EventId = 2001, EventName = "LoopStarted", Level = LogLevel.Debug,
        Message = "Loop {LoopName} is running on its own thread")]
    public static partial void LoopStarted(ILogger logger, string loopName);

    [LoggerMessage(EventId = 2002, EventName = "LoopStopped", Level = LogLevel.Debug,
        Message = "Loop {LoopName} stopped and was released (its connections closed)")]
    public static partial void LoopStopped(ILogger logger, string loopName);

    [LoggerMessage(EventId = 2003, EventName = "LoopFaulted", Level = LogLevel.Critical,
        Message = "Loop {LoopName} stopped on an unhandled exception; stopping the application (exit code {ExitCode})")]
    public static partial void LoopFaulted(ILogger logger, Exception exception, string loopName, int exitCode);

    [LoggerMessage(EventId = 2004, EventName = "LoopStopTimedOut", Level = LogLevel.Error,
        Message = "Loop {LoopName} did not stop within {TimeoutMs} ms (a handler is still running, or blocked): it is left running and not released")]
    public static partial void LoopStopTimedOut(ILogger logger, string loopName, double timeoutMs);
}
