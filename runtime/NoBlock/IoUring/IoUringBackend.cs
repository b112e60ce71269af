using System.Buffers;
using System.Runtime.InteropServices;
using NoBlock.Interop;

namespace NoBlock.IoUring;

/// <summary>
/// The io_uring backend of an <see cref="EventLoop"/>: one ring, its provided-buffer ring and its waker, and a table
/// of <em>sources</em> (one per registration) that turns the loop's requests into SQEs and completions back into what
/// the loop dispatches. It makes the kernel calls and reports typed results; the loop decides.
/// <para>
/// Two kinds of source share the table. <b>Readiness</b> sources are the loop's <c>Register(fd, interest)</c> on
/// io_uring, with epoll's semantics: level-triggered is a one-shot IORING_OP_POLL_ADD re-armed at the start of the
/// next wait (armed on a ready fd it completes at once, so an fd that stays ready is reported once per turn, like
/// level-triggered epoll); <see cref="IoEvents.EdgeTriggered"/> is a multishot poll (one completion per wake-up of
/// the fd, like EPOLLET); <see cref="IoEvents.OneShot"/> is a one-shot poll re-armed only by
/// <see cref="ModifyPoll"/>. <b>Completion</b> sources are the TCP layer's sockets: multishot accept, multishot
/// receive into the provided-buffer ring, sends.
/// </para>
/// <para>
/// user_data of every request: <c>source index &lt;&lt; 32 | sequence &lt;&lt; 8 | kind</c>. The sequence (24 bits,
/// per index, bumped whenever a source's poll is replaced or the index is reused) makes the completion of a removed
/// or replaced request recognisable as stale, so it is dropped instead of reaching a newer registration.
/// </para>
/// Not thread-safe, except <see cref="Wake"/>: everything else runs on the loop thread (or while the loop is not running).
/// </summary>
internal sealed unsafe class IoUringBackend : IDisposable
{
    /// <summary>
    /// Submission queue slots. 1024: a turn in which 1,000 connections each queue a send fits without a submit in the
    /// middle of the turn (which would cost an extra io_uring_enter).
    /// </summary>
    internal const uint SqEntries = 1024;

    /// <summary>
    /// Completion queue slots. 8192: multishot requests post several completions per turn each; with
    /// IORING_FEAT_NODROP an overflow loses nothing, but the kernel's overflow list is a slow path.
    /// </summary>
    internal const uint CqEntries = 8192;

    /// <summary>Provided-buffer group of the receive buffers (the ring has one group).</summary>
    private const ushort ReceiveGroup = 0;

    /// <summary>
    /// Receive buffers where receives consume them incrementally (IOU_PBUF_RING_INC, 6.12): 64 buffers of 64 KiB
    /// (4 MiB per loop). 64 KiB is the epoll path's one read buffer (a streaming receive takes up to that much at
    /// once; with 16 KiB buffers the C io_uring server paid 8.2 instead of 5.1 µs per 16 KB message), and small
    /// receives of many connections share a buffer, so 64 serve a thousand busy connections (bench/RESULTS.md).
    /// </summary>
    internal const int IncrementalBufferCount = 64, IncrementalBufferSize = 64 * 1024;

    /// <summary>
    /// Receive buffers before 6.12, where each receive takes a whole buffer: 256 of 16 KiB, the same 4 MiB. Every
    /// completion in the queue holds one until the loop dispatches it, so more and smaller buffers.
    /// </summary>
    internal const int FixedBufferCount = 256, FixedBufferSize = 16 * 1024;

    /// <summary>How long <see cref="Dispose"/> waits for the kernel to give back cancelled requests (they point at memory it frees).</summary>
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(5);

    private const uint PollMaskBits = (uint)(IoEvents.Readable | IoEvents.Priority | IoEvents.Writable | IoEvents.ReadHangUp);
    private const uint AlwaysReported = (uint)(IoEvents.Error | IoEvents.HangUp);

    private readonly IoUringRing _ring;
    private readonly IoUringBufferRing _buffers;
    private readonly FdHandle _waker;
    private readonly int _wakerFd;
    private readonly ulong* _wakerValue;       // the waker read's 8-byte target (native: the kernel writes it later)
    private readonly IoUringCqe[] _cqes;
    private readonly ReadinessEvent[] _ready;
    private readonly CompletionEvent[] _completions;
    private readonly Dictionary<int, int> _pollSourceByFd = new();  // readiness sources by fd number: "already registered"
    private Source[] _sources = new Source[64];
    private int[] _free = new int[64];
    private int _freeCount, _highWater;
    private readonly List<int> _rearm = new();   // readiness sources whose one-shot poll fired and re-arm at the next wait
    private int _wakerArmed;
    private int _completionCount;                // completions of the last Wait (LastCompletions)
    private List<object>? _keepUntilDrained;     // send queues whose memory the kernel may still read at Dispose
    private bool _disposed;
    private byte* _lendStart, _lendEnd;          // the received bytes whose OnData runs (lendable to sends)
    private ushort _lendBuffer;

