using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using NoBlock.Interop;

namespace NoBlock;

/// <summary>
/// A single-threaded epoll reactor. <see cref="Run"/> turns the loop on the calling thread until
/// <see cref="Stop"/>; every handler, timer and posted action runs on that thread, one at a time, and must not
/// block. Each turn has named phases (libuv's order): update time → run due timers → run posted work (a bounded
/// batch) → poll (<c>epoll_wait</c>, with a timeout set by the next timer) → dispatch.
/// </summary>
/// <remarks>
/// Thread-safety: <see cref="Post"/>, <see cref="Schedule"/>, <see cref="Offload"/>, <see cref="Stop"/>,
/// <see cref="TimerHandle.Cancel"/> and <see cref="Registration.Dispose"/> may be called from any thread.
/// <see cref="Register"/> and <see cref="Registration.Modify"/> are called on the loop thread (from a handler or
/// posted work) or while the loop is not running.
/// </remarks>
public sealed unsafe partial class EventLoop : IDisposable
{
    /// <summary>Posted by <see cref="Schedule"/> from other threads: running it does nothing, the turn it causes does.</summary>
    private static readonly Action RecomputeTimeout = static () => { };

    private readonly EventLoopOptions _options;
    private readonly Selector _selector;         // the kernel calls (epoll_ctl, epoll_wait, the waker); the loop decides
    private readonly ConcurrentQueue<WorkItem> _posted = new();
    private readonly TimerHeap _timers = new();
    private readonly LoopActivity _activity = new();
    private readonly LoopSynchronizationContext _syncContext;
    private readonly ILogger? _logger;
    private readonly HandlerFaultLines _faultLines;  // the stderr default when neither Logger nor OnHandlerException is set
    private readonly LoopMetrics _metrics;     // the instruments of the meter this loop records on (EventLoopOptions.MeterFactory)
    private readonly KeyValuePair<string, object?> _nameTag;

    private Registration?[] _slots = new Registration?[64];
    private int[] _freeSlots = new int[64];
    private int _freeCount;
    private int _slotHighWater;
    private uint _nextGeneration = 1;
    private long _timerSequence;

    private long _now;                 // Stopwatch timestamp cached by the update-time phase
    private int _blocked;              // 1 while the loop is (about to be) inside epoll_wait: posters must wake it
    private volatile bool _stopRequested;
    private int _running;              // 1 while Run is active
    private int _loopThreadId = -1;    // managed id of the thread in Run
    private int _disposed;
    private ExceptionDispatchInfo? _fatal;
    private long _pollTicks;           // time spent inside epoll_wait, for the utilization gauge
    private long _utilizationMarkWall, _utilizationMarkPoll;
    private bool _edgeGuard;           // EventLoopOptions.Guards.EdgeTriggeredLeftovers, read when Run starts
    private byte* _readBuffer;          // the loop-owned receive buffer lent to TCP connections (see ReadBuffer)
    private readonly IoUring.IoUringBackend? _uring;  // the io_uring backend, whose completion sources the TCP layer uses (null on epoll)
    private IoUring.CompletionEvent _completion;      // the completion Invoke hands to its owner (see DispatchCompletions)

    /// <summary>Invoke's state for "deliver <see cref="_completion"/>" (no boxing per completion).</summary>
    private static readonly object CompletionMarker = new();

