using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NoBlock.IoUring;

/// <summary>
/// One connection's output on the io_uring backend: the bytes <c>Send</c> accepted, copied out of the caller's span
/// (valid only during the call) into pinned segments, until the kernel has taken them. At most one send is in flight
/// (stream sockets keep bytes in order only if the next send starts after the previous one completed); it covers the
/// unsent part of the head segment, so appends never move memory the kernel is reading.
/// </summary>
/// <remarks>
/// An idle connection holds no segment: each goes back to the loop's <see cref="SegmentPool"/> as soon as the
/// kernel has taken all of it. A segment with a send in flight is never returned early, even by <see cref="Drop"/>:
/// it waits for that send's completion.
/// </remarks>
internal sealed unsafe class SendQueue
{
    private readonly SegmentPool _pool;
    private readonly Queue<Segment> _segments = new();
    private Segment? _tail;
    private int _headStart;   // first unsent byte of the head segment
    private int _inFlight;    // bytes of the head segment handed to the kernel and not completed yet (0: none)
    private bool _dropped;

    public SendQueue(SegmentPool pool) => _pool = pool;

    /// <summary>Bytes accepted and not yet confirmed sent (including those in flight).</summary>
    public int Length { get; private set; }

    /// <summary>True while a send of this queue is in the kernel.</summary>
    public bool SendInFlight => _inFlight > 0;

    /// <summary>Copies <paramref name="data"/> in (after whatever is queued).</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_tail is null || _tail.Filled == _tail.Capacity)
            {
                _tail = _pool.Rent(data.Length);
                _segments.Enqueue(_tail);
            }
            int n = Math.Min(data.Length, _tail.Capacity - _tail.Filled);
            data[..n].CopyTo(new Span<byte>(_tail.Pointer + _tail.Filled, n));
            _tail.Filled += n;
            Length += n;
            data = data[n..];
        }
    }

    /// <summary>
    /// The next range to send when none is in flight (the unsent part of the head segment), marked in flight; false
    /// when a send is in flight already or nothing is queued.
    /// </summary>
    public bool TryStartSend(out byte* data, out int length)
    {
        data = null;
        length = 0;
        if (_inFlight > 0 || _segments.Count == 0)
        {
            return false;
        }
        var head = _segments.Peek();
        length = head.Filled - _headStart;
        if (length == 0)
        {
            return false;
        }
        data = head.Pointer + _headStart;
        _inFlight = length;
        return true;
    }

    /// <summary>The in-flight send completed having sent <paramref name="sent"/> bytes (≤ what was in flight; a short send leaves the rest queued).</summary>
    public void Completed(int sent)
    {
        if (_inFlight == 0)
        {
            throw new InvalidOperationException("No send is in flight.");
        }
        _inFlight = 0;
        if (_dropped)
        {
            ReleaseAll();
            return;
        }
        _headStart += sent;
        Length -= sent;
        var head = _segments.Peek();
        if (_headStart == head.Filled)
        {
            // All of it is in the kernel: give it back now (an idle connection holds no segment); a later append
            // rents a fresh one rather than reusing the rest of this one.
            _segments.Dequeue();
            if (head == _tail)
            {
                _tail = null;
            }
            _pool.Return(head);
            _headStart = 0;
        }
    }

    /// <summary>
    /// Drops the queued output (the connection closed, or aborted). What is in flight stays allocated until its
    /// completion (<see cref="Completed"/> then releases everything); with nothing in flight, all goes back now.
    /// </summary>
    public void Drop()
    {
        _dropped = true;
        Length = 0;
        if (_inFlight == 0)
        {
            ReleaseAll();
        }
    }

    private void ReleaseAll()
    {
        while (_segments.TryDequeue(out var s))
        {
            _pool.Return(s);
        }
        _tail = null;
        _headStart = 0;
    }
}

/// <summary>A pinned buffer (Pinned Object Heap: its address never moves) of one of two sizes.</summary>
internal sealed unsafe class Segment
{
    private readonly byte[] _memory;

    public Segment(int capacity)
    {
        _memory = GC.AllocateUninitializedArray<byte>(capacity, pinned: true);
        Pointer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_memory));
    }

    public byte* Pointer { get; }

    public int Capacity => _memory.Length;

    public int Filled { get; set; }
}

/// <summary>
/// The loop's free send segments (one pool per loop, used on its thread only). Small segments for the common small
/// reply, large ones when a send brings more; a bounded number of each is kept for reuse, the rest left to the GC.
/// </summary>
internal sealed class SegmentPool
{
    /// <summary>4 KiB: a typical reply (a ping-pong message, a response header) fits one, and a 1,000-connection burst of them is 4 MB.</summary>
    internal const int SmallSize = 4 * 1024;

    /// <summary>64 KiB: bulk output goes to the kernel in sends this large (the loopback MSS, and the default socket buffer's order).</summary>
    internal const int LargeSize = 64 * 1024;

    /// <summary>Free segments kept per size: enough for 1,000 connections' replies, bounded to 4 MB of each size.</summary>
    private const int MaxFreeSmall = 1024, MaxFreeLarge = 64;

    private readonly Stack<Segment> _small = new(), _large = new();

    /// <summary>Segments handed out and not returned (diagnostics, tests).</summary>
    public int Outstanding { get; private set; }

    public Segment Rent(int wanted)
    {
        Outstanding++;
        if (wanted <= SmallSize)
        {
            return _small.TryPop(out var s) ? s : new Segment(SmallSize);
        }
        return _large.TryPop(out var l) ? l : new Segment(LargeSize);
    }

    public void Return(Segment segment)
    {
        Outstanding--;
        segment.Filled = 0;
        var stack = segment.Capacity == SmallSize ? _small : _large;
        if (stack.Count < (segment.Capacity == SmallSize ? MaxFreeSmall : MaxFreeLarge))
        {
            stack.Push(segment);
        }
    }
}