    private IoUringBackend(IoUringRing ring, IoUringBufferRing buffers, FdHandle waker, int maxEvents)
    {
        _ring = ring;
        _buffers = buffers;
        SendSegments = new SegmentPool(buffers);
        _waker = waker;
        _wakerFd = waker.Fd;
        _wakerValue = (ulong*)NativeMemory.AllocZeroed(8);
        _cqes = new IoUringCqe[maxEvents];
        _ready = new ReadinessEvent[maxEvents];
        _completions = new CompletionEvent[maxEvents];
        ArmWaker();
    }

    /// <summary>The provided-buffer ring multishot receives fill (recycle each buffer after its data is used).</summary>
    public IoUringBufferRing ReceiveBuffers => _buffers;

    /// <summary>The loop's pool of pinned send segments (<see cref="SendQueue"/>s of its connections).</summary>
    public SegmentPool SendSegments { get; }

    /// <summary>The completions the last <see cref="Wait"/> took, for the loop to dispatch (valid until the next Wait).</summary>
    public ReadOnlySpan<CompletionEvent> LastCompletions => _completions.AsSpan(0, _completionCount);

    /// <summary>Receives that ended with -ENOBUFS (every provided buffer was out) and were re-armed (tests, diagnostics).</summary>
    public long ReceiveBufferExhaustions { get; internal set; }

    /// <summary>The ring (for tests and diagnostics).</summary>
    internal IoUringRing Ring => _ring;

    /// <summary>Live sources (registrations of either kind).</summary>
    public int SourceCount { get; private set; }

    /// <summary>
    /// Creates the backend, or returns null with the reason io_uring cannot serve here (ring refused, kernel too
    /// old, provided buffers refused), for the loop's fallback notice or exception.
    /// </summary>
    public static IoUringBackend? TryCreate(int maxEvents, out string? unavailable) =>
        TryCreate(maxEvents, TestReceiveBuffers, out unavailable);

    /// <summary>
    /// Tests only: receive buffers (count, size, incremental) for loops created on this thread, e.g. a handful to
    /// exhaust the ring with a few connections. Null: the defaults.
    /// </summary>
    [ThreadStatic]
    internal static (int Count, int Size, bool Incremental)? TestReceiveBuffers;

    /// <summary>As above, with the receive buffers given (count, size, incremental) instead of the defaults (tests).</summary>
    internal static IoUringBackend? TryCreate(int maxEvents, (int Count, int Size, bool Incremental)? receiveBuffers, out string? unavailable)
    {
        if (IoUringSupport.Simulated is { } simulated)
        {
            unavailable = simulated;
            return null;
        }
        var ring = IoUringRing.Create(SqEntries, CqEntries, IoUringSetupFlags.SubmitAll | IoUringSetupFlags.CoopTaskrun | IoUringSetupFlags.TaskrunFlag, out var err);
        if (ring is null && err.IsInvalidArgument)
        {
            ring = IoUringRing.Create(SqEntries, CqEntries, 0, out err); // before 5.19: no COOP_TASKRUN (then CheckKernel says why not)
        }
        if (ring is null)
        {
            unavailable = IoUringSupport.DescribeSetupFailure(err);
            return null;
        }
        unavailable = IoUringSupport.CheckKernel(ring);
        if (unavailable is not null)
        {
            ring.Dispose();
            return null;
        }
        var (count, size, incremental) = receiveBuffers ?? (IncrementalBufferCount, IncrementalBufferSize, true);
        var buffers = IoUringBufferRing.Create(ring, ReceiveGroup, count, size, incremental, out err);
        if (buffers is null && incremental && receiveBuffers is null && err.IsInvalidArgument)
        {
            (count, size) = (FixedBufferCount, FixedBufferSize); // before 6.12
            buffers = IoUringBufferRing.Create(ring, ReceiveGroup, count, size, incremental: false, out err);
        }
        if (buffers is null)
        {
            ring.Dispose();
            unavailable = $"registering {count} receive buffers of {size} bytes failed: {err}";
            return null;
        }
        int wfd = IoUringSys.BlockingEventFd(out err);
        if (wfd < 0)
        {
            buffers.Dispose();
            ring.Dispose();
            unavailable = $"eventfd for the waker failed: {err}";
            return null;
        }
        return new IoUringBackend(ring, buffers, new FdHandle(wfd), maxEvents);
    }

