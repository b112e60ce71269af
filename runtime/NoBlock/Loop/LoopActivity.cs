using System.Diagnostics;

namespace NoBlock;

/// <summary>
/// What the loop thread is doing right now, for the stall watchdog (which runs on another thread).
/// <para>
/// Written only by the loop thread, cheaply: before each dispatch (fd handler, timer or posted action) it stores
/// the handler, its fd and events, then publishes a start timestamp with <see cref="Volatile.Write(ref long, long)"/>;
/// after the handler returns it clears the timestamp. Around <c>epoll_wait</c> — bracketed exactly once per
/// turn, in <see cref="EventLoop"/>'s poll phase — it publishes <see cref="PollStartTimestamp"/> ("waiting in the
/// kernel", which is never a stall).
/// </para>
/// <para>
/// How a watchdog reads it: call <see cref="TryGetCurrentHandler"/>; it returns false when no handler runs (idle
/// or in <c>epoll_wait</c>). Elapsed time is <c>Stopwatch.GetTimestamp() - startTimestamp</c>. To see whether
/// the thread is on CPU or sleeping in a syscall, read <c>/proc/self/task/{<see cref="OsThreadId"/>}/stat</c>
/// (state field) and <c>/proc/self/task/{OsThreadId}/syscall</c>.
/// </para>
/// </summary>
internal sealed class LoopActivity
{
    private long _handlerStart;     // Stopwatch timestamp; 0 while no handler runs
    private long _lastStart;        // keeps start timestamps strictly increasing, so a reader can detect a change
    private object? _handler;       // IoHandler/Action delegate, or an IRegistrationOwner (e.g. a TcpConnection)
    private int _fd = -1;
    private uint _events;
    private long _pollStart;        // Stopwatch timestamp of entering epoll_wait; 0 while not in it
    private int _osThreadId = -1;
    private int _managedThreadId = -1;
    private int _endWanted;         // set by the watchdog after it reported a stall: record when that handler ends
    private long _endedStart, _endedAt;

    /// <summary>The loop thread's kernel thread id (gettid), recorded when <see cref="EventLoop.Run"/> starts; -1 before.</summary>
    public int OsThreadId => Volatile.Read(ref _osThreadId);

    /// <summary>The loop thread's managed thread id, recorded when <see cref="EventLoop.Run"/> starts; -1 before.</summary>
    public int ManagedThreadId => Volatile.Read(ref _managedThreadId);

    /// <summary>Timestamp at which the loop entered <c>epoll_wait</c>, or 0 when it is not waiting in the kernel.</summary>
    public long PollStartTimestamp => Volatile.Read(ref _pollStart);

    internal void RecordThread(int osThreadId, int managedThreadId)
    {
        Volatile.Write(ref _osThreadId, osThreadId);
        Volatile.Write(ref _managedThreadId, managedThreadId);
    }

    /// <summary>Publishes the handler about to run; returns its start timestamp (also the handler-duration metric's start).</summary>
    internal long BeginHandler(object handler, int fd, IoEvents events)
    {
        _handler = handler;
        _fd = fd;
        _events = (uint)events;
        long now = Stopwatch.GetTimestamp();
        if (now <= _lastStart)
        {
            now = _lastStart + 1;
        }
        _lastStart = now;
        Volatile.Write(ref _handlerStart, now);
        return now;
    }

    internal void EndHandler()
    {
        if (Volatile.Read(ref _endWanted) != 0)
        {
            RecordEnd();
        }
        Volatile.Write(ref _handlerStart, 0);
    }

    private void RecordEnd()
    {
        _endedAt = Stopwatch.GetTimestamp();
        Volatile.Write(ref _endedStart, _handlerStart);
        Volatile.Write(ref _endWanted, 0);
    }

    /// <summary>Asks the loop to record when the running handler returns (the watchdog's "stall ended after N ms").</summary>
    public void RequestEndTimestamp() => Volatile.Write(ref _endWanted, 1);

    /// <summary>When the handler that started at <paramref name="startTimestamp"/> returned, if it was recorded.</summary>
    public bool TryGetEndTimestamp(long startTimestamp, out long endTimestamp)
    {
        bool same = Volatile.Read(ref _endedStart) == startTimestamp; // acquire: _endedAt was written before it
        endTimestamp = Volatile.Read(ref _endedAt);
        return same && endTimestamp != 0;
    }

    internal void EnterPoll() => Volatile.Write(ref _pollStart, Stopwatch.GetTimestamp());

    internal void LeavePoll()
    {
        Volatile.Write(ref _pollStart, 0);
    }

    /// <summary>
    /// Reads the running handler consistently (retrying if the loop moved on while it read). False when no
    /// handler is running.
    /// </summary>
    public bool TryGetCurrentHandler(out long startTimestamp, out object? handler, out int fd, out IoEvents events)
    {
        for (int attempt = 0; attempt < 8; attempt++)
        {
            long before = Volatile.Read(ref _handlerStart);
            if (before == 0)
            {
                break;
            }
            handler = Volatile.Read(ref _handler);
            fd = Volatile.Read(ref _fd);
            events = (IoEvents)Volatile.Read(ref _events);
            if (Volatile.Read(ref _handlerStart) == before)
            {
                startTimestamp = before;
                return true;
            }
        }
        startTimestamp = 0;
        handler = null;
        fd = -1;
        events = IoEvents.None;
        return false;
    }
}
