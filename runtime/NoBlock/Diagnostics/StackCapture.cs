using System.Linq;
using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Runtime.InteropServices;
using Microsoft.Diagnostics.NETCore.Client;

namespace NoBlock.Diagnostics;

/// <summary>One loop thread's stack wanted for a stall report; completed by <see cref="StackCapture"/>'s worker.</summary>
internal sealed class StackCaptureRequest
{
    public StackCaptureRequest(int tid, long stallStart, LoopActivity activity, TimeSpan timeout)
    {
        Timeout = timeout;
        Tid = tid;
        StallStart = stallStart;
        Activity = activity;
    }

    public int Tid { get; }

    /// <summary>How long the report waits for this stack (<see cref="StallWatchdogOptions.StackCaptureTimeout"/>): the session's budget.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>The stalled handler's start (Stopwatch timestamp): a sample counts only from here to the handler's end.</summary>
    public long StallStart { get; }

    public LoopActivity Activity { get; }

    /// <summary>Set (last, with release semantics) once <see cref="Frames"/> or <see cref="Unavailable"/> is final.</summary>
    public bool Done => Volatile.Read(ref _done) != 0;

    public IReadOnlyList<StallStackFrame>? Frames { get; private set; }

    public string? Unavailable { get; private set; }

    private int _done;

    public void Complete(IReadOnlyList<StallStackFrame>? frames, string? unavailable)
    {
        if (Done)
        {
            return;
        }
        Frames = frames;
        Unavailable = frames is null ? unavailable ?? "no sample of the loop thread" : null;
        Volatile.Write(ref _done, 1);
    }
}

/// <summary>
/// Takes stalled loop threads' managed stacks without running anything on them: an EventPipe session on the process's
/// own diagnostics port with the sample profiler (which samples every managed thread about once a millisecond) and the
/// rundown of jitted methods (their names and IL maps), like <c>dotnet-stack report</c>. The session stream is read on
/// this class's own thread (never a loop thread, never the thread pool, which a stall may starve) and parsed as it
/// streams (<see cref="SessionStacks"/>: only the requested threads' samples and the methods they hit are kept, not a
/// table of every jitted method); lines come from portable PDBs (<see cref="PdbLines"/>). Nothing is written to disk.
/// </summary>
/// <remarks>
/// One session at a time for the whole process: the requests waiting when a session starts share it (each looks for
/// its own thread's samples), later ones wait for the next. The watchdog never waits for a capture: it delivers the
/// report without a stack once <see cref="StallWatchdogOptions.StackCaptureTimeout"/> has passed, while this thread
/// goes on stopping the session. The session is stopped and disposed on every path.
/// TraceEvent is loaded only by the first capture (this class and <see cref="SessionStacks"/> are the only ones that
/// name its types).
/// </remarks>
internal static class StackCapture
{
    private const string SampleProfilerProvider = "Microsoft-DotNETCore-SampleProfiler";

    /// <summary>
    /// The rundown keywords: loader (0x8, module paths), JIT (0x10, jitted methods' names and ranges), end rundown
    /// (0x100) and jitted methods' IL-to-native maps (0x20000, for lines). Without NGen (0x20): the runtime's default
    /// (0x80020139) sent no IL maps on .NET 10 at all in our probe, and ReadyToRun BCL frames are folded anyway.
    /// </summary>
    private const long RundownKeywords = 0x8 | 0x10 | 0x100 | 0x20000;

    /// <summary>
    /// How long the sample profiler runs before the session is stopped: dotnet-stack's 10 ms doubled, so that a loaded
    /// machine (where the sampler thread waits for a CPU too) still takes a few samples of the loop thread.
    /// </summary>
    internal static readonly TimeSpan SampleWindow = TimeSpan.FromMilliseconds(20);

    /// <summary>The session's buffer: the samples of a 20 ms window and a rundown fit many times over.</summary>
    private const int CircularBufferMB = 64;

    /// <summary>Requests waiting beyond this get "too many captures waiting" at once (a flood of loops stalling together).</summary>
    private const int MaxWaiting = 64;

    /// <summary>
    /// After the budget is spent the session is disposed (its stream closed, which ends the reader's blocking read);
    /// this is how long the worker then waits for the reader before leaving it behind (a background thread whose read
    /// has already failed or will fail). Short: nothing is left to wait for but the thread's own exit.
    /// </summary>
    private static readonly TimeSpan ReaderExitWait = TimeSpan.FromSeconds(1);

    private static readonly object Gate = new();
    private static readonly List<StackCaptureRequest> Waiting = new();
    private static readonly AutoResetEvent Work = new(false);
    private static Thread? _worker;

    /// <summary>Called when a request completes (the watchdog wakes to deliver its report).</summary>
    internal static Action? Completed;