    // =========================================================================================================
    // Readiness sources (the loop's Register on io_uring)
    // =========================================================================================================

    /// <summary>
    /// Registers <paramref name="fd"/> for readiness under the loop's <paramref name="token"/>. Like epoll_ctl ADD it
    /// refuses an fd that is not open, one that cannot be polled (a regular file or a directory) and one that is
    /// registered already; the poll itself is armed by the next submission.
    /// <para>
    /// An fd number registered here whose open file is not the one registered (the registered fd was closed while
    /// registered and the number reused) is not "registered already": closing the fd ended that registration under
    /// epoll, so here the old source is <em>orphaned</em> (its poll removed, no more events, it only waits for its
    /// owner's <see cref="RemovePoll"/>) and the new fd registers. Files are compared by (st_dev, st_ino), so two
    /// anonymous-inode fds (eventfds, timerfds) look the same: reusing an eventfd's number for another eventfd
    /// without disposing the registration first is refused as a double registration.
    /// </para>
    /// </summary>
    public SelectorStatus AddPoll(int fd, IoEvents interest, ulong token, out int source)
    {
        source = -1;
        var kind = IoUringSys.FileKind(fd, out var file, out _);
        if (kind == IoUringSys.FdKind.NotOpen)
        {
            return SelectorStatus.NotOpen;
        }
        if (_pollSourceByFd.TryGetValue(fd, out int existing))
        {
            if (_sources[existing].File == file)
            {
                return SelectorStatus.AlreadyRegistered;
            }
            Orphan(existing);
        }
        if (kind is IoUringSys.FdKind.RegularFile or IoUringSys.FdKind.Directory)
        {
            return SelectorStatus.NotPollable;
        }
        source = Allocate(fd, token, SourceKind.Readiness);
        ref var s = ref _sources[source];
        s.Interest = interest;
        s.File = file;
        _pollSourceByFd[fd] = source;
        if (!ArmPoll(source))
        {
            Release(source);
            source = -1;
            return SelectorStatus.Failed;
        }
        return SelectorStatus.Ok;
    }

    /// <summary>Replaces the interest (and re-arms a one-shot registration): the old poll is removed and a new one armed.</summary>
    public SelectorStatus ModifyPoll(int source, IoEvents interest)
    {
        ref var s = ref _sources[source];
        if (s.Kind != SourceKind.Readiness || s.Orphaned)
        {
            return SelectorStatus.NotRegistered; // orphaned: its fd was closed while registered, as epoll_ctl MOD's ENOENT says
        }
        if (!RemoveArmedPoll(source))
        {
            return SelectorStatus.Failed;
        }
        s.Sequence = NextSequence(s.Sequence); // completions of the old poll are stale from now on
        s.Interest = interest;
        s.RearmQueued = false;
        return ArmPoll(source) ? SelectorStatus.Ok : SelectorStatus.Failed;
    }

    /// <summary>
    /// Removes a readiness registration. The removal is submitted at once (one io_uring_enter, like epoll_ctl DEL):
    /// the poll holds a reference on the file, and a caller that closes the fd next must really close it (a pipe's
    /// writer sees EPIPE, a socket's peer sees the FIN) rather than wait for the loop's next turn.
    /// <para>
    /// The result is the one epoll_ctl DEL gives for the same history, so both backends report alike: an orphaned
    /// source (its fd was closed while registered and the number registered again, see <see cref="AddPoll"/>) is
    /// <see cref="SelectorStatus.NotRegistered"/> (epoll: the fd→token table sees a newer token); an fd closed while
    /// registered is <see cref="SelectorStatus.NotOpen"/> (epoll: EBADF); a number that now names another open file
    /// is <see cref="SelectorStatus.NotRegistered"/> (epoll: ENOENT). The source's poll is removed in every case:
    /// unlike epoll's registration it kept the old file alive. Two anonymous-inode files (eventfds) look the same
    /// here, so an eventfd closed while registered whose number went to another eventfd reports
    /// <see cref="SelectorStatus.Ok"/> where epoll says NotRegistered.
    /// </para>
    /// </summary>
    public SelectorStatus RemovePoll(int source)
    {
        ref var s = ref _sources[source];
        if (s.Kind != SourceKind.Readiness)
        {
            return SelectorStatus.NotRegistered;
        }
        bool armed = s.PollArmed;
        bool orphaned = s.Orphaned;
        int fd = s.Fd;
        var registered = s.File;
        RemoveArmedPoll(source);
        if (_pollSourceByFd.TryGetValue(fd, out int current) && current == source)
        {
            _pollSourceByFd.Remove(fd); // not when orphaned: the number belongs to a newer registration then
        }
        Release(source);
        if (armed && !_disposed)
        {
            _ring.Submit(out _);
        }
        if (orphaned)
        {
            return SelectorStatus.NotRegistered;
        }
        return IoUringSys.FileKind(fd, out var now, out _) == IoUringSys.FdKind.NotOpen ? SelectorStatus.NotOpen
            : now != registered ? SelectorStatus.NotRegistered
            : SelectorStatus.Ok;
    }

