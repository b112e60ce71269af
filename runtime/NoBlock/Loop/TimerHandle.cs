namespace NoBlock;

/// <summary>A timer scheduled with <see cref="EventLoop.Schedule"/>. <see cref="Cancel"/> it to keep it from running.</summary>
public sealed class TimerHandle
{
    private readonly EventLoop _loop;
    private int _state; // 0 pending, 1 cancelled, 2 ran

    internal TimerHandle(EventLoop loop, long dueTimestamp, long sequence, Action action)
    {
        _loop = loop;
        DueTimestamp = dueTimestamp;
        Sequence = sequence;
        Action = action;
    }

    internal long DueTimestamp { get; }
    internal long Sequence { get; }
    internal Action Action { get; }
    internal int HeapIndex { get; set; } = -1;

    /// <summary>True once <see cref="Cancel"/> succeeded.</summary>
    public bool IsCancelled => Volatile.Read(ref _state) == 1;

    /// <summary>True once the action has started running.</summary>
    public bool HasRun => Volatile.Read(ref _state) == 2;

    /// <summary>
    /// Cancels the timer. Thread-safe. Returns true if the action will not run; false if it already ran (or is
    /// running) or was already cancelled.
    /// </summary>
    public bool Cancel()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            return false;
        }
        _loop.OnTimerCancelled(this);
        return true;
    }

    /// <summary>Marks the timer as running; false if it was cancelled first.</summary>
    internal bool TryMarkRunning() => Interlocked.CompareExchange(ref _state, 2, 0) == 0;
}

/// <summary>A binary min-heap of timers ordered by due time, then by scheduling order (so equal due times run FIFO).</summary>
internal sealed class TimerHeap
{
    private TimerHandle[] _items = new TimerHandle[16];

    public int Count { get; private set; }

    public TimerHandle? Peek() => Count > 0 ? _items[0] : null;

    public void Add(TimerHandle timer)
    {
        if (Count == _items.Length)
        {
            Array.Resize(ref _items, _items.Length * 2);
        }
        _items[Count] = timer;
        timer.HeapIndex = Count;
        Count++;
        Up(Count - 1);
    }

    public TimerHandle Pop()
    {
        var top = _items[0];
        RemoveAt(0);
        return top;
    }

    public void Remove(TimerHandle timer)
    {
        int i = timer.HeapIndex;
        if (i >= 0 && i < Count && ReferenceEquals(_items[i], timer))
        {
            RemoveAt(i);
        }
    }

    public void Clear()
    {
        Array.Clear(_items, 0, Count);
        Count = 0;
    }

    private void RemoveAt(int i)
    {
        var removed = _items[i];
        Count--;
        if (i != Count)
        {
            _items[i] = _items[Count];
            _items[i].HeapIndex = i;
            _items[Count] = null!;
            Down(i);
            Up(i);
        }
        else
        {
            _items[Count] = null!;
        }
        removed.HeapIndex = -1;
    }

    private static bool Less(TimerHandle a, TimerHandle b)
        => a.DueTimestamp < b.DueTimestamp || (a.DueTimestamp == b.DueTimestamp && a.Sequence < b.Sequence);

    private void Up(int i)
    {
        while (i > 0)
        {
            int parent = (i - 1) / 2;
            if (!Less(_items[i], _items[parent]))
            {
                break;
            }
            Swap(i, parent);
            i = parent;
        }
    }

    private void Down(int i)
    {
        while (true)
        {
            int l = (2 * i) + 1, r = l + 1, min = i;
            if (l < Count && Less(_items[l], _items[min]))
            {
                min = l;
            }
            if (r < Count && Less(_items[r], _items[min]))
            {
                min = r;
            }
            if (min == i)
            {
                return;
            }
            Swap(i, min);
            i = min;
        }
    }

    private void Swap(int a, int b)
    {
        (_items[a], _items[b]) = (_items[b], _items[a]);
        _items[a].HeapIndex = a;
        _items[b].HeapIndex = b;
    }
}
