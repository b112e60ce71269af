using System.Diagnostics;

namespace NoBlock;

/// <summary>
/// The default report of a handler failure when nobody else is told (no <see cref="EventLoopOptions.Logger"/>, no
/// <see cref="EventLoopOptions.OnHandlerException"/>): one line to standard error, at most N a minute, the rest
/// counted and the count written with the next line. Written on the loop thread, and on pool threads for the faults
/// of <see cref="EventLoop.OffloadAndReport"/> work that ends after the loop is disposed: the window is kept under a lock.
/// </summary>
internal sealed class HandlerFaultLines
{
    private static readonly long Window = Stopwatch.Frequency * 60;

    private readonly Func<TextWriter> _writer;
    private readonly object _gate = new();
    private long _windowStart;
    private int _written;
    private int _suppressed;

    /// <param name="writer">Where lines go; null for <see cref="Console.Error"/> (looked up at each write, so a redirected stderr is honoured).</param>
    public HandlerFaultLines(Func<TextWriter>? writer = null) => _writer = writer ?? (static () => Console.Error);

    public void Write(HandlerFault fault, HandlerExceptionPolicy policy, int perMinute)
    {
        string line;
        lock (_gate)
        {
            long now = Stopwatch.GetTimestamp();
            if (_written == 0 || now - _windowStart >= Window)
            {
                _windowStart = now;
                _written = 0;
            }
            if (_written >= perMinute)
            {
                _suppressed++;
                return;
            }
            _written++;
            line = Format(fault, policy, _suppressed);
            _suppressed = 0;
        }
        try
        {
            _writer().WriteLine(line);
        }
        catch (Exception)
        {
            // stderr closed: nowhere left to say it
        }
    }

    /// <summary>"NoBlock: loop 'x': handler Server.OnReadable on fd 12 threw InvalidOperationException: boom at Server.Parse; registration closed (…)".</summary>
    internal static string Format(HandlerFault fault, HandlerExceptionPolicy policy, int suppressedBefore)
    {
        var ex = fault.Exception;
        var where = fault.Fd >= 0 ? $"handler {fault.Handler} on fd {fault.Fd}" : $"{fault.Handler}";
        var outcome = policy == HandlerExceptionPolicy.StopLoop
            ? "the loop stops (HandlerExceptionPolicy.StopLoop)"
            : fault.Fd >= 0 ? "its registration was closed" : "the loop goes on";
        var top = InnermostFrame(ex);
        var earlier = suppressedBefore > 0 ? $" ({suppressedBefore} more handler failures in the last minute were not shown)" : "";
        return $"NoBlock: loop '{fault.LoopName}': {where} threw {ex.GetType().Name}: {ex.Message}{top}; {outcome}. " +
               $"Set EventLoopOptions.Logger or OnHandlerException to handle it (HandlerFaultsToStandardError = false silences this line).{earlier}";
    }

    private static string InnermostFrame(Exception ex)
    {
        var trace = ex.StackTrace;
        if (string.IsNullOrEmpty(trace))
        {
            return "";
        }
        int end = trace.IndexOf('\n');
        var first = (end < 0 ? trace : trace[..end]).Trim();
        return first.Length == 0 ? "" : " " + first;
    }
}
