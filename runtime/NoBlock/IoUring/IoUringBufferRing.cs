using System.Runtime.InteropServices;
using NoBlock.Interop;

namespace NoBlock.IoUring;

/// <summary>
/// A provided-buffer ring (IORING_REGISTER_PBUF_RING, 5.19): <see cref="Count"/> buffers of
/// <see cref="BufferSize"/> bytes the kernel picks from when a buffer-select receive (multishot recv) has data.
/// The completion names the buffer it filled; the receiver reads it (<see cref="Take"/> says where), then hands it
/// back with <see cref="Recycle"/>. When every buffer is out, such receives complete with -ENOBUFS and end; re-arm
/// them after recycling. Not thread-safe: the ring's owner thread takes and recycles.
/// <para>
/// <b>Incremental</b> rings (IOU_PBUF_RING_INC, 6.12) let a receive take only the bytes it needs from the head
/// buffer: small messages of many connections share one buffer, and large buffers cost nothing per small receive.
/// Each completion's bytes then start where the previous completion for that buffer ended (we count, the kernel
/// does not say), and the buffer stays the kernel's while completions carry IORING_CQE_F_BUF_MORE.
/// </para>
/// </summary>
internal sealed unsafe class IoUringBufferRing : IDisposable
{
    private readonly IoUringRing _ring;
    private readonly IoUringBuf* _entries;    // the ring the kernel reads: page-aligned, Count entries of 16 bytes
    private readonly nuint _entriesSize;
    private readonly byte* _buffers;          // Count * BufferSize bytes of buffer memory
    private readonly ushort* _tail;           // struct io_uring_buf_ring's tail: overlays bufs[0].resv
    private readonly ushort _mask;
    private ushort _localTail;
    private readonly int[]? _consumed;        // incremental: bytes of each buffer completions have handed out
    private long _outstanding;                // picked by the kernel (seen in a completion) and not recycled yet
    private readonly int[] _lent;             // sends in flight or queued that point into each buffer (Lend)
    private readonly bool[] _recycleWhenReturned; // the buffer's last completion was used while it was lent
    private bool _disposed;

    private IoUringBufferRing(IoUringRing ring, ushort group, int count, int size, bool incremental, IoUringBuf* entries, nuint entriesSize, byte* buffers)
    {
        _ring = ring;
        GroupId = group;
        IsIncremental = incremental;
        _consumed = incremental ? new int[count] : null;
        _lent = new int[count];
        _recycleWhenReturned = new bool[count];
        Count = count;
        BufferSize = size;
        _entries = entries;
        _entriesSize = entriesSize;
        _buffers = buffers;
        _tail = (ushort*)((byte*)entries + 14); // offsetof(struct io_uring_buf_ring, tail)
        _mask = (ushort)(count - 1);
        for (int i = 0; i < count; i++)
        {
            Add((ushort)i);
        }
        Publish();
    }

    /// <summary>The buffer group id (<c>bgid</c>) that buffer-select SQEs name.</summary>
    public ushort GroupId { get; }

    public int Count { get; }

    public int BufferSize { get; }

    /// <summary>True when receives consume buffers a part at a time (IOU_PBUF_RING_INC).</summary>
    public bool IsIncremental { get; }

    /// <summary>Buffers filled by the kernel and not recycled yet (as far as completions have told us).</summary>
    public long Outstanding => _outstanding;

    /// <summary>Buffers at least one queued send points into (<see cref="TryLend"/>): kept from the kernel until the sends are done.</summary>
    public int LentBuffers { get; private set; }

    /// <summary>
    /// At most half the buffers are lent at once: a peer that never reads holds its lent buffers until it does, and
    /// the other half keeps every connection receiving (the rest of its output is copied, as before lending).
    /// </summary>
    public int MaxLentBuffers => Count / 2;

    /// <summary>
    /// Lends buffer <paramref name="id"/> to a send (its bytes are sent straight from the ring instead of copied):
    /// its recycle waits until every lend is returned (<see cref="ReturnLend"/>). False when
    /// <see cref="MaxLentBuffers"/> are lent already (copy instead).
    /// </summary>
    public bool TryLend(ushort id)
    {
        if (_lent[id] == 0)
        {
            if (LentBuffers >= MaxLentBuffers)
            {
                return false;
            }
            LentBuffers++;
        }
        _lent[id]++;
        return true;
    }

    /// <summary>A send that pointed into buffer <paramref name="id"/> is done: the buffer is recycled if its recycle waited for it.</summary>
    public void ReturnLend(ushort id)
    {
        if (--_lent[id] > 0)
        {
            return;
        }
        LentBuffers--;
        if (_recycleWhenReturned[id])
        {
            _recycleWhenReturned[id] = false;
            RecycleNow(id);
        }
    }

