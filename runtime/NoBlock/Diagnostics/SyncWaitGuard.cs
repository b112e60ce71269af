using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Text;

namespace NoBlock.Diagnostics;

/// <summary>
/// Catches <c>.Result</c>, <c>.Wait()</c> and <c>GetAwaiter().GetResult()</c> on an unfinished task on a loop thread
/// (BlockHound's idea, for .NET): an in-process listener on the TPL event source, whose <c>TaskWaitBegin</c> with
/// synchronous behaviour is raised on the waiting thread itself, before it blocks — so the stack taken there is the
/// real stack of the wait, and the loop's <see cref="LoopActivity"/> names the handler.
/// </summary>
/// <remarks>
/// The event carries no timeout, so <c>Wait(0)</c> or <c>Wait(timeout)</c> on an unfinished task is reported too
/// (the analyzer, which sees the argument, does not flag <c>Wait(0)</c>). Listening to the TPL source makes every task
/// in the process write this event and a few others: that is why the guard is on by default only in Debug builds.
/// </remarks>
internal sealed class SyncWaitGuard : EventListener
{
    private const string TplSourceName = "System.Threading.Tasks.TplEventSource";

    /// <summary>TplEventSource.Keywords.TaskTransfer: the keyword TaskWaitBegin is written under (with Tasks, which would add every task's start).</summary>
    private const EventKeywords TaskTransferKeyword = (EventKeywords)0x1;

    /// <summary>TplEventSource's event id for TaskWaitBegin.</summary>
    private const int TaskWaitBeginEventId = 10;

    /// <summary>TplEventSource.TaskWaitBehavior.Synchronous (the waiting thread blocks); 2 is an await.</summary>
    private const int SynchronousBehavior = 1;

    private static readonly object Gate = new();
    private static SyncWaitGuard? _instance;

    private SyncWaitGuard()
    {
    }

    /// <summary>Starts the process-wide listener once.</summary>
    public static void EnsureListening()
    {
        if (Volatile.Read(ref _instance) is not null)
        {
            return;
        }
        lock (Gate)
        {
            if (_instance is null)
                {
                    ListenerStartup.InitializeTaskEventSource();
                    _instance = new SyncWaitGuard();
                }
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == TplSourceName)
        {
            EnableEvents(eventSource, EventLevel.Informational, TaskTransferKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        // Cheapest test first: almost every event comes from a thread that runs no loop.
        var watch = StallWatchdog.Current;
        if (watch is null || !watch.SyncWaitGuard || e.EventId != TaskWaitBeginEventId)
        {
            return;
        }
        // Behavior is a TaskWaitBehavior (an int enum): boxed as the enum or as int depending on the decoder.
        if (e.Payload is not { Count: > 3 } payload || payload[3] is not IConvertible behavior || behavior.ToInt32(null) != SynchronousBehavior)
        {
            return;
        }
        string handler = "(between handlers)";
        int fd = -1;
        if (watch.Activity.TryGetCurrentHandler(out _, out object? h, out int hfd, out _))
        {
            handler = HandlerNames.Describe(h);
            fd = hfd;
        }
        StallWatchdog.Report(watch, new GuardReport(LoopGuard.SyncWait, watch.Name, handler, fd, 0, WaitStack()));
    }

    /// <summary>The stack from the blocking call down to the handler's dispatch: the event plumbing above it and the loop below it cut off.</summary>
    internal static string WaitStack()
    {
        var frames = new StackTrace(1, fNeedFileInfo: true).GetFrames();
        int first = 0;
        for (int i = 0; i < frames.Length; i++)
        {
            var type = frames[i].GetMethod()?.DeclaringType;
            if (type is not null && (type.FullName?.StartsWith("System.Threading.Tasks.TplEventSource", StringComparison.Ordinal) ?? false))
            {
                first = i + 1;
            }
        }
        var sb = new StringBuilder();
        for (int i = first; i < frames.Length; i++)
        {
            var method = frames[i].GetMethod();
            if (method?.DeclaringType == typeof(EventLoop))
            {
                break; // the loop's own dispatch: not the user's concern
            }
            if (method is null)
            {
                continue;
            }
            sb.Append("   at ").Append(method.DeclaringType?.FullName ?? "?").Append('.').Append(method.Name);
            var file = frames[i].GetFileName();
            if (file is not null)
            {
                sb.Append(" in ").Append(file).Append(":line ").Append(frames[i].GetFileLineNumber());
            }
            sb.AppendLine();
        }
        return sb.ToString().TrimEnd();
    }
}