    /// <summary>Test seam: runs on the capture thread before each session, with the requests it will serve.</summary>
    internal static Action<IReadOnlyList<StackCaptureRequest>>? TestHookBeforeSession;

    /// <summary>
    /// Test seam: called on the capture's worker thread once a session is recording (its reader running), before the
    /// sample window. A hazard test blocks here to hold a capture in flight while a loop exits or another stall starts.
    /// </summary>
    internal static Action? SessionRecording;

    /// <summary>Requests waiting for the next session (tests wait for a second stall's request to be queued).</summary>
    internal static int WaitingCount
    {
        get
        {
            lock (Gate)
            {
                return Waiting.Count;
            }
        }
    }

    /// <summary>Captures finished since the process started (tests and the bench count them).</summary>
    internal static long CaptureCount;

    /// <summary>Why no capture can work in this process, or null when it may (checked once: environment only).</summary>
    internal static string? DisabledReason { get; } = FindDisabledReason();

    public static StackCaptureRequest Request(int tid, long stallStart, LoopActivity activity, TimeSpan timeout)
    {
        var request = new StackCaptureRequest(tid, stallStart, activity, timeout);
        if (DisabledReason is { } why)
        {
            request.Complete(null, why);
            return request;
        }
        if (tid <= 0)
        {
            request.Complete(null, "the loop thread's id is unknown");
            return request;
        }
        lock (Gate)
        {
            if (Waiting.Count >= MaxWaiting)
            {
                request.Complete(null, "too many captures waiting");
                return request;
            }
            Waiting.Add(request);
            if (_worker is null)
            {
                _worker = new Thread(RunWorker) { IsBackground = true, Name = "NoBlock stack capture" };
                _worker.Start();
            }
        }
        Work.Set();
        return request;
    }

    private static string? FindDisabledReason()
    {
        foreach (var prefix in new[] { "DOTNET_", "COMPlus_" })
        {
            if (Environment.GetEnvironmentVariable(prefix + "EnableDiagnostics") == "0")
            {
                return $"diagnostics are disabled ({prefix}EnableDiagnostics=0)";
            }
            if (Environment.GetEnvironmentVariable(prefix + "EnableDiagnostics_IPC") == "0")
            {
                return $"the diagnostics port is disabled ({prefix}EnableDiagnostics_IPC=0)";
            }
        }
        return null;
    }

    private static void RunWorker()
    {
        while (true)
        {
            Work.WaitOne();
            while (true)
            {
                StackCaptureRequest[] batch;
                lock (Gate)
                {
                    batch = [.. Waiting];
                    Waiting.Clear();
                }
                if (batch.Length == 0)
                {
                    break;
                }
                try
                {
                    TestHookBeforeSession?.Invoke(batch);
                    CaptureBatch(batch);
                }
                catch (Exception ex)
                {
                    foreach (var r in batch)
                    {
                        r.Complete(null, $"the capture failed ({ex.GetType().Name}: {ex.Message})");
                    }
                }
                finally
                {
                    Interlocked.Increment(ref CaptureCount);
                    foreach (var r in batch)
                    {
                        r.Complete(null, "the capture ended without a result");
                    }
                    try
                    {
                        Completed?.Invoke();
                    }
                    catch (Exception)
                    {
                        // waking the watchdog cannot fail in a way worth stopping the worker for
                    }
                }
            }
        }
    }

    /// <summary>One session for every request of the batch, parsed as it streams.</summary>
    private static void CaptureBatch(StackCaptureRequest[] batch)
    {
        // The longest wait of the batch: each report is delivered at its own deadline by the watchdog anyway.
        var budget = batch.Max(r => r.Timeout);
        var stacks = new SessionStacks(batch);
        string? failure = Record(stacks.Read, budget);
        if (failure is not null)
        {
            foreach (var r in batch)
            {
                r.Complete(null, failure);
            }
            return;
        }
        stacks.Complete();
    }