    /// <summary>Ends a readiness source whose fd was closed while registered (see <see cref="AddPoll"/>).</summary>
    private void Orphan(int source)
    {
        ref var s = ref _sources[source];
        RemoveArmedPoll(source);
        _pollSourceByFd.Remove(s.Fd);
        s.Sequence = NextSequence(s.Sequence); // completions of its last poll, already on their way, are stale
        s.Orphaned = true;
        s.RearmQueued = false;
    }

    /// <summary>The loop's token of readiness source <paramref name="source"/>, or 0 if it is not one (freed, reused by a completion source).</summary>
    public ulong ReadinessToken(int source) =>
        (uint)source < (uint)_highWater && _sources[source].Kind == SourceKind.Readiness ? _sources[source].Token : 0;

    private bool ArmPoll(int source)
    {
        ref var s = ref _sources[source];
        var sqe = _ring.GetSqeOrSubmit(out _);
        if (sqe == null)
        {
            return false;
        }
        // EPOLLET/EPOLLONESHOT are modes, not poll bits: the request's kind carries them. Errors and hang-ups are
        // reported whatever the mask says (the kernel adds them), as epoll does.
        bool multishot = (s.Interest & IoEvents.EdgeTriggered) != 0 && (s.Interest & IoEvents.OneShot) == 0;
        IoUringPrep.PollAdd(sqe, s.Fd, (uint)s.Interest & PollMaskBits, multishot, UserData(source, s.Sequence, RequestKind.Poll));
        s.PollArmed = true;
        return true;
    }

    private bool RemoveArmedPoll(int source)
    {
        ref var s = ref _sources[source];
        if (!s.PollArmed)
        {
            return true;
        }
        var sqe = _ring.GetSqeOrSubmit(out _);
        if (sqe == null)
        {
            return false;
        }
        IoUringPrep.PollRemove(sqe, UserData(source, s.Sequence, RequestKind.Poll), UserData(source, s.Sequence, RequestKind.Ignored));
        s.PollArmed = false;
        return true;
    }

    // =========================================================================================================
    // Completion sources (the TCP layer's sockets)
    // =========================================================================================================

    /// <summary>A source for <paramref name="fd"/>'s completion-based I/O (accept, receive, send), reported under <paramref name="token"/>.</summary>
    public int AddCompletionSource(int fd, ulong token) => Allocate(fd, token, SourceKind.Completion);

    /// <summary>The loop's token of completion source <paramref name="source"/>, or 0 if it is not one.</summary>
    public ulong CompletionToken(int source) =>
        (uint)source < (uint)_highWater && _sources[source].Kind == SourceKind.Completion ? _sources[source].Token : 0;

    /// <summary>
    /// Submits what is queued now (one io_uring_enter): a socket's cancels go in before its fd is closed, so that the
    /// close really closes (the requests hold the file) and the peer sees the FIN or RST at once, as on epoll.
    /// </summary>
    public void SubmitNow()
    {
        if (!_disposed)
        {
            _ring.Submit(out _);
        }
    }

    /// <summary>
    /// A completion nobody takes (its registration is gone): closes an accepted fd, recycles a receive buffer.
    /// </summary>
    public void Drop(in CompletionEvent c)
    {
        if (c.Kind == RequestKind.Accept && c.Result >= 0)
        {
            Sys.Close(c.Result);
        }
        else if (c.Kind == RequestKind.Receive && c.RecycleBuffer)
        {
            _buffers.Recycle(c.BufferId);
        }
    }