    /// <summary>
    /// Registers <paramref name="count"/> buffers (a power of two, at most 32768) of <paramref name="bufferSize"/>
    /// bytes as group <paramref name="group"/> on <paramref name="ring"/>. Null with <paramref name="err"/> if the
    /// kernel refuses (EINVAL before 5.19; EEXIST if the group is taken).
    /// </summary>
    public static IoUringBufferRing? Create(IoUringRing ring, ushort group, int count, int bufferSize, out Errno err) =>
        Create(ring, group, count, bufferSize, incremental: false, out err);

    /// <summary>As above; <paramref name="incremental"/> asks for IOU_PBUF_RING_INC (EINVAL before 6.12).</summary>
    public static IoUringBufferRing? Create(IoUringRing ring, ushort group, int count, int bufferSize, bool incremental, out Errno err)
    {
        if (count <= 0 || count > 32768 || (count & (count - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "A provided-buffer ring holds a power of two of buffers, at most 32768.");
        }
        if (bufferSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bufferSize), bufferSize, "Buffers must have a positive size.");
        }
        nuint page = IoUringSys.PageSize;
        nuint entriesSize = ((nuint)(count * sizeof(IoUringBuf)) + page - 1) & ~(page - 1);
        var entries = (IoUringBuf*)IoUringSys.MapAnonymous(entriesSize, out err);
        if (entries == null)
        {
            return null;
        }
        var buffers = (byte*)NativeMemory.AlignedAlloc((nuint)count * (nuint)bufferSize, 64);
        IoUringBufReg reg = default;
        reg.RingAddr = (ulong)entries;
        reg.RingEntries = (uint)count;
        reg.Bgid = group;
        reg.Flags = incremental ? IoUringPbufRingFlags.Incremental : (ushort)0;
        if (ring.Register(IoUringRegisterOp.RegisterPbufRing, &reg, 1, out err) < 0)
        {
            NativeMemory.AlignedFree(buffers);
            IoUringSys.Unmap(entries, entriesSize);
            return null;
        }
        return new IoUringBufferRing(ring, group, count, bufferSize, incremental, entries, entriesSize, buffers);
    }

    /// <summary>The memory of buffer <paramref name="id"/>.</summary>
    public byte* Buffer(ushort id) => _buffers + ((nint)id * BufferSize);

    /// <summary>Notes that a completion handed us buffer <paramref name="id"/> (for <see cref="Outstanding"/>).</summary>
    public void Taken(ushort id) => _outstanding++;

    /// <summary>
    /// Where the <paramref name="length"/> bytes of a receive completion on buffer <paramref name="id"/> are, and
    /// whether the buffer goes back to the kernel (<see cref="Recycle"/>) once they are used: always for a fixed
    /// ring; for an incremental one, when the completion lacks IORING_CQE_F_BUF_MORE. Call it once per completion,
    /// in completion order.
    /// </summary>
    public byte* Take(ushort id, int length, uint cqeFlags, out bool recycleAfter)
    {
        _outstanding++;
        if (_consumed is null)
        {
            recycleAfter = true;
            return Buffer(id);
        }
        byte* data = Buffer(id) + _consumed[id];
        _consumed[id] += length;
        recycleAfter = (cqeFlags & IoUringCqeFlags.BufMore) == 0;
        if (!recycleAfter)
        {
            _outstanding--; // still the kernel's: counted once, when its last completion comes
        }
        return data;
    }

    /// <summary>
    /// Gives buffer <paramref name="id"/> back to the kernel: visible to the next receive at once, or, while a send
    /// points into it (<see cref="TryLend"/>), when the last such send is done.
    /// </summary>
    public void Recycle(ushort id)
    {
        if (_lent[id] > 0)
        {
            _recycleWhenReturned[id] = true;
            return;
        }
        RecycleNow(id);
    }

    private void RecycleNow(ushort id)
    {
        if (_disposed)
        {
            return; // the memory is gone; the kernel reads no ring any more
        }
        if (_consumed is not null)
        {
            _consumed[id] = 0;
        }
        Add(id);
        Publish();
        _outstanding--;
    }

    private void Add(ushort id)
    {
        var e = &_entries[_localTail & _mask];
        e->Addr = (ulong)Buffer(id);
        e->Len = (uint)BufferSize;
        e->Bid = id;
        _localTail++;
    }

    // release: the entries are written before the kernel can see the new tail
    private void Publish() => Volatile.Write(ref *_tail, _localTail);

    /// <summary>
    /// Unregisters the group and frees its memory. Call it only when no request that may pick a buffer is in the
    /// kernel (after <see cref="IoUringRing.CancelAllAndDrain"/>), or before the ring is closed with none armed.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        IoUringBufReg reg = default;
        reg.Bgid = GroupId;
        if (!_ring.IsDisposed)
        {
            _ring.Register(IoUringRegisterOp.UnregisterPbufRing, &reg, 1, out _); // closing the ring unregisters it too
        }
        NativeMemory.AlignedFree(_buffers);
        IoUringSys.Unmap(_entries, _entriesSize);
    }
}
