using System.Collections;
using Microsoft.Extensions.Logging;

namespace NoBlock.Diagnostics;

/// <summary>
/// A stall report as structured log state: each field a named property (what Serilog, OpenTelemetry and the
/// JSON console formatter turn into fields), the one-line alert as the message.
/// </summary>
internal sealed class StallLogState : IReadOnlyList<KeyValuePair<string, object?>>
{
    public static readonly EventId StalledEventId = new(1, "LoopStalled");
    public static readonly EventId EndedEventId = new(2, "LoopStallEnded");
    public static readonly EventId SuppressedEventId = new(3, "StallReportsSuppressed");
    public static readonly EventId GuardEventId = new(4, "LoopGuardFinding");

    private readonly StallReport _report;
    private readonly KeyValuePair<string, object?>[] _fields;

    public StallLogState(StallReport report)
    {
        _report = report;
        _fields =
        [
            new("LoopName", report.LoopName),
            new("Phase", report.Phase.ToString()),
            new("ElapsedMs", Math.Round(report.Elapsed.TotalMilliseconds)),
            new("Handler", report.Handler),
            new("Fd", report.Fd),
            new("Events", StallReport.DescribeEvents(report.Events)),
            new("Kind", report.Kind.ToString()),
            new("Blocked", report.Blocked),
            new("Syscall", report.Syscall),
            new("ManagedWait", report.ManagedWait),
            new("ThreadState", report.ThreadState.ToString()),
            new("CpuMs", Math.Round(report.CpuTime.TotalMilliseconds)),
            new("RunQueueMs", Math.Round(report.RunQueueDelay.TotalMilliseconds)),
            new("ThresholdMs", Math.Round(report.Threshold.TotalMilliseconds)),
            new("SuppressedCount", report.SuppressedCount),
            new("Message", report.ToString()),
            new("{OriginalFormat}", "{Message}"),
        ];
    }

    public static EventId EventIdFor(StallPhase phase) => phase switch
    {
        StallPhase.Ended => EndedEventId,
        StallPhase.Suppressed => SuppressedEventId,
        _ => StalledEventId,
    };

    public int Count => _fields.Length;

    public KeyValuePair<string, object?> this[int index] => _fields[index];

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)_fields).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => _report.ToString();
}

/// <summary>A guard finding as structured log state.</summary>
internal sealed class GuardLogState : IReadOnlyList<KeyValuePair<string, object?>>
{
    private readonly GuardReport _report;
    private readonly KeyValuePair<string, object?>[] _fields;

    public GuardLogState(GuardReport report)
    {
        _report = report;
        _fields =
        [
            new("LoopName", report.LoopName),
            new("Guard", report.Guard.ToString()),
            new("Handler", report.Handler),
            new("Fd", report.Fd),
            new("UnreadBytes", report.UnreadBytes),
            new("StackTrace", report.StackTrace),
            new("SuppressedCount", report.SuppressedCount),
            new("Message", report.ToString()),
            new("{OriginalFormat}", "{Message}"),
        ];
    }

    public int Count => _fields.Length;

    public KeyValuePair<string, object?> this[int index] => _fields[index];

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)_fields).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => _report.ToString();
}