    /// <summary>
    /// Marks <paramref name="length"/> received bytes at <paramref name="data"/>, in receive buffer
    /// <paramref name="bufferId"/>, as lendable while their <c>OnData</c> runs (<see cref="TryLend"/>); the caller
    /// ends it with <see cref="EndLending"/> before the buffer is recycled.
    /// </summary>
    public void BeginLending(byte* data, int length, ushort bufferId)
    {
        _lendStart = data;
        _lendEnd = data + length;
        _lendBuffer = bufferId;
    }

    public void EndLending() => _lendStart = _lendEnd = null;

    /// <summary>
    /// Smallest send lent instead of copied: 2 KiB. Below it a copy into a 4 KiB segment costs less than keeping a
    /// whole receive buffer (up to 64 KiB, shared by other connections' receives) from the kernel until the send is done.
    /// </summary>
    internal const int MinLentBytes = 2048;

    /// <summary>
    /// True when <paramref name="length"/> bytes at <paramref name="data"/> lie in the receive buffer being delivered
    /// (<see cref="BeginLending"/>) and the buffer ring lends it: the send may point at them until it is done, and
    /// the buffer's recycle waits for that. False: copy them.
    /// </summary>
    public bool TryLend(byte* data, int length, out ushort bufferId)
    {
        bufferId = _lendBuffer;
        if (length >= MinLentBytes && data >= _lendStart && data + length <= _lendEnd && _buffers.TryLend(bufferId))
        {
            LentSends++;
            return true;
        }
        return false;
    }

    /// <summary>Sends queued straight from a receive buffer instead of copied (<see cref="TryLend"/>; tests, diagnostics).</summary>
    public long LentSends { get; private set; }

    /// <summary>Keeps <paramref name="memoryOwner"/> reachable until <see cref="Dispose"/> has drained the kernel's requests.</summary>
    public void KeepUntilDrained(object memoryOwner) => (_keepUntilDrained ??= new()).Add(memoryOwner);

    /// <summary>Frees a completion source. Its owner calls this once no request of it is in the kernel any more.</summary>
    public void RemoveCompletionSource(int source)
    {
        if (_sources[source].Kind == SourceKind.Completion)
        {
            Release(source);
        }
    }

    /// <summary>
    /// Arms one single-shot accept: one <see cref="RequestKind.Accept"/> completion, one connection (res = its fd,
    /// non-blocking, close-on-exec) or an error. Single-shot, not multishot: a multishot accept goes on accepting
    /// while the loop is stalled, unbounded (every connection an fd of this process), where epoll leaves them in the
    /// listen backlog; the acceptor keeps a bounded number of these in the kernel instead (docs/io_uring.md).
    /// Several may be armed on one source: they share its user_data, and <see cref="Cancel"/> ends all of them.
    /// </summary>
    public bool ArmAccept(int source)
    {
        var sqe = SqeFor(source, RequestKind.Accept, out int fd, out ulong userData);
        if (sqe == null)
        {
            return false;
        }
        IoUringPrep.Accept(sqe, fd, IoUringSys.AcceptFlags, userData);
        return true;
    }

    /// <summary>Arms a multishot receive into <see cref="ReceiveBuffers"/>: one <see cref="RequestKind.Receive"/> completion per chunk.</summary>
    public bool ArmReceive(int source)
    {
        var sqe = SqeFor(source, RequestKind.Receive, out int fd, out ulong userData);
        if (sqe == null)
        {
            return false;
        }
        IoUringPrep.RecvMultishot(sqe, fd, ReceiveGroup, userData);
        return true;
    }

    /// <summary>
    /// Queues a send of <paramref name="length"/> bytes at <paramref name="data"/> (MSG_NOSIGNAL), submitted with the
    /// loop's next wait: no system call of its own. The bytes must stay put until its completion.
    /// </summary>
    public bool Send(int source, byte* data, int length)
    {
        var sqe = SqeFor(source, RequestKind.Send, out int fd, out ulong userData);
        if (sqe == null)
        {
            return false;
        }
        IoUringPrep.Send(sqe, fd, data, (uint)length, IoUringSys.SendFlags, userData);
        return true;
    }

    /// <summary>
    /// Cancels the source's requests of <paramref name="kind"/>, every one of them (an acceptor has several accepts
    /// armed): each completion then comes with -ECANCELED, or it already came.
    /// </summary>
    public bool Cancel(int source, RequestKind kind)
    {
        var sqe = SqeFor(source, kind, out _, out ulong target);
        if (sqe == null)
        {
            return false;
        }
        IoUringPrep.CancelAll(sqe, target, (target & ~0xFFUL) | (byte)RequestKind.Ignored);
        return true;
    }

