using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NoBlock.Interop;

namespace NoBlock.IoUring;

/// <summary>
/// One io_uring instance: the ring fd, its submission and completion rings mapped into our memory, and the
/// bookkeeping a single-threaded user needs (SQEs handed out but not yet submitted, requests still in the kernel).
/// Not thread-safe: one thread fills SQEs, submits and reaps, like the loop that owns it. The one exception is
/// <see cref="PeekCompletions"/>, which diagnostics call from other threads (the watchdog's).
/// </summary>
/// <remarks>
/// Memory ordering is the io_uring contract (io_uring(7), "Submission queue polling" and liburing's barriers): we
/// publish the SQ tail with a release store after filling the SQEs, read the CQ tail with an acquire load before
/// reading CQEs, and publish the CQ head with a release store after copying them out.
/// </remarks>
internal sealed unsafe class IoUringRing : IDisposable
{
    /// <summary>
    /// user_data values with this bit set were not submitted on this ring (IORING_OP_MSG_RING messages from another
    /// ring, or a ring-less sender): their completions do not end a request of ours, so they are not counted in
    /// <see cref="InFlight"/>. Our own user_data never sets it.
    /// </summary>
    public const ulong ForeignUserDataBit = 1UL << 63;

    /// <summary>user_data of requests whose completions nobody reads (drain-time cancels): counted, then dropped.</summary>
    public const ulong IgnoredUserData = ForeignUserDataBit - 1;

    private readonly int _fd;
    private readonly FdHandle _handle;
    private readonly RingMemory _memory;    // the mappings; unmapped when Dispose and the last PeekCompletions are done
    private readonly IoUringSqe* _sqes;
    private readonly uint* _sqHead, _sqTail, _sqFlags, _sqArray;
    private readonly uint* _cqHead, _cqTail, _cqOverflow;
    private readonly IoUringCqe* _cqes;
    private readonly uint _sqMask, _cqMask;
    private uint _sqLocalTail;              // SQEs handed out (not yet published to the kernel below _sqPublished)
    private uint _sqSubmitted;              // the tail the kernel has been told about in io_uring_enter
    private long _inFlight;
    private bool _disposed;

    private IoUringRing(int fd, in IoUringParams p, byte* ring, nuint ringSize, byte* cq, nuint cqSize, IoUringSqe* sqes, nuint sqesSize)
    {
        _fd = fd;
        _handle = new FdHandle(fd);
        Flags = p.Flags;
        Features = p.Features;
        SqEntries = p.SqEntries;
        CqEntries = p.CqEntries;
        _memory = new RingMemory(ring, ringSize, cq, cqSize, sqes, sqesSize);
        _sqes = sqes;
        _sqHead = (uint*)(ring + p.SqOff.Head);
        _sqTail = (uint*)(ring + p.SqOff.Tail);
        _sqFlags = (uint*)(ring + p.SqOff.Flags);
        _sqArray = (uint*)(ring + p.SqOff.Array);
        _sqMask = *(uint*)(ring + p.SqOff.RingMask);
        _cqHead = (uint*)(cq + p.CqOff.Head);
        _cqTail = (uint*)(cq + p.CqOff.Tail);
        _cqOverflow = (uint*)(cq + p.CqOff.Overflow);
        _cqMask = *(uint*)(cq + p.CqOff.RingMask);
        _cqes = (IoUringCqe*)(cq + p.CqOff.Cqes);
        // The SQ array maps ring slots to SQE indices; an identity map, written once, lets us fill SQEs in place.
        for (uint i = 0; i < SqEntries; i++)
        {
            _sqArray[i] = i;
        }
        _sqLocalTail = _sqSubmitted = *_sqTail;
    }

    /// <summary>The ring's fd (for IORING_OP_MSG_RING senders and diagnostics).</summary>
    public int Fd => _fd;

    /// <summary>IORING_SETUP_* flags the ring was created with.</summary>
    public uint Flags { get; }

    /// <summary>IORING_FEAT_* the kernel reported.</summary>
    public uint Features { get; }

