using System.Runtime.InteropServices;
using NoBlock.Interop;

namespace NoBlock;

/// <summary>
/// The epoll selector: the only caller of <c>epoll_create1</c>, <c>epoll_ctl</c> and <c>epoll_wait</c>. It owns the
/// epoll fd, the waker (an eventfd registered under a token no registration has), the native event buffer
/// <c>epoll_wait</c> fills, and the table of which token each fd number is registered under — so that a removal
/// names one registration, not whatever the fd number means by the time it runs (see <see cref="Remove"/>).
/// </summary>
internal sealed unsafe class EpollSelector : Selector
{
    /// <summary>Token of the waker eventfd: the loop never hands it out (its tokens have a non-zero generation and a slot below 2^31).</summary>
    private const ulong WakerToken = ulong.MaxValue;

    /// <summary>First size of the token table (fd numbers start low and stay dense; it doubles as they grow).</summary>
    private const int InitialTableSize = 256;

    private readonly FdHandle _epoll;
    private readonly FdHandle _waker;
    private readonly int _epfd;
    private readonly int _wakerFd;
    private readonly EpollEvent* _native;      // epoll_wait writes here directly
    private readonly ReadinessEvent[] _events;  // what Wait reports (the waker's events left out)
    private readonly int _maxEvents;
    private ulong[] _tokenByFd = new ulong[InitialTableSize]; // NoToken: not registered here
    private int _disposed;

    private EpollSelector(FdHandle epoll, FdHandle waker, int maxEvents)
    {
        _epoll = epoll;
        _waker = waker;
        _epfd = epoll.Fd;
        _wakerFd = waker.Fd;
        _maxEvents = maxEvents;
        _native = (EpollEvent*)NativeMemory.Alloc((nuint)maxEvents, (nuint)sizeof(EpollEvent));
        _events = new ReadinessEvent[maxEvents];
    }

    public override string Mechanism => "epoll";

    /// <summary>
    /// Creates the epoll instance and the waker, or returns null with the call that failed and its errno (the loop
    /// turns them into its exception).
    /// </summary>
    public static EpollSelector? TryCreate(int maxEvents, out string? failedCall, out Errno error)
    {
        int epfd = Sys.EpollCreate(out error);
        if (epfd < 0)
        {
            failedCall = "epoll_create1";
            return null;
        }
        var epoll = new FdHandle(epfd);
        int wfd = Sys.EventFdCreate(out error);
        if (wfd < 0)
        {
            epoll.Dispose();
            failedCall = "eventfd";
            return null;
        }
        var waker = new FdHandle(wfd);
        if (!Sys.EpollCtl(epfd, Sys.CtlOp.Add, wfd, (uint)IoEvents.Readable, WakerToken, out error))
        {
            waker.Dispose();
            epoll.Dispose();
            failedCall = "epoll_ctl(ADD waker)";
            return null;
        }
        failedCall = null;
        return new EpollSelector(epoll, waker, maxEvents);
    }

    public override SelectorStatus Add(int fd, IoEvents interest, ulong token, out int key, out Errno error)
    {
        key = fd;
        if (!Sys.EpollCtl(_epfd, Sys.CtlOp.Add, fd, (uint)interest, token, out error))
        {
            return Interpret(error);
        }
        TokenSlot(fd) = token;
        return SelectorStatus.Ok;
    }

    public override SelectorStatus Modify(int fd, int key, IoEvents interest, ulong token, out Errno error)
    {
        error = default;
        if (TokenOf(fd) != token)
        {
            return SelectorStatus.NotRegistered; // the fd was closed and its number reused: not ours to modify
        }
        return Sys.EpollCtl(_epfd, Sys.CtlOp.Modify, fd, (uint)interest, token, out error) ? SelectorStatus.Ok : Interpret(error);
    }

    /// <remarks>
    /// epoll removes by fd number, looked up when the call runs. A removal that runs after its fd was closed and the
    /// number reused by a newer registration would remove the newer one (which then silently stops getting events);
    /// the token table recognises that case and makes no call: closing the old fd already ended its registration.
    /// </remarks>
    public override SelectorStatus Remove(int fd, int key, ulong token, out Errno error)
    {
        error = default;
        if (TokenOf(fd) != token)
        {
            return SelectorStatus.NotRegistered;
        }
        TokenSlot(fd) = NoToken;
        // ENOENT/EBADF: the fd was closed first (the kernel dropped it already); the caller need not undo anything.
        return Sys.EpollCtl(_epfd, Sys.CtlOp.Delete, fd, 0, 0, out error) ? SelectorStatus.Ok : Interpret(error);
    }

    public override SelectorStatus Wait(int timeoutMs, out ReadOnlySpan<ReadinessEvent> events, out Errno error)
    {
        int n = Sys.EpollWait(_epfd, _native, _maxEvents, timeoutMs, out error);
        if (n < 0)
        {
            events = default;
            return error.IsInterrupted ? SelectorStatus.Interrupted : SelectorStatus.Failed;
        }
        int count = 0;
        for (int i = 0; i < n; i++)
        {
            ulong token = _native[i].Data;
            if (token == WakerToken)
            {
                Sys.EventFdDrain(_wakerFd); // the wake did its job by ending the wait
                continue;
            }
            _events[count++] = new ReadinessEvent(token, (IoEvents)_native[i].Events);
        }
        events = new ReadOnlySpan<ReadinessEvent>(_events, 0, count);
        return SelectorStatus.Ok;
    }

    public override void Wake()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }
        _waker.SignalEventFd();
    }

    public override void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _waker.Dispose();
        _epoll.Dispose();
        NativeMemory.Free(_native);
    }

    /// <summary>EEXIST, EBADF, ENOENT and EPERM by name; anything else is <see cref="SelectorStatus.Failed"/>.</summary>
    private static SelectorStatus Interpret(Errno error) =>
        error.IsAlreadyExists ? SelectorStatus.AlreadyRegistered
        : error.IsBadFd ? SelectorStatus.NotOpen
        : error.IsNotFound ? SelectorStatus.NotRegistered
        : error.IsPermissionDenied ? SelectorStatus.NotPollable // epoll_ctl(2): "The target file fd does not support epoll" (regular files, directories)
        : SelectorStatus.Failed;

    private ulong TokenOf(int fd) => (uint)fd < (uint)_tokenByFd.Length ? _tokenByFd[fd] : NoToken;

    private ref ulong TokenSlot(int fd)
    {
        if (fd >= _tokenByFd.Length)
        {
            Array.Resize(ref _tokenByFd, Math.Max(_tokenByFd.Length * 2, fd + 1));
        }
        return ref _tokenByFd[fd];
    }
}