    private IoUringSqe* SqeFor(int source, RequestKind kind, out int fd, out ulong userData)
    {
        ref var s = ref _sources[source];
        fd = s.Fd;
        userData = UserData(source, s.Sequence, kind);
        return _ring.GetSqeOrSubmit(out _);
    }

    // =========================================================================================================
    // The wait (the loop's poll phase: the one call the watchdog brackets)
    // =========================================================================================================

    /// <summary>
    /// Re-arms level-triggered polls that fired last turn, submits everything queued (sends, arms, cancels) and
    /// waits up to <paramref name="timeoutMs"/> ms (-1: no limit; 0: do not wait) for completions, in one
    /// io_uring_enter. Returns false with <paramref name="err"/> if the enter failed (EINTR returns true with
    /// nothing and <paramref name="err"/> EINTR, or with the completions that were already there). The events are
    /// views valid until the next call.
    /// </summary>
    public bool Wait(int timeoutMs, out ReadOnlySpan<ReadinessEvent> ready, out ReadOnlySpan<CompletionEvent> completions, out Errno err)
    {
        RearmFired();
        ArmWaker(); // normally armed already; re-armed here if the SQ was full when its read completed
        // Completions already waiting (the previous take stopped at the batch size): do not sleep.
        long nanos = _ring.Ready > 0 ? 0 : timeoutMs < 0 ? -1 : timeoutMs * 1_000_000L;
        int rc = _ring.SubmitAndWait(nanos == 0 ? 0u : 1u, nanos, out err);
        int nReady = 0, nDone = 0;
        _completionCount = 0;
        ready = default;
        completions = default;
        if (rc < 0 && !err.IsInterrupted && !err.IsBusy)
        {
            return false;
        }
        err = rc < 0 && err.IsInterrupted ? err : default;
        int n = _ring.TakeCompletions(_cqes);
        for (int i = 0; i < n; i++)
        {
            ref var cqe = ref _cqes[i];
            var kind = (RequestKind)(byte)cqe.UserData;
            if (kind == RequestKind.Waker)
            {
                _wakerArmed = 0;
                ArmWaker();
                continue;
            }
            if (kind == RequestKind.Ignored)
            {
                continue;
            }
            int source = (int)(cqe.UserData >> 32);
            uint sequence = (uint)(cqe.UserData >> 8) & SequenceMask;
            bool live = (uint)source < (uint)_highWater && _sources[source].Kind != SourceKind.Free && _sources[source].Sequence == sequence;
            if (!live)
            {
                DropStale(kind, cqe);
                continue;
            }
            ref var s = ref _sources[source];
            if (kind == RequestKind.Poll)
            {
                if (OnPollCompletion(source, ref s, cqe) is IoEvents events)
                {
                    _ready[nReady++] = new ReadinessEvent(s.Token, events);
                }
                continue;
            }
            byte* data = null;
            bool recycle = false;
            if (kind == RequestKind.Receive && cqe.HasBuffer)
            {
                data = _buffers.Take(cqe.BufferId, Math.Max(cqe.Res, 0), cqe.Flags, out recycle);
            }
            _completions[nDone++] = new CompletionEvent(s.Token, kind, cqe.Res, cqe.Flags, (nint)data, recycle);
        }
        ready = _ready.AsSpan(0, nReady);
        completions = _completions.AsSpan(0, nDone);
        _completionCount = nDone;
        return true;
    }

    /// <summary>What a poll's completion means for its registration: the events to report, or null for none.</summary>
    private IoEvents? OnPollCompletion(int source, ref Source s, in IoUringCqe cqe)
    {
        if (!cqe.HasMore)
        {
            s.PollArmed = false;
        }
        if (cqe.Res < 0)
        {
            // -ECANCELED: removed by us (stale sequences were dropped already, so a multishot the kernel ended).
            // -EBADF: armed after the fd was closed while registered; epoll forgets such an fd silently too.
            if (!Errno.FromCompletion(cqe.Res).IsBadFd && (s.Interest & (IoEvents.EdgeTriggered | IoEvents.OneShot)) == IoEvents.EdgeTriggered)
            {
                QueueRearm(source, ref s);
            }
            return null;
        }
        bool oneShot = (s.Interest & IoEvents.OneShot) != 0;
        if (!cqe.HasMore && !oneShot)
        {
            QueueRearm(source, ref s); // level-triggered: ask again next turn; edge-triggered: the kernel ended the multishot
        }
        // io_uring always adds EPOLLRDHUP to the mask it waits for; report only what epoll would.
        uint events = (uint)cqe.Res & (((uint)s.Interest & PollMaskBits) | AlwaysReported);
        return events == 0 ? null : (IoEvents)events;
    }

