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
    /// Queues <paramref name="length"/> bytes at <paramref name="data"/> without copying them: they are in receive
    /// buffer <paramref name="bufferId"/>, lent by the buffer ring (<see cref="IoUringBufferRing.TryLend"/>) until
    /// they are sent or dropped, when the pool returns the lend.
    /// </summary>
    public void AppendLent(byte* data, int length, ushort bufferId)
    {
        var shell = _pool.RentLent(data, length, bufferId);
        _segments.Enqueue(shell);
        _tail = shell; // full: the next Append rents a segment after it
        Length += length;
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

/// <summary>
/// A pinned buffer (Pinned Object Heap: its address never moves) of one of two sizes, or a <em>lent</em> shell: a
/// range of a receive buffer sent without a copy (<see cref="SendQueue.AppendLent"/>).
/// </summary>
internal sealed unsafe class Segment
{
    private readonly byte[]? _memory;

    public Segment(int capacity)
    {
        _memory = GC.AllocateUninitializedArray<byte>(capacity, pinned: true);
        Pointer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_memory));
        Capacity = capacity;
    }

    private Segment()
    {
    }

    /// <summary>A shell for lent memory (kept and reused by the pool: lending allocates nothing).</summary>
    internal static Segment Shell() => new();

    public byte* Pointer { get; private set; }

    public int Capacity { get; private set; }

    public int Filled { get; set; }

    /// <summary>True for a shell over a lent receive buffer.</summary>
    public bool IsLent => _memory is null;

    /// <summary>The receive buffer a shell points into.</summary>
    public ushort BufferId { get; private set; }

    internal void Point(byte* data, int length, ushort bufferId)
    {
        Pointer = data;
        Capacity = Filled = length;
        BufferId = bufferId;
    }
}

/// <summary>
/// The loop's free send segments (one pool per loop, used on its thread only). Small segments for the common small
/// reply, large ones when a send brings more; a bounded number of each is kept for reuse, the rest left to the GC.
/// </summary>
internal sealed unsafe class SegmentPool
{
    /// <summary>4 KiB: a typical reply (a ping-pong message, a response header) fits one, and a 1,000-connection burst of them is 4 MB.</summary>
    internal const int SmallSize = 4 * 1024;

    /// <summary>64 KiB: bulk output goes to the kernel in sends this large (the loopback MSS, and the default socket buffer's order).</summary>
    internal const int LargeSize = 64 * 1024;

    /// <summary>
    /// Free segments kept per size. Small: enough for 1,000 connections' replies (4 MiB). Large: 256 (16 MiB), what
    /// 64 streaming connections hold at once (each up to its high-water mark plus a receive's worth and the send in
    /// flight, 2–3 segments). With 64 kept, the streaming benchmark dropped and re-allocated ≈ 1,900 segments a
    /// second: pinned arrays on the Pinned Object Heap, each collection of which is a gen2 GC (57 in 4 s), and fresh
    /// pages faulted in on every first write (bench/RESULTS.md, issue 15 profile). The pool only keeps what was in
    /// use at once, so a loop that never streams never holds more than it used.
    /// </summary>
    private const int MaxFreeSmall = 1024, MaxFreeLarge = 256;

    /// <summary>Shells kept for lent ranges: one per connection's output in flight at 1,000 connections.</summary>
    private const int MaxFreeShells = 1024;

    private readonly Stack<Segment> _small = new(), _large = new(), _shells = new();
    private readonly IoUringBufferRing? _lender;

    public SegmentPool()
    {
    }

    /// <summary>A pool whose lent shells return their lends to <paramref name="lender"/>.</summary>
    public SegmentPool(IoUringBufferRing lender) => _lender = lender;

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

    /// <summary>A shell over <paramref name="length"/> lent bytes of receive buffer <paramref name="bufferId"/>.</summary>
    public Segment RentLent(byte* data, int length, ushort bufferId)
    {
        Outstanding++;
        var shell = _shells.TryPop(out var s) ? s : Segment.Shell();
        shell.Point(data, length, bufferId);
        return shell;
    }

    public void Return(Segment segment)
    {
        Outstanding--;
        if (segment.IsLent)
        {
            _lender?.ReturnLend(segment.BufferId); // the kernel has taken the bytes (or they were dropped)
            segment.Point(null, 0, 0);
            if (_shells.Count < MaxFreeShells)
            {
                _shells.Push(segment);
            }
            return;
        }
        segment.Filled = 0;
        var stack = segment.Capacity == SmallSize ? _small : _large;
        if (stack.Count < (segment.Capacity == SmallSize ? MaxFreeSmall : MaxFreeLarge))
        {
            stack.Push(segment);
        }
    }
}