    /// <summary>
    /// Creates a loop (an epoll instance or an io_uring ring, as <see cref="EventLoopOptions.Backend"/> says, and its
    /// waker eventfd). Call <see cref="Run"/> to turn it.
    /// </summary>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <exception cref="PlatformNotSupportedException"><see cref="EventLoopOptions.Backend"/> is <see cref="EventLoopBackend.IoUring"/> and io_uring is unavailable here (the message says why).</exception>
    public EventLoop(EventLoopOptions? options = null)
    {
        _options = options ?? new EventLoopOptions();
        if (_options.MaxEventsPerPoll <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.MaxEventsPerPoll, "EventLoopOptions.MaxEventsPerPoll must be positive.");
        }
        if (_options.MaxPostedPerTurn <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.MaxPostedPerTurn, "EventLoopOptions.MaxPostedPerTurn must be positive.");
        }
        if (_options.StandardErrorFaultsPerMinute <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.StandardErrorFaultsPerMinute, "EventLoopOptions.StandardErrorFaultsPerMinute must be positive (HandlerFaultsToStandardError = false turns the lines off).");
        }
        _logger = _options.Logger;
        _faultLines = new HandlerFaultLines(_options.FaultWriter);
        _metrics = LoopMetrics.For(_options);
        _nameTag = new KeyValuePair<string, object?>(LoopMetrics.LoopNameTag, _options.Name);

        _selector = CreateSelector(out var backend);
        Backend = backend;
        _uring = (_selector as IoUring.IoUringSelector)?.Backend;
        _syncContext = new LoopSynchronizationContext(this);
        _utilizationMarkWall = Stopwatch.GetTimestamp();
        _metrics.Track(this);
    }

    /// <summary>
    /// The kernel mechanism this loop waits with: <see cref="EventLoopBackend.Epoll"/> or
    /// <see cref="EventLoopBackend.IoUring"/> (never <see cref="EventLoopBackend.PreferIoUring"/>: that option
    /// resolves to one of them when the loop is created).
    /// </summary>
    public EventLoopBackend Backend { get; }

    /// <summary>The loop's name (<see cref="EventLoopOptions.Name"/>).</summary>
    public string Name => _options.Name;

    /// <summary>The loop's settings.</summary>
    public EventLoopOptions Options => _options;

    /// <summary>True while <see cref="Run"/> is turning the loop.</summary>
    public bool IsRunning => Volatile.Read(ref _running) == 1;

    /// <summary>True when called on the thread that is running the loop.</summary>
    public bool IsOnLoopThread => Volatile.Read(ref _loopThreadId) == Environment.CurrentManagedThreadId && IsRunning;

    /// <summary>Number of live registrations (diagnostics, tests).</summary>
    public int RegistrationCount { get; private set; }

    /// <summary>
    /// The longest delay <see cref="Schedule"/> takes: 2^32 - 2 ms (about 49.7 days), the limit of
    /// <see cref="System.Threading.Timer"/> and <see cref="Task.Delay(TimeSpan)"/>. Longer delays are refused: a
    /// deadline far beyond it would overflow the loop's clock arithmetic.
    /// </summary>
    public static readonly TimeSpan MaxTimerDelay = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>Work items queued for the loop (posted actions, continuations, Offload completions): tests.</summary>
    internal int QueuedWorkCount => _posted.Count;

    /// <summary>Tests only: runs on the loop thread after the poll timeout is computed, before the loop announces its sleep.</summary>
    internal Action? TestHookBeforeSleep { get; set; }

    /// <summary>Test seam: runs between an offloaded completion's enqueue and its disposed check (a Dispose there is the race both paths see).</summary>
    internal Action? TestHookAfterCompletionQueued { get; set; }

    /// <summary>The instruments this loop records on (the watchdog's stall counter and lag probe use them too).</summary>
    internal LoopMetrics Metrics => _metrics;

    /// <summary>What the loop thread is doing now: the hooks the stall watchdog reads.</summary>
    internal LoopActivity Activity => _activity;

    private bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    // =========================================================================================================
    // Public API
    // =========================================================================================================

    /// <summary>
    /// Registers a non-blocking fd. The handler runs on the loop thread for every readiness event matching
    /// <paramref name="interest"/> (plus errors and hang-ups, which the kernel always reports). Level-triggered
    /// unless <see cref="IoEvents.EdgeTriggered"/> is set.
    /// </summary>
    /// <param name="fd">An open fd in non-blocking mode (<c>O_NONBLOCK</c>). The caller keeps owning it.</param>
    /// <param name="interest">Readiness to be told about, plus optional mode bits.</param>
    /// <param name="handler">Runs on the loop for each event; must not block.</param>
    /// <returns>The registration: modify its interest or dispose it to unregister.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The fd is negative.</exception>
    /// <exception cref="ArgumentException">The fd is closed, in blocking mode, or already registered with this loop.</exception>
    /// <exception cref="ObjectDisposedException">The loop was disposed.</exception>
    /// <exception cref="InvalidOperationException">Called from another thread while the loop runs.</exception>
    public Registration Register(int fd, IoEvents interest, [EventLoopHandler] IoHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ValidateUserFd(fd);
        var reg = RegisterCore(fd, interest, handler, owner: null);
        TrackIfUdp(reg);
        return reg;
    }

    /// <summary>
    /// Queues an action to run on the loop thread. Thread-safe; wakes the loop only if it sleeps in
    /// <c>epoll_wait</c>. Actions run in the order posted, at most <see cref="EventLoopOptions.MaxPostedPerTurn"/>
    /// per turn.
    /// </summary>
    /// <param name="action">Runs on the loop; must not block.</param>
    /// <exception cref="ObjectDisposedException">The loop was disposed.</exception>
    public void Post([EventLoopHandler] Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        ThrowIfDisposed();
        Enqueue(new WorkItem(action));
    }

    /// <summary>
    /// Runs <paramref name="action"/> on the loop once <paramref name="due"/> has elapsed (no earlier; later if the
    /// loop is busy). Thread-safe. Timers due at the same time run in the order scheduled.
    /// </summary>
    /// <param name="due">Delay from now; zero or positive.</param>
    /// <param name="action">Runs on the loop; must not block.</param>
    /// <returns>A handle to cancel the timer.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The delay is negative.</exception>
    /// <exception cref="ObjectDisposedException">The loop was disposed.</exception>
    public TimerHandle Schedule(TimeSpan due, [EventLoopHandler] Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (due < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(due), due, "A timer's delay cannot be negative.");
        }
        if (due > MaxTimerDelay)
        {
            throw new ArgumentOutOfRangeException(nameof(due), due,
                $"A timer's delay can be at most EventLoop.MaxTimerDelay ({MaxTimerDelay.TotalDays:F1} days, like System.Threading.Timer); schedule a shorter timer that reschedules itself.");
        }
        ThrowIfDisposed();
        long dueTs = Stopwatch.GetTimestamp() + (long)(due.Ticks * ((double)Stopwatch.Frequency / TimeSpan.TicksPerSecond));
        var timer = new TimerHandle(this, dueTs, Interlocked.Increment(ref _timerSequence), action);
        lock (_timers)
        {
            _timers.Add(timer);
        }
        if (!IsOnLoopThread)
        {
            // The loop may have computed its epoll_wait timeout before this timer existed and be about to sleep on
            // it. Queueing a no-op (rather than only waking) closes that window: the loop's last look at the queue
            // before sleeping sees it, polls with a zero timeout, and recomputes the timeout next turn.
            Enqueue(new WorkItem(RecomputeTimeout));
        }
        return timer;
    }

    /// <summary>
    /// Runs blocking <paramref name="work"/> on the thread pool; the returned task completes on the loop thread,
    /// so code awaiting it (or continuing it synchronously) is back on the loop.
    /// </summary>
    /// <param name="work">Work that may block. Runs on a pool thread, not on the loop.</param>
    /// <returns>A task completed on the loop with the work's outcome.</returns>
    public Task Offload(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        return Offload<object?>(() =>
        {
            work();
            return null;
        });
    }

    /// <summary>
    /// Runs blocking <paramref name="work"/> on the thread pool; the returned task completes on the loop thread
    /// with its result.
    /// </summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="work">Work that may block. Runs on a pool thread.</param>
    /// <returns>A task completed on the loop with the work's result or exception.</returns>
    public Task<T> Offload<T>(Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        ThrowIfDisposed();
        var tcs = new TaskCompletionSource<T>();
        ThreadPool.UnsafeQueueUserWorkItem(_ =>
        {
            Action complete;
            try
            {
                T result = work();
                complete = () => tcs.TrySetResult(result);
            }
            catch (Exception ex)
            {
                complete = () => tcs.TrySetException(ex);
            }
            CompleteOnLoop(complete); // completing twice is harmless (TrySet*)
        }, null);
        return tcs.Task;
    }

    /// <summary>
    /// Runs blocking <paramref name="work"/> on the thread pool when nothing waits for its outcome (a log write, an
    /// audit record): the fire-and-forget twin of <see cref="Offload(Action)"/>, without a task to discard. If the work
    /// throws, the exception is a fault of this loop's handler code, reported on the loop thread exactly as a
    /// throwing posted action's would be (the logger, <see cref="EventLoopOptions.OnHandlerException"/> or the
    /// standard-error line, named after <paramref name="work"/>; under <see cref="HandlerExceptionPolicy.StopLoop"/> the
    /// loop stops). If the loop is disposed by then, the fault is reported on the pool thread instead: never lost.
    /// </summary>
    /// <param name="work">Work that may block. Runs on a pool thread, not on the loop.</param>
    /// <exception cref="ObjectDisposedException">The loop was disposed.</exception>
    public void OffloadAndReport(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        ThrowIfDisposed();
        ThreadPool.UnsafeQueueUserWorkItem(static s => s.Loop.RunReportingFaults(s.Work), (Loop: this, Work: work), preferLocal: false);
    }

    private void RunReportingFaults(Action work)
    {
        try
        {
            work();
        }
        catch (Exception ex)
        {
            int reported = 0;
            void Report()
            {
                if (Interlocked.Exchange(ref reported, 1) == 0)
                {
                    OnHandlerFault(work, -1, ex, null);
                }
            }
            CompleteOnLoop(Report); // it may run twice (see CompleteOnLoop): Report() reports once
        }
    }

    /// <summary>
    /// Runs <paramref name="complete"/> (the end of offloaded work) on the loop thread, or on the calling pool thread
    /// when the loop is gone. Enqueued (a full fence) before the disposed check: either Dispose's drain sees it and runs
    /// it on the pool, or this check sees the loop gone and runs it here — both can happen, so it must be idempotent.
    /// </summary>
    private void CompleteOnLoop(Action complete)
    {
        _posted.Enqueue(new WorkItem(complete, isCompletion: true));
        TestHookAfterCompletionQueued?.Invoke();
        if (IsDisposed)
        {
            complete(); // no loop to come back to
            return;
        }
        WakeIfBlocked();
    }

    /// <summary>
    /// Turns the loop on the calling thread until <see cref="Stop"/> is called (also from a handler). A
    /// <see cref="Stop"/> that comes before <see cref="Run"/> makes it return after one turn.
    /// </summary>
    /// <exception cref="InvalidOperationException">The loop is already running (on this or another thread).</exception>
    /// <exception cref="ObjectDisposedException">The loop was disposed.</exception>
    public void Run()
    {
        ThrowIfDisposed();
        if (Interlocked.CompareExchange(ref _running, 1, 0) != 0)
        {
            throw new InvalidOperationException(
                $"EventLoop '{Name}' is already running on thread {Volatile.Read(ref _loopThreadId)}; a loop runs on one thread at a time. " +
                "Use one loop per thread (EventLoopGroup), and Post work to a running loop instead of running it again.");
        }
        var previousContext = SynchronizationContext.Current;
        Volatile.Write(ref _loopThreadId, Environment.CurrentManagedThreadId);
        _activity.RecordThread(Sys.GetThreadId(), Environment.CurrentManagedThreadId);
        SynchronizationContext.SetSynchronizationContext(_syncContext);
        _edgeGuard = _options.Guards.EdgeTriggeredLeftovers;
        Diagnostics.StallWatchdog.Attach(this);
        try
        {
            while (true)
            {
                UpdateTime();
                RunDueTimers();
                RunPostedWork();
                if (_stopRequested)
                {
                    break;
                }
                Dispatch(Poll(ComputePollTimeout()));
                if (_uring is not null)
                {
                    DispatchCompletions(_uring.LastCompletions);
                }
            }
        }
        finally
        {
            Diagnostics.StallWatchdog.Detach(this);
            SynchronizationContext.SetSynchronizationContext(previousContext);
            _stopRequested = false;
            Volatile.Write(ref _loopThreadId, -1);
            Volatile.Write(ref _running, 0);
        }
        var fatal = Interlocked.Exchange(ref _fatal, null);
        fatal?.Throw();
    }

    /// <summary>
    /// Asks the loop to return from <see cref="Run"/> after the current turn. Thread-safe and idempotent;
    /// handlers already dispatched in this turn still run.
    /// </summary>
    public void Stop()
    {
        if (IsDisposed)
        {
            return;
        }
        _stopRequested = true;
        // Full fence between this store and WakeIfBlocked's read of _blocked (a volatile store followed by a volatile
        // load may be reordered): without it both sides could miss each other and the loop sleep through the Stop.
        Interlocked.MemoryBarrier();
        WakeIfBlocked();
    }

    /// <summary>
    /// Releases the loop: its registrations (TCP connections and listeners it owns are closed), timers, queued
    /// work, the epoll fd and the waker. Idempotent.
    /// </summary>
    /// <exception cref="InvalidOperationException">The loop is running: <see cref="Stop"/> it and let <see cref="Run"/> return first.</exception>
    public void Dispose()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException(
                $"EventLoop '{Name}' is running; call Stop() and wait for Run() to return before Dispose().");
        }
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _metrics.Untrack(this);
        for (int i = 0; i < _slotHighWater; i++)
        {
            var reg = _slots[i];
            if (reg is null)
            {
                continue;
            }
            _slots[i] = null;
            reg.IsDisposed = true;
            try
            {
                reg.Owner?.OnLoopDisposed();
            }
            catch (Exception ex)
            {
                _logger?.DisposeReleaseFailed(ex, Name, reg.Fd);
            }
        }
        RegistrationCount = 0;
        lock (_timers)
        {
            _timers.Clear();
        }
        while (_posted.TryDequeue(out var item))
        {
            if (item.IsCompletion)
            {
                // An Offload whose work finished: its task completes on the pool (the docs' promise), not never.
                ThreadPool.UnsafeQueueUserWorkItem(static a => ((Action)a!)(), item.State, preferLocal: false);
            }
        }
        _selector.Dispose();
        if (_readBuffer != null)
        {
            NativeMemory.Free(_readBuffer);
            _readBuffer = null;
        }
    }

    // =========================================================================================================
    // Backend
    // =========================================================================================================

    /// <summary>Set once per process when a fallback notice went to standard error (a group's loops all fall back alike).</summary>
    private static int _fallbackLineWritten;

    private Selector CreateSelector(out EventLoopBackend backend)
    {
        var wanted = _options.Backend;
        if (wanted is not (EventLoopBackend.Epoll or EventLoopBackend.IoUring or EventLoopBackend.PreferIoUring))
        {
            throw new ArgumentOutOfRangeException(nameof(EventLoopOptions.Backend), wanted, "EventLoopOptions.Backend must be Epoll, IoUring or PreferIoUring.");
        }
        if (wanted != EventLoopBackend.Epoll)
        {
            var uring = IoUring.IoUringSelector.TryCreate(_options.MaxEventsPerPoll, out var why);
            if (uring is not null)
            {
                backend = EventLoopBackend.IoUring;
                return uring;
            }
            if (wanted == EventLoopBackend.IoUring)
            {
                throw new PlatformNotSupportedException(
                    $"EventLoop '{Name}': EventLoopOptions.Backend is IoUring, but {why}. " +
                    "Set Backend = PreferIoUring to fall back to epoll where io_uring is unavailable, or Epoll.");
            }
            ReportFallback(why!);
        }
        backend = EventLoopBackend.Epoll;
        return EpollSelector.TryCreate(_options.MaxEventsPerPoll, out var failedCall, out var err)
            ?? throw err.ToException(failedCall!);
    }

    private void ReportFallback(string reason)
    {
        if (_logger is not null)
        {
            _logger.BackendFallback(Name, reason, _options.Backend);
            return;
        }
        // The real stderr gets one line per process; a test's writer (FaultWriter) gets every loop's.
        if (_options.FaultWriter is null && Interlocked.Exchange(ref _fallbackLineWritten, 1) != 0)
        {
            return;
        }
        try
        {
            (_options.FaultWriter?.Invoke() ?? Console.Error).WriteLine(
                $"NoBlock: loop '{Name}': io_uring is unavailable ({reason}); using epoll (EventLoopOptions.Backend = PreferIoUring). " +
                "Set EventLoopOptions.Logger to get this as a log event (BackendFallback).");
        }
        catch (IOException)
        {
            // stderr closed: nowhere left to say it
        }
    }

    // =========================================================================================================
    // Phases
    // =========================================================================================================

    private void UpdateTime() => _now = Stopwatch.GetTimestamp();

    private void RunDueTimers()
    {
        // Timers scheduled by these callbacks (even with a zero delay) wait for the next turn: a timer that
        // re-arms itself cannot keep the loop in this phase.
        long lastSequence = Volatile.Read(ref _timerSequence);
        while (true)
        {
            TimerHandle? timer;
            lock (_timers)
            {
                timer = _timers.Peek();
                if (timer is null || timer.DueTimestamp > _now || timer.Sequence > lastSequence)
                {
                    return;
                }
                _timers.Pop();
            }
            if (!timer.TryMarkRunning())
            {
                continue; // cancelled from another thread after it was added
            }
            if (_metrics.Lag.Enabled)
            {
                _metrics.Lag.Record(LoopMetrics.Seconds(_now - timer.DueTimestamp), _nameTag);
            }
            Invoke(timer.Action, -1, IoEvents.None, null, null);
        }
    }

    private void RunPostedWork()
    {
        // Bounded batch: at most what was queued when the phase began, and at most MaxPostedPerTurn, so a thread
        // posting in a tight loop (or posted work that posts) cannot starve I/O and timers.
        if (_posted.IsEmpty)
        {
            return; // the common case under I/O load; IsEmpty is cheaper than Count
        }
        int budget = Math.Min(_posted.Count, _options.MaxPostedPerTurn);
        for (int i = 0; i < budget && _posted.TryDequeue(out var item); i++)
        {
            Invoke(item.Callback ?? item.State!, -1, IoEvents.None, null, item.Callback is null ? null : item.State);
        }
    }

    private int ComputePollTimeout()
    {
        if (!_posted.IsEmpty || _stopRequested)
        {
            return 0;
        }
        TimerHandle? next;
        lock (_timers)
        {
            next = _timers.Peek();
        }
        if (next is null)
        {
            return -1;
        }
        long remaining = next.DueTimestamp - Stopwatch.GetTimestamp();
        if (remaining <= 0)
        {
            return 0;
        }
        // Round up: waking a little late is fine, waking early would spin until the timer is due.
        double ms = Math.Ceiling(remaining * 1000.0 / Stopwatch.Frequency);
        return ms >= int.MaxValue ? int.MaxValue : (int)ms;
    }

    /// <summary>
    /// Delivers the io_uring completions of the last wait (accepts, receives, sends of the TCP layer) to their owners,
    /// each inside the same bracket as a readiness handler. A completion whose registration is gone is given back
    /// (an accepted fd closed, a receive buffer recycled).
    /// </summary>
    private void DispatchCompletions(ReadOnlySpan<IoUring.CompletionEvent> completions)
    {
        if (completions.Length > 0 && _metrics.Events.Enabled)
        {
            _metrics.Events.Add(completions.Length, _nameTag);
        }
        foreach (var c in completions)
        {
            var reg = LiveRegistration(c.Token);
            if (reg is null || reg.Owner is not IoUring.ICompletionOwner)
            {
                _uring!.Drop(c);
                continue;
            }
            _completion = c;
            Invoke(reg.Owner, reg.Fd, IoEvents.None, reg, CompletionMarker);
        }
    }

    /// <summary>The io_uring backend when the loop runs on it (the TCP layer's completion I/O), else null.</summary>
    internal IoUring.IoUringBackend? IoUringBackend => _uring;

    /// <summary>
    /// Registers <paramref name="fd"/> as a completion source of the io_uring backend: its owner arms requests with
    /// the registration's <see cref="Registration.SelectorKey"/> and gets their completions. The owner disposes the
    /// registration only once none of its requests is in the kernel.
    /// </summary>
    internal Registration RegisterCompletionSource(int fd, IoUring.ICompletionOwner owner)
    {
        ValidateFdNumber(fd);
        ThrowIfDisposed();
        ThrowIfOffLoopThread(nameof(Register));
        var uring = _uring ?? throw new InvalidOperationException($"EventLoop '{Name}' does not run on io_uring.");
        var reg = new Registration(this, fd, IoEvents.None, handler: null, owner);
        int slot = AllocateSlot();
        uint generation = NextGeneration();
        reg.Slot = slot;
        reg.Generation = generation;
        reg.SelectorKey = uring.AddCompletionSource(fd, Pack(slot, generation));
        _slots[slot] = reg;
        RegistrationCount++;
        return reg;
    }

    private ReadOnlySpan<ReadinessEvent> Poll(int timeoutMs)
    {
        // Announce the sleep before the last look at the queue (full fence both sides, see WakeIfBlocked): a post
        // that lands after the look sees _blocked == 1 and writes the eventfd.
        TestHookBeforeSleep?.Invoke();
        // A poll with a zero timeout does not sleep, so it is not announced and posters do not pay for a wake.
        if (timeoutMs != 0)
        {
            Interlocked.Exchange(ref _blocked, 1);
            if (!_posted.IsEmpty || _stopRequested)
            {
                timeoutMs = 0;
            }
        }
        long start = Stopwatch.GetTimestamp();
        _activity.EnterPoll();
        var status = _selector.Wait(timeoutMs, out var events, out var err);
        _activity.LeavePoll();
        _pollTicks += Stopwatch.GetTimestamp() - start;
        Volatile.Write(ref _blocked, 0);
        return status switch
        {
            SelectorStatus.Ok => events,
            SelectorStatus.Interrupted => default, // a signal (the runtime's own, GC suspension): just turn again
            _ => throw err.ToException($"{_selector.Mechanism} wait"),
        };
    }

    /// <summary>
    /// The registration a token names (slot in the high 32 bits, generation in the low), or null when that slot is
    /// empty, reused by a newer registration, or disposed: the event or completion is stale.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private Registration? LiveRegistration(ulong token)
    {
        int slot = (int)(token >> 32);
        var reg = (uint)slot < (uint)_slotHighWater ? _slots[slot] : null;
        return reg is null || reg.Generation != (uint)token || reg.IsDisposed ? null : reg;
    }

    private void Dispatch(ReadOnlySpan<ReadinessEvent> events)
    {
        if (events.Length > 0 && _metrics.Events.Enabled)
        {
            _metrics.Events.Add(events.Length, _nameTag);
        }
        foreach (var e in events)
        {
            var reg = LiveRegistration(e.Token);
            if (reg is null)
            {
                continue; // disposed earlier in this batch, or from another thread (its slot maybe reused): the event is stale
            }
            Invoke(reg.Owner ?? (object)reg.Handler!, reg.Fd, e.Events, reg, null);
        }
    }

    // =========================================================================================================
    // Invocation: the one bracket around every handler (the watchdog hooks, the duration metric, the fault policy)
    // =========================================================================================================

    /// <summary>
    /// Runs one handler of any kind: an fd's <see cref="IoHandler"/> or owner (<paramref name="reg"/> set), a timer's
    /// or posted <see cref="Action"/>, or a <see cref="SynchronizationContext"/> callback with <paramref name="state"/>.
    /// One bracket, so the watchdog, the metric and the fault policy cannot treat the kinds differently; the type test
    /// costs a few compares of method-table pointers (the delegate types are sealed).
    /// </summary>
    private void Invoke(object handler, int fd, IoEvents events, Registration? reg, object? state)
    {
        long start = _activity.BeginHandler(handler, fd, events); // the watchdog's timestamp doubles as the metric's
        try
        {
            switch (handler)
            {
                case IoHandler ioHandler:
                    ioHandler(new IoEvent(fd, events));
                    if (_edgeGuard && (reg!.Interest & IoEvents.EdgeTriggered) != 0)
                    {
                        Diagnostics.EdgeTriggeredGuard.Check(ioHandler, fd, reg);
                    }
                    break;
                case Action action:
                    action();
                    break;
                case SendOrPostCallback callback:
                    callback(state);
                    break;
                default:
                    if (ReferenceEquals(state, CompletionMarker))
                    {
                        ((IoUring.ICompletionOwner)handler).OnCompletion(in _completion);
                    }
                    else
                    {
                        ((IRegistrationOwner)handler).OnEvents(events);
                    }
                    break;
            }
        }
        catch (Exception ex)
        {
            OnHandlerFault(handler, fd, ex, reg);
        }
        finally
        {
            _activity.EndHandler();
            RecordDuration(start);
        }
    }

    private void RecordDuration(long start)
    {
        if (_metrics.HandlerDuration.Enabled)
        {
            _metrics.HandlerDuration.Record(LoopMetrics.Seconds(Stopwatch.GetTimestamp() - start), _nameTag);
        }
    }

    private void OnHandlerFault(object handler, int fd, Exception ex, Registration? reg)
    {
        var name = HandlerNames.Describe(handler);
        // Apply the policy first, so that whoever is told about the fault sees its outcome (registration closed).
        if (_options.HandlerExceptionPolicy == HandlerExceptionPolicy.StopLoop)
        {
            Interlocked.CompareExchange(ref _fatal, ExceptionDispatchInfo.Capture(ex), null);
            _stopRequested = true;
        }
        else if (reg is { IsDisposed: false })
        {
            if (reg.Owner is { } owner)
            {
                try
                {
                    owner.OnHandlerFault(ex);
                }
                catch (Exception closeError)
                {
                    _logger?.HandlerFaultCloseFailed(closeError, Name, fd, name);
                }
            }
            else
            {
                RemoveRegistration(reg);
            }
        }
        var fault = new HandlerFault(Name, name, fd, ex);
        _logger?.HandlerFaulted(ex, Name, name, fd, _options.HandlerExceptionPolicy);
        if (_logger is null && _options.OnHandlerException is null && _options.HandlerFaultsToStandardError)
        {
            _faultLines.Write(fault, _options.HandlerExceptionPolicy, _options.StandardErrorFaultsPerMinute);
        }
        try
        {
            _options.OnHandlerException?.Invoke(fault);
        }
        catch (Exception callbackError)
        {
            _logger?.HandlerFaultCallbackFailed(callbackError, Name, name, fd);
        }
    }

    // =========================================================================================================
    // Registrations
    // =========================================================================================================

    private static void ValidateFdNumber(int fd)
    {
        if (fd < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(fd), fd, $"fd {fd} is not a file descriptor (it is negative). Pass the fd of an open, non-blocking file, pipe, eventfd or socket.");
        }
    }

    private static void ValidateUserFd(int fd)
    {
        ValidateFdNumber(fd);
        int flags = Sys.GetStatusFlags(fd, out var err);
        if (flags < 0)
        {
            if (err.IsBadFd)
            {
                throw new ArgumentException($"fd {fd} is not open (EBADF). Register an fd before closing it, and dispose its registration before closing it.", nameof(fd));
            }
            throw err.ToException("fcntl(F_GETFL)", fd);
        }
        if (!Sys.IsNonBlocking(flags))
        {
            throw new ArgumentException(
                $"fd {fd} is in blocking mode (O_NONBLOCK is not set), so a read or write in a handler could block the loop. " +
                "Open it non-blocking (SOCK_NONBLOCK, EFD_NONBLOCK, O_NONBLOCK, pipe2(O_NONBLOCK)), or set it with " +
                "fcntl(fd, F_SETFL, flags | O_NONBLOCK) (Socket.Blocking = false for a .NET Socket) before registering it.",
                nameof(fd));
        }
    }

    /// <summary>The next registration generation; 0 is skipped when the counter wraps.</summary>
    private uint NextGeneration()
    {
        uint generation = _nextGeneration++;
        if (_nextGeneration == 0)
        {
            _nextGeneration = 1;
        }

        return generation;
    }

    internal Registration RegisterCore(int fd, IoEvents interest, IoHandler? handler, IRegistrationOwner? owner)
    {
        ValidateFdNumber(fd);
        ThrowIfDisposed();
        ThrowIfOffLoopThread(nameof(Register));
        var reg = new Registration(this, fd, interest, handler, owner);
        int slot = AllocateSlot();
        uint generation = NextGeneration();
        reg.Slot = slot;
        reg.Generation = generation;
        var status = _selector.Add(fd, interest, Pack(slot, generation), out int key, out var err);
        if (status != SelectorStatus.Ok)
        {
            FreeSlot(slot);
            throw status switch
            {
                SelectorStatus.AlreadyRegistered => new ArgumentException(
                    $"fd {fd} is already registered with EventLoop '{Name}'. Change its interest with Registration.Modify instead of registering it twice, or dispose the first registration.",
                    nameof(fd)),
                SelectorStatus.NotOpen => new ArgumentException($"fd {fd} is not open (EBADF).", nameof(fd)),
                SelectorStatus.NotPollable => new ArgumentException(
                    $"fd {fd} does not support {_selector.Mechanism} (EPERM): regular files and directories are always ready. Read them with Offload instead.",
                    nameof(fd)),
                _ => err.ToException($"{_selector.Mechanism} add", fd),
            };
        }
        reg.SelectorKey = key;
        _slots[slot] = reg;
        RegistrationCount++;
        return reg;
    }

    internal void ModifyRegistration(Registration reg, IoEvents interest)
    {
        ThrowIfDisposed();
        if (reg.IsDisposed)
        {
            throw new ObjectDisposedException(nameof(Registration), $"The registration of fd {reg.Fd} was disposed; register the fd again.");
        }
        ThrowIfOffLoopThread(nameof(Registration.Modify));
        var status = _selector.Modify(reg.Fd, reg.SelectorKey, interest, Pack(reg.Slot, reg.Generation), out var err);
        if (status is SelectorStatus.NotOpen or SelectorStatus.NotRegistered)
        {
            throw new InvalidOperationException(
                $"fd {reg.Fd} was closed while registered ({_selector.Mechanism} modify: {status}). Dispose the registration before closing the fd.");
        }
        if (status != SelectorStatus.Ok)
        {
            throw err.ToException($"{_selector.Mechanism} modify", reg.Fd);
        }
        reg.Interest = interest;
    }

    internal void RemoveRegistration(Registration reg)
    {
        if (reg.IsDisposed || IsDisposed)
        {
            return;
        }
        if (IsRunning && !IsOnLoopThread)
        {
            Enqueue(new WorkItem(static s => { var r = (Registration)s!; r.Loop.RemoveRegistration(r); }, reg));
            return;
        }
        reg.IsDisposed = true;
        Untrack(reg);
        // Whatever the status: NotOpen/NotRegistered mean the fd was closed first (its registration ended with it),
        // and a failed removal leaves nothing the loop could undo; the slot is freed either way.
        _selector.Remove(reg.Fd, reg.SelectorKey, Pack(reg.Slot, reg.Generation), out _);
        if (reg.Slot >= 0 && ReferenceEquals(_slots[reg.Slot], reg))
        {
            _slots[reg.Slot] = null;
            FreeSlot(reg.Slot);
            RegistrationCount--;
        }
    }

    private static ulong Pack(int slot, uint generation) => ((ulong)(uint)slot << 32) | generation;

    private int AllocateSlot()
    {
        if (_freeCount > 0)
        {
            return _freeSlots[--_freeCount];
        }
        if (_slotHighWater == _slots.Length)
        {
            Array.Resize(ref _slots, _slots.Length * 2);
        }
        return _slotHighWater++;
    }

    private void FreeSlot(int slot)
    {
        if (_freeCount == _freeSlots.Length)
        {
            Array.Resize(ref _freeSlots, _freeSlots.Length * 2);
        }
        _freeSlots[_freeCount++] = slot;
    }

    // =========================================================================================================
    // Posting, waking, timers
    // =========================================================================================================

    internal void PostCore(SendOrPostCallback callback, object? state)
    {
        if (IsDisposed)
        {
            return; // a continuation arriving after the loop is gone has nowhere to run
        }
        Enqueue(new WorkItem(callback, state));
    }

    private void Enqueue(WorkItem item)
    {
        _posted.Enqueue(item);
        WakeIfBlocked();
    }

    private void WakeIfBlocked()
    {
        // Only a sleeping loop needs the eventfd write (a syscall); only the first poster of a sleep writes it.
        if (Volatile.Read(ref _blocked) == 1 && Interlocked.Exchange(ref _blocked, 0) == 1 && !IsDisposed)
        {
            _selector.Wake();
        }
    }

    internal void OnTimerCancelled(TimerHandle timer)
    {
        // Remove it now so a cancelled long timer does not sit in the heap; the heap lock makes this safe from any
        // thread (the loop holds it only for heap operations, never while running a timer's action).
        lock (_timers)
        {
            _timers.Remove(timer);
        }
    }

    /// <summary>Busy share of wall time since the previous sample (for the utilization gauge).</summary>
    internal double TakeUtilizationSample()
    {
        long wall = Stopwatch.GetTimestamp();
        // The wait in progress counts too: an idle loop asleep in one long epoll_wait has added nothing to _pollTicks yet.
        long pollStart = _activity.PollStartTimestamp;
        long poll = Volatile.Read(ref _pollTicks) + (pollStart != 0 ? Math.Max(0, wall - pollStart) : 0);
        long dWall = wall - _utilizationMarkWall, dPoll = poll - _utilizationMarkPoll;
        _utilizationMarkWall = wall;
        _utilizationMarkPoll = poll;
        if (dWall <= 0 || !IsRunning)
        {
            return 0;
        }
        return Math.Clamp(1.0 - ((double)dPoll / dWall), 0, 1);
    }

    /// <summary>The loop-owned receive buffer TCP connections read into (one per loop, not one per connection).</summary>
    internal byte* ReadBuffer(int size)
    {
        if (_readBuffer == null)
        {
            _readBuffer = (byte*)NativeMemory.Alloc((nuint)size);
        }
        return _readBuffer;
    }

    private void ThrowIfDisposed()
    {
        if (IsDisposed)
        {
            throw new ObjectDisposedException(nameof(EventLoop), $"EventLoop '{Name}' was disposed; create a new loop.");
        }
    }

    private void ThrowIfOffLoopThread(string operation)
    {
        if (IsRunning && Volatile.Read(ref _loopThreadId) != Environment.CurrentManagedThreadId)
        {
            throw new InvalidOperationException(
                $"{operation} was called from thread {Environment.CurrentManagedThreadId} while EventLoop '{Name}' runs on thread {Volatile.Read(ref _loopThreadId)}. " +
                $"Call it from a handler, or hand it to the loop with loop.Post(() => ...).");
        }
    }

    /// <summary>One unit of posted work: an <see cref="Action"/> (in State), or a SynchronizationContext callback with its state.</summary>
    private readonly struct WorkItem
    {
        public WorkItem(Action action, bool isCompletion = false)
        {
            Callback = null;
            State = action;
            IsCompletion = isCompletion;
        }

        public WorkItem(SendOrPostCallback callback, object? state)
        {
            Callback = callback;
            State = state;
            IsCompletion = false;
        }

        /// <summary>An Offload completion: Dispose completes it instead of dropping it.</summary>
        public bool IsCompletion { get; }

        public SendOrPostCallback? Callback { get; }
        public object? State { get; }
    }
}