    private void QueueRearm(int source, ref Source s)
    {
        if (!s.RearmQueued)
        {
            s.RearmQueued = true;
            _rearm.Add(source);
        }
    }

    private void RearmFired()
    {
        if (_rearm.Count == 0)
        {
            return;
        }
        int kept = 0;
        for (int i = 0; i < _rearm.Count; i++)
        {
            int source = _rearm[i];
            ref var s = ref _sources[source];
            if (s.Kind != SourceKind.Readiness || !s.RearmQueued || s.Orphaned)
            {
                continue;
            }
            if (s.PollArmed || ArmPoll(source))
            {
                s.RearmQueued = false;
            }
            else
            {
                _rearm[kept++] = source; // no SQE to be had (the submission failed): try again next turn
            }
        }
        _rearm.RemoveRange(kept, _rearm.Count - kept);
    }

    /// <summary>A completion for a source that is gone: give back what it carries (an accepted fd, a receive buffer).</summary>
    private void DropStale(RequestKind kind, in IoUringCqe cqe)
    {
        if (kind == RequestKind.Accept && cqe.Res >= 0)
        {
            Sys.Close(cqe.Res);
        }
        else if (kind == RequestKind.Receive && cqe.HasBuffer)
        {
            _buffers.Take(cqe.BufferId, Math.Max(cqe.Res, 0), cqe.Flags, out bool recycle);
            if (recycle)
            {
                _buffers.Recycle(cqe.BufferId);
            }
        }
    }

    // =========================================================================================================
    // Diagnostics (any thread)
    // =========================================================================================================

    /// <summary>
    /// What waits in the completion queue for the loop to take it, classified by request kind (from user_data):
    /// connections the kernel accepted, bytes it received into the provided buffers (and on how many connections).
    /// While the loop is stalled this is where its sockets' backlog goes on io_uring: the requests stay armed, so
    /// accepts and receives go on completing into the ring, and the socket queues stay short. Thread-safe (the
    /// watchdog calls it while the loop is stuck); null once the backend is disposed, or when the loop is busy
    /// taking completions at that very moment (nothing piles up then).
    /// </summary>
    public CompletionQueueBacklog? PeekWaiting()
    {
        if (Volatile.Read(ref _disposed))
        {
            return null;
        }
        var cqes = ArrayPool<IoUringCqe>.Shared.Rent((int)_ring.CqEntries);
        int[]? sources = null;
        try
        {
            int waiting = _ring.PeekCompletions(cqes, out bool overflowed);
            if (waiting < 0)
            {
                return null;
            }
            int copied = Math.Min(waiting, cqes.Length);
            int accepted = 0, receiving = 0;
            long received = 0;
            for (int i = 0; i < copied; i++)
            {
                ref var cqe = ref cqes[i];
                var kind = (RequestKind)(byte)cqe.UserData;
                if (kind == RequestKind.Accept && cqe.Res >= 0)
                {
                    accepted++;
                }
                else if (kind == RequestKind.Receive && cqe.Res > 0)
                {
                    received += cqe.Res;
                    (sources ??= ArrayPool<int>.Shared.Rent(copied))[receiving++] = (int)(cqe.UserData >> 32);
                }
            }
            int connections = 0;
            if (sources is not null)
            {
                Array.Sort(sources, 0, receiving);
                for (int i = 0; i < receiving; i++)
                {
                    if (i == 0 || sources[i] != sources[i - 1])
                    {
                        connections++;
                    }
                }
            }
            return new CompletionQueueBacklog(waiting, accepted, received, connections, overflowed);
        }
        finally
        {
            ArrayPool<IoUringCqe>.Shared.Return(cqes);
            if (sources is not null)
            {
                ArrayPool<int>.Shared.Return(sources);
            }
        }
    }

    // =========================================================================================================
    // Waking
    // =========================================================================================================

    /// <summary>Makes the current or next <see cref="Wait"/> return: one eventfd write (thread-safe; nothing once disposed).</summary>
    public void Wake()
    {
        if (Volatile.Read(ref _disposed))
        {
            return;
        }
        _waker.SignalEventFd();
    }

    private void ArmWaker()
    {
        // A read on the eventfd completes (and resets its counter) when a poster writes it: the wake costs the loop
        // no system call of its own, the re-arm rides on the next submission.
        if (_wakerArmed != 0)
        {
            return;
        }
        var sqe = _ring.GetSqeOrSubmit(out _);
        if (sqe != null)
        {
            IoUringPrep.Read(sqe, _wakerFd, (byte*)_wakerValue, 8, (ulong)RequestKind.Waker);
            _wakerArmed = 1;
        }
    }