    public uint SqEntries { get; }

    public uint CqEntries { get; }

    /// <summary>SQEs handed out by <see cref="GetSqe"/> and not yet submitted.</summary>
    public uint Unsubmitted => _sqLocalTail - _sqSubmitted;

    /// <summary>Requests submitted (or handed out) whose final completion (one without IORING_CQE_F_MORE) has not been reaped.</summary>
    public long InFlight => _inFlight;

    /// <summary>Completions waiting in the CQ ring (not counting the kernel's overflow list).</summary>
    public uint Ready => Volatile.Read(ref *_cqTail) - *_cqHead;

    /// <summary>
    /// True when the kernel holds completions it could not post yet: the CQ overflowed (IORING_SQ_CQ_OVERFLOW) or,
    /// with IORING_SETUP_TASKRUN_FLAG, work waits for us to enter the kernel (IORING_SQ_TASKRUN). An enter with
    /// GETEVENTS flushes both.
    /// </summary>
    public bool KernelHoldsCompletions => (Volatile.Read(ref *_sqFlags) & (IoUringSqRingFlags.CqOverflow | IoUringSqRingFlags.Taskrun)) != 0;

    /// <summary>CQEs the kernel dropped because the CQ was full (only without IORING_FEAT_NODROP).</summary>
    public uint Overflowed => Volatile.Read(ref *_cqOverflow);

    public bool IsDisposed => _disposed;

    public bool HasFeature(uint feature) => (Features & feature) == feature;

    /// <summary>
    /// Creates a ring with <paramref name="sqEntries"/> submission slots and at least <paramref name="cqEntries"/>
    /// completion slots (IORING_SETUP_CQSIZE; both clamped to the kernel's limits with IORING_SETUP_CLAMP).
    /// <paramref name="flags"/> are extra IORING_SETUP_* flags. Null with <paramref name="err"/> if the kernel
    /// refuses (ENOSYS: no io_uring; EPERM: io_uring_disabled or seccomp; EINVAL: a flag it does not know; ENOMEM:
    /// locked-memory limit).
    /// </summary>
    public static IoUringRing? Create(uint sqEntries, uint cqEntries, uint flags, out Errno err)
    {
        IoUringParams p = default;
        p.Flags = flags | IoUringSetupFlags.CqSize | IoUringSetupFlags.Clamp;
        p.CqEntries = cqEntries;
        int fd = IoUringSys.Setup(sqEntries, &p, out err);
        if (fd < 0)
        {
            return null;
        }
        nuint sqRingSize = p.SqOff.Array + (p.SqEntries * sizeof(uint));
        nuint cqRingSize = p.CqOff.Cqes + (p.CqEntries * (uint)sizeof(IoUringCqe));
        bool single = (p.Features & IoUringFeatures.SingleMmap) != 0;
        if (single)
        {
            sqRingSize = cqRingSize = Math.Max(sqRingSize, cqRingSize);
        }
        byte* ring = (byte*)IoUringSys.MapRing(fd, sqRingSize, IoUringMmapOffsets.SqRing, out err);
        if (ring == null)
        {
            Sys.Close(fd);
            return null;
        }
        byte* cq = ring;
        if (!single)
        {
            cq = (byte*)IoUringSys.MapRing(fd, cqRingSize, IoUringMmapOffsets.CqRing, out err);
            if (cq == null)
            {
                IoUringSys.Unmap(ring, sqRingSize);
                Sys.Close(fd);
                return null;
            }
        }
        nuint sqesSize = p.SqEntries * (uint)sizeof(IoUringSqe);
        var sqes = (IoUringSqe*)IoUringSys.MapRing(fd, sqesSize, IoUringMmapOffsets.Sqes, out err);
        if (sqes == null)
        {
            if (!single)
            {
                IoUringSys.Unmap(cq, cqRingSize);
            }
            IoUringSys.Unmap(ring, sqRingSize);
            Sys.Close(fd);
            return null;
        }
        return new IoUringRing(fd, p, ring, sqRingSize, cq, single ? 0 : cqRingSize, sqes, sqesSize);
    }