    /// <summary>
    /// Runs the session, its stream read by <paramref name="consume"/> on a thread of its own as it comes; returns why
    /// it could not, or null. Every wait is bounded by <paramref name="budget"/>: starting the session and stopping it go through the async IPC calls with a cancellation
    /// at the deadline (the synchronous <c>Stop</c> waits for the runtime's answer without a limit, and that answer waits
    /// for the rundown to be flushed — seconds to minutes for a large process, dotnet-stack's docs say — or never comes
    /// when the runtime is shutting down); the reader is waited for until the deadline, then the session is disposed,
    /// which closes the stream under it.
    /// </summary>
    internal static string? Record(Action<Stream> consume, TimeSpan budget)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan Left() => budget - clock.Elapsed > TimeSpan.Zero ? budget - clock.Elapsed : TimeSpan.Zero;
        string TimedOut(string what) => $"timed out {what} after {budget.TotalMilliseconds:0} ms (StallWatchdogOptions.StackCaptureTimeout)";
        using var cancel = new CancellationTokenSource(budget);
        EventPipeSession session;
        try
        {
            var client = new DiagnosticsClient(Environment.ProcessId);
            var providers = new[] { new EventPipeProvider(SampleProfilerProvider, EventLevel.Informational) };
            var start = client.StartEventPipeSessionAsync(new EventPipeSessionConfiguration(providers, CircularBufferMB, RundownKeywords, requestStackwalk: true), cancel.Token);
            if (!Wait(start, Left()))
            {
                cancel.Cancel();
                // A session that starts after all is stopped and disposed when it does, off this thread's way.
                start.ContinueWith(t => t.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
                return TimedOut("starting the session");
            }
            session = start.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            return $"the diagnostics port is unavailable ({ex.GetType().Name}: {ex.Message})";
        }
        Exception? readFailure = null;
        string? timedOut = null;
        // The runtime writes the stream as the session runs and the rundown when it stops: read it all the time,
        // on a thread of our own, or Stop would wait for a reader that is not there. The stream is parsed right
        // there, not copied to a file first: nothing is left on disk (not even by a process that exits mid-capture),
        // and what the parse keeps is bounded by the batch (SessionStacks). The parse keeps up: it does next to
        // nothing per rundown event, and the session's buffer (CircularBufferMB) holds a large process's rundown.
        var stream = session.EventStream;
        var reader = new Thread(() =>
        {
            try
            {
                consume(stream);
            }
            catch (Exception ex)
            {
                readFailure = ex;
            }
            try
            {
                // Whatever the parse left (it failed, or stopped at the end-of-stream tag): drained, so that the
                // runtime's writes, and the Stop that waits for them, finish.
                stream.CopyTo(Stream.Null);
            }
            catch (Exception)
            {
                // the stream is closed: nothing is left to drain
            }
        }) { IsBackground = true, Name = "NoBlock capture reader" }; // OS name "NoBlock capture" (15 bytes), unlike the worker's: tests/StallChild waits for it
        try
        {
            reader.Start();
            SessionRecording?.Invoke();
            Thread.Sleep(SampleWindow < Left() ? SampleWindow : Left());
            try
            {
                // Stop was asked for once (the session notes it before sending), so Dispose below does not ask again.
                if (!Wait(session.StopAsync(cancel.Token), Left()))
                {
                    cancel.Cancel();
                    timedOut = TimedOut("stopping the session");
                }
            }
            catch (Exception ex)
            {
                readFailure ??= ex;
            }
            if (timedOut is null && !reader.Join(Left()))
            {
                timedOut = TimedOut("reading the rundown");
            }
        }
        finally
        {
            try
            {
                session.Dispose(); // closes the stream: a reader still in CopyTo fails and ends
            }
            catch (Exception)
            {
                // a session that cannot be closed cleanly is gone with the stream anyway
            }
            if (!reader.Join(ReaderExitWait))
            {
                timedOut ??= TimedOut("reading the session");
            }
        }
        if (timedOut is not null)
        {
            return timedOut;
        }
        return readFailure is null ? null : $"reading the session failed ({readFailure.GetType().Name}: {readFailure.Message})";
    }

    /// <summary>Waits for <paramref name="task"/> at most <paramref name="timeout"/>; false when it is not done by then.</summary>
    private static bool Wait(Task task, TimeSpan timeout)
    {
        if (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(timeout))
        {
            task.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default); // observed
            return false;
        }
        task.GetAwaiter().GetResult(); // rethrows its failure
        return true;
    }

    /// <summary>"Server+Inner.Lookup(int32,bool)" → ("Server+Inner", "Lookup").</summary>
    internal static (string Type, string Method) Split(string fullName)
    {
        int paren = fullName.IndexOf('(');
        string head = paren >= 0 ? fullName[..paren] : fullName;
        int dot = head.LastIndexOf('.');
        // ".ctor" and ".cctor": the dot belongs to the method's name.
        if (dot > 0 && head[dot - 1] == '.')
        {
            dot--;
        }
        return dot > 0 ? (head[..dot], head[(dot + 1)..]) : ("", head);
    }

    private static readonly string RuntimeDirectory = RuntimeEnvironment.GetRuntimeDirectory();

    /// <summary>The runtime's and the BCL's modules, and NoBlock's own, are not user code.</summary>
    internal static bool IsUserModule(string modulePath)
    {
        if (modulePath.Length == 0 || modulePath.StartsWith(RuntimeDirectory, StringComparison.Ordinal))
        {
            return false;
        }
        string name = Path.GetFileName(modulePath);
        return !(name.StartsWith("System.", StringComparison.Ordinal) || name.StartsWith("Microsoft.", StringComparison.Ordinal)
                 || name is "NoBlock.dll" or "NoBlock.Hosting.dll" or "mscorlib.dll" or "netstandard.dll");
    }
}