    // =========================================================================================================
    // Sources table
    // =========================================================================================================

    private const uint SequenceMask = 0xFFFFFF;

    private static uint NextSequence(uint s) => (s + 1) & SequenceMask;

    private static ulong UserData(int source, uint sequence, RequestKind kind) =>
        ((ulong)(uint)source << 32) | ((ulong)(sequence & SequenceMask) << 8) | (byte)kind;

    private int Allocate(int fd, ulong token, SourceKind kind)
    {
        int index;
        if (_freeCount > 0)
        {
            index = _free[--_freeCount];
        }
        else
        {
            if (_highWater == _sources.Length)
            {
                Array.Resize(ref _sources, _sources.Length * 2);
            }
            index = _highWater++;
        }
        ref var s = ref _sources[index];
        s.Kind = kind;
        s.Fd = fd;
        s.Token = token;
        s.Interest = IoEvents.None;
        s.PollArmed = false;
        s.RearmQueued = false;
        s.Orphaned = false;
        s.File = default;
        s.Sequence = NextSequence(s.Sequence); // a reused index never matches its previous owner's requests
        SourceCount++;
        return index;
    }

    private void Release(int index)
    {
        ref var s = ref _sources[index];
        s.Kind = SourceKind.Free;
        s.Token = 0;
        s.Sequence = NextSequence(s.Sequence);
        if (_freeCount == _free.Length)
        {
            Array.Resize(ref _free, _free.Length * 2);
        }
        _free[_freeCount++] = index;
        SourceCount--;
    }

    /// <summary>
    /// Cancels every request and waits (bounded) until the kernel gave all of them back, handing accepted fds that
    /// completed meanwhile back to the kernel (closed); then the ring, the receive buffers and the waker go. If the
    /// kernel did not give everything back in time, the buffer memory is leaked rather than freed under it.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        Volatile.Write(ref _disposed, true);
        bool drained = _ring.CancelAllAndDrain(DrainLimit, cqe =>
        {
            var kind = (RequestKind)(byte)cqe.UserData;
            if (kind == RequestKind.Accept && cqe.Res >= 0)
            {
                Sys.Close(cqe.Res);
            }
        });
        if (drained)
        {
            _buffers.Dispose();
            NativeMemory.Free(_wakerValue);
        }
        _ring.Dispose();
        _waker.Dispose();
        _keepUntilDrained = null; // the kernel reads none of their memory any more
    }

    private enum SourceKind : byte
    {
        Free,
        Readiness,
        Completion,
    }

    private struct Source
    {
        public SourceKind Kind;
        public int Fd;
        public ulong Token;
        public IoEvents Interest;
        public uint Sequence;
        public bool PollArmed;
        public bool RearmQueued;
        public bool Orphaned;                        // readiness: its fd was closed while registered (AddPoll)
        public (ulong Device, ulong Inode) File;     // readiness: the open file registered, to tell a reused fd number
    }
}

/// <summary>
/// The owner of a completion source (the TCP layer's acceptor and connections on io_uring): the loop hands it each
/// completion of its requests, inside the same handler bracket as a readiness event.
/// </summary>
internal interface ICompletionOwner : IRegistrationOwner
{
    void OnCompletion(in CompletionEvent completion);
}

/// <summary>What a request was (the low byte of its user_data).</summary>
internal enum RequestKind : byte
{
    /// <summary>Completions nobody reads (cancels, poll removals).</summary>
    Ignored = 0,
    Poll = 1,
    Accept = 2,
    Receive = 3,
    Send = 4,
    Waker = 5,
}

/// <summary>
/// A completion for the TCP layer: which registration, which request, and the kernel's result. A receive with data
/// also says where its bytes are (<see cref="Data"/>, valid until the buffer is recycled) and whether its buffer goes
/// back with <see cref="IoUringBufferRing.Recycle"/> once they are used (<see cref="RecycleBuffer"/>).
/// </summary>
internal readonly record struct CompletionEvent(ulong Token, RequestKind Kind, int Result, uint Flags, nint Data, bool RecycleBuffer)
{
    public bool HasMore => (Flags & IoUringCqeFlags.More) != 0;

    public bool HasBuffer => (Flags & IoUringCqeFlags.Buffer) != 0;

    public ushort BufferId => (ushort)(Flags >> IoUringCqeFlags.BufferShift);
}