    /// <summary>
    /// A zeroed SQE to fill in, counted as in flight from now on; null when the SQ is full (submit, then ask
    /// again). It is submitted by the next <see cref="Submit"/> or <see cref="SubmitAndWait"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public IoUringSqe* GetSqe()
    {
        uint head = Volatile.Read(ref *_sqHead);
        if (_sqLocalTail - head >= SqEntries)
        {
            return null;
        }
        var sqe = &_sqes[_sqLocalTail & _sqMask];
        *sqe = default;
        _sqLocalTail++;
        _inFlight++;
        return sqe;
    }

    /// <summary>
    /// Like <see cref="GetSqe"/>, but when the SQ is full it first submits what is queued (one io_uring_enter
    /// without waiting). Null only if that submission fails (the error is in <paramref name="err"/>).
    /// </summary>
    public IoUringSqe* GetSqeOrSubmit(out Errno err)
    {
        err = default;
        var sqe = GetSqe();
        if (sqe != null)
        {
            return sqe;
        }
        if (Submit(out err) < 0 && !err.IsBusy)
        {
            return null;
        }
        return GetSqe();
    }

    /// <summary>Submits the queued SQEs without waiting: the number consumed, or -1 with <paramref name="err"/>.</summary>
    public int Submit(out Errno err) => Enter(0, waitNanos: 0, getEvents: false, out err);

    /// <summary>
    /// Submits the queued SQEs and waits until at least <paramref name="minComplete"/> completions are ready or
    /// <paramref name="timeoutNanos"/> passed (-1: no limit; 0: do not wait, only flush completions). Returns the
    /// SQEs consumed, or -1 with <paramref name="err"/>; a timeout that expired is not an error (returns ≥ 0).
    /// </summary>
    public int SubmitAndWait(uint minComplete, long timeoutNanos, out Errno err) => Enter(minComplete, timeoutNanos, getEvents: true, out err);

