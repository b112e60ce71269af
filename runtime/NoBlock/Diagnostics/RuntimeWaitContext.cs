using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace NoBlock.Diagnostics;

/// <summary>
/// Says which managed wait a blocked loop thread sits in, from the runtime's own events: lock contention
/// (<c>ContentionStart</c>/<c>Stop</c>) and, on .NET 9 and later, wait-handle waits (<c>WaitHandleWaitStart</c>/<c>Stop</c>,
/// which also cover <c>Monitor.Wait</c>). These events carry the OS thread id of the waiting thread, so the one whose
/// id is a loop thread's becomes that loop's "current wait", added to its stall reports:
/// <c>blocked in futex (a managed wait: lock contention)</c>.
/// </summary>
/// <remarks>
/// The runtime delivers these events to an in-process listener asynchronously (through EventPipe, on a dispatcher
/// thread), so the context may reach only the second report of a stall. <c>Thread.Sleep</c> raises no event: its
/// futex stays "a managed wait". Listening costs an EventPipe session and an event per contended lock or wait-handle
/// wait anywhere in the process: on by default only in Debug builds (<see cref="StallWatchdogOptions.RuntimeWaitEvents"/>).
/// </remarks>
internal sealed class RuntimeWaitContext : EventListener
{
    private const string RuntimeSourceName = "Microsoft-Windows-DotNETRuntime";

    /// <summary>ContentionKeyword (0x4000) | WaitHandleKeyword (0x40000000000), from the runtime's event manifest.</summary>
    private const EventKeywords Keywords = (EventKeywords)(0x4000L | 0x40000000000L);

    private static readonly object Gate = new();
    private static readonly ConcurrentDictionary<long, LoopWatch> ByThread = new();
    private static RuntimeWaitContext? _instance;

    private RuntimeWaitContext()
    {
    }

    /// <summary>Follows <paramref name="watch"/>'s loop thread (kernel id <paramref name="tid"/>) from now on.</summary>
    public static void Follow(int tid, LoopWatch watch)
    {
        if (tid <= 0)
        {
            return;
        }
        ByThread[tid] = watch;
        if (Volatile.Read(ref _instance) is null)
        {
            lock (Gate)
            {
                if (_instance is null)
                {
                    ListenerStartup.InitializeTaskEventSource();
                    _instance = new RuntimeWaitContext();
                }
            }
        }
    }

    public static void Unfollow(int tid)
    {
        if (tid > 0)
        {
            ByThread.TryRemove(tid, out _);
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == RuntimeSourceName)
        {
            EnableEvents(eventSource, EventLevel.Verbose, Keywords);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!ByThread.TryGetValue(e.OSThreadId, out var watch))
        {
            return;
        }
        // A contended lock waits on a wait handle inside ContentionStart/Stop: the contention is the better name.
        switch (e.EventName)
        {
            case "ContentionStart":
                watch.Contended = true;
                break;
            case "ContentionStop":
                watch.Contended = false;
                break;
            case "WaitHandleWaitStart":
                // WaitSource 1 = MonitorWait; 0 = any other wait handle (WaitOne, WaitAll, …).
                watch.WaitHandleWait = Payload(e, "WaitSource") == 1 ? "Monitor.Wait" : "a wait handle";
                break;
            case "WaitHandleWaitStop":
                watch.WaitHandleWait = null;
                break;
        }
    }

    private static int Payload(EventWrittenEventArgs e, string name)
    {
        int i = e.PayloadNames?.IndexOf(name) ?? -1;
        return i >= 0 && e.Payload is { } p && i < p.Count && p[i] is IConvertible c ? c.ToInt32(null) : -1;
    }
}