    private int Enter(uint minComplete, long waitNanos, bool getEvents, out Errno err)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        uint toSubmit = _sqLocalTail - _sqSubmitted;
        Volatile.Write(ref *_sqTail, _sqLocalTail); // release: the SQEs' contents are visible before the new tail
        uint flags = 0;
        KernelTimespec ts = default;
        IoUringGeteventsArg arg = default;
        void* argPtr = null;
        nuint argSize = 0;
        if (getEvents)
        {
            flags |= IoUringEnterFlags.GetEvents;
            if (waitNanos >= 0 && minComplete > 0)
            {
                ts.TvSec = waitNanos / 1_000_000_000;
                ts.TvNsec = waitNanos % 1_000_000_000;
                arg.Ts = (ulong)&ts;
                flags |= IoUringEnterFlags.ExtArg;
                argPtr = &arg;
                argSize = (nuint)sizeof(IoUringGeteventsArg);
            }
        }
        int n = IoUringSys.Enter(_fd, toSubmit, minComplete, flags, argPtr, argSize, out err);
        if (n >= 0)
        {
            _sqSubmitted += (uint)n;
            return n;
        }
        if (err.IsTimerExpired)
        {
            // ETIME: the wait ended on the timeout. The submission part still happened (the kernel consumed them).
            _sqSubmitted = Volatile.Read(ref *_sqHead);
            err = default;
            return (int)toSubmit;
        }
        // EINTR, EBUSY/EAGAIN: the kernel may have consumed some SQEs before it stopped; its head says how many.
        _sqSubmitted = Volatile.Read(ref *_sqHead);
        return -1;
    }

    /// <summary>
    /// Copies up to <paramref name="into"/>.Length ready completions out of the CQ ring and frees their slots.
    /// Returns how many; a completion without IORING_CQE_F_MORE ends its request (<see cref="InFlight"/> drops).
    /// </summary>
    public int TakeCompletions(Span<IoUringCqe> into)
    {
        uint head = *_cqHead;
        uint tail = Volatile.Read(ref *_cqTail); // acquire: the CQEs below the tail are written
        int n = (int)Math.Min(tail - head, (uint)into.Length);
        for (int i = 0; i < n; i++)
        {
            var cqe = _cqes[(head + (uint)i) & _cqMask];
            into[i] = cqe;
            if (!cqe.HasMore && (cqe.UserData & ForeignUserDataBit) == 0)
            {
                _inFlight--;
            }
        }
        Volatile.Write(ref *_cqHead, head + (uint)n); // release: we are done reading those slots
        return n;
    }

    /// <summary>
    /// Before teardown: cancels every request still in the kernel and reaps completions until none is in flight,
    /// or <paramref name="limit"/> passed. Each completion reaped is handed to <paramref name="onCompletion"/> (so
    /// an accept that completed meanwhile can close its fd, a buffer can be freed). True when nothing is in flight:
    /// then the kernel no longer reads or writes any memory those requests pointed at.
    /// </summary>
    public bool CancelAllAndDrain(TimeSpan limit, Action<IoUringCqe>? onCompletion)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        Span<IoUringCqe> batch = stackalloc IoUringCqe[64];
        bool cancelOutstanding = false, cancelFoundNothing = false;
        while (_inFlight > 0)
        {
            // One cancel of everything at a time (queued after whatever is unsubmitted, so it sees those armed too).
            // Once a cancel finds nothing, what remains is running and cannot be cancelled: wait for it.
            if (!cancelOutstanding && !cancelFoundNothing)
            {
                var sqe = GetSqeOrSubmit(out _);
                if (sqe != null)
                {
                    IoUringPrep.CancelAny(sqe, IgnoredUserData);
                    cancelOutstanding = true;
                }
            }
            long left = deadline - Stopwatch.GetTimestamp();
            if (left <= 0)
            {
                return false;
            }
            long nanos = (long)(left * (1_000_000_000.0 / Stopwatch.Frequency));
            if (SubmitAndWait(1, nanos, out var err) < 0 && !err.IsInterrupted && !err.IsBusy)
            {
                return false;
            }
            int n;
            while ((n = TakeCompletions(batch)) > 0)
            {
                for (int i = 0; i < n; i++)
                {
                    if (batch[i].UserData == IgnoredUserData)
                    {
                        cancelOutstanding = false;
                        cancelFoundNothing = batch[i].Res <= 0;
                    }
                    else
                    {
                        onCompletion?.Invoke(batch[i]);
                    }
                }
            }
        }
        return true;
    }

    /// <summary>IORING_REGISTER_PROBE: which opcodes this kernel implements (indexed by opcode), or null with <paramref name="err"/>.</summary>
    public bool[]? ProbeOps(out Errno err)
    {
        const int MaxOps = 256;
        int size = sizeof(IoUringProbe) + (MaxOps * sizeof(IoUringProbeOp));
        byte* buffer = stackalloc byte[size];
        new Span<byte>(buffer, size).Clear();
        if (IoUringSys.Register(_fd, IoUringRegisterOp.RegisterProbe, buffer, MaxOps, out err) < 0)
        {
            return null;
        }
        var probe = (IoUringProbe*)buffer;
        var ops = (IoUringProbeOp*)(buffer + sizeof(IoUringProbe));
        var supported = new bool[MaxOps];
        for (int i = 0; i < probe->OpsLen && i < MaxOps; i++)
        {
            supported[ops[i].Op] = (ops[i].Flags & IoUringProbeOpFlags.Supported) != 0;
        }
        return supported;
    }

    /// <summary>io_uring_register with this ring's fd.</summary>
    internal int Register(uint opcode, void* arg, uint nrArgs, out Errno err) => IoUringSys.Register(_fd, opcode, arg, nrArgs, out err);

    /// <summary>
    /// Copies the completions waiting in the CQ ring (posted by the kernel, not yet taken by the owner) into
    /// <paramref name="into"/>, without taking them: how many were waiting (possibly more than were copied), or -1
    /// when the ring is disposed. <paramref name="overflowed"/>: the kernel holds more in its overflow list
    /// (IORING_SQ_CQ_OVERFLOW). Thread-safe, for diagnostics on another thread while the owner runs (or is stuck):
    /// the mapping is referenced for the duration of the read, so a <see cref="Dispose"/> racing it unmaps only
    /// after it. If the owner took completions meanwhile (the head moved) the copy may mix old and new slots, so
    /// it is read again (a few times, then given up on with -1: the owner is busy taking them, nothing piles up).
    /// </summary>
    public int PeekCompletions(Span<IoUringCqe> into, out bool overflowed)
    {
        overflowed = false;
        bool added = false;
        try
        {
            _memory.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }
        try
        {
            for (int attempt = 0; attempt < PeekAttempts; attempt++)
            {
                uint head = Volatile.Read(ref *_cqHead);
                uint tail = Volatile.Read(ref *_cqTail); // acquire: the CQEs below the tail are written
                uint waiting = tail - head;
                if (waiting > CqEntries)
                {
                    continue; // read between the owner's head and the kernel's tail moving: not a consistent pair
                }
                int n = (int)Math.Min(waiting, (uint)into.Length);
                for (int i = 0; i < n; i++)
                {
                    into[i] = _cqes[(head + (uint)i) & _cqMask];
                }
                // The kernel writes only slots the owner has freed (at or past head + entries); while the head
                // stayed put, none of the slots just copied was freed, so the copy is what the kernel posted.
                if (Volatile.Read(ref *_cqHead) == head)
                {
                    overflowed = (Volatile.Read(ref *_sqFlags) & IoUringSqRingFlags.CqOverflow) != 0;
                    return (int)waiting;
                }
            }
            return -1;
        }
        finally
        {
            if (added)
            {
                _memory.DangerousRelease();
            }
        }
    }

    /// <summary>Reads <see cref="PeekCompletions"/> tries while the owner keeps taking completions.</summary>
    private const int PeekAttempts = 4;

    /// <summary>
    /// Closes the ring. Requests still in the kernel are cancelled by the kernel as the ring goes away (call
    /// <see cref="CancelAllAndDrain"/> first if they point at memory that is about to be freed). The mappings go
    /// when the last <see cref="PeekCompletions"/> reading them is done (at once when none is). Idempotent.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _memory.Dispose();
        _handle.Dispose();
    }

    /// <summary>
    /// The ring's mappings (SQ ring, CQ ring unless it shares the SQ's mapping, SQE array), owned like a
    /// <see cref="SafeHandle"/>: readers on other threads hold a reference (<see cref="SafeHandle.DangerousAddRef"/>)
    /// while they read, and the memory is unmapped when the owner has disposed it and the last reader released it.
    /// (The mapping keeps the ring's file alive in the kernel, so the ring fd may close first.)
    /// </summary>
    private sealed class RingMemory : SafeHandle
    {
        private readonly byte* _ring, _cq;
        private readonly nuint _ringSize, _cqSize, _sqesSize;
        private readonly IoUringSqe* _sqes;

        public RingMemory(byte* ring, nuint ringSize, byte* cq, nuint cqSize, IoUringSqe* sqes, nuint sqesSize)
            : base(IntPtr.Zero, ownsHandle: true)
        {
            _ring = ring;
            _ringSize = ringSize;
            _cq = cq;
            _cqSize = cqSize;
            _sqes = sqes;
            _sqesSize = sqesSize;
            SetHandle((IntPtr)ring);
        }

        public override bool IsInvalid => handle == IntPtr.Zero;

        protected override bool ReleaseHandle()
        {
            IoUringSys.Unmap(_sqes, _sqesSize);
            if (_cq != _ring)
            {
                IoUringSys.Unmap(_cq, _cqSize);
            }
            IoUringSys.Unmap(_ring, _ringSize);
            return true;
        }
    }
}
