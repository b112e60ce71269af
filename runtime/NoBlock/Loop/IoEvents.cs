namespace NoBlock;

/// <summary>
/// Readiness an fd is registered for (its interest) and readiness the kernel reported (an event). The values are
/// the kernel's <c>EPOLL*</c> bits, so a registration passes them to <c>epoll_ctl</c> unchanged and an event's
/// bits come back from <c>epoll_wait</c> unchanged.
/// </summary>
[Flags]
public enum IoEvents : uint
{
    /// <summary>No readiness.</summary>
    None = 0,

    /// <summary>Data can be read, or a connection accepted (<c>EPOLLIN</c>).</summary>
    Readable = 0x001,

    /// <summary>Urgent (out-of-band) data is available (<c>EPOLLPRI</c>).</summary>
    Priority = 0x002,

    /// <summary>Data can be written without blocking (<c>EPOLLOUT</c>).</summary>
    Writable = 0x004,

    /// <summary>An error is pending on the fd (<c>EPOLLERR</c>); always reported, whatever the interest.</summary>
    Error = 0x008,

    /// <summary>Both directions are closed (<c>EPOLLHUP</c>); always reported, whatever the interest.</summary>
    HangUp = 0x010,

    /// <summary>The peer shut down its writing side: reads will return end of stream (<c>EPOLLRDHUP</c>).</summary>
    ReadHangUp = 0x2000,

    /// <summary>
    /// Report the event once, then disable the registration until <see cref="Registration.Modify"/> re-arms it
    /// (<c>EPOLLONESHOT</c>).
    /// </summary>
    OneShot = 1u << 30,

    /// <summary>
    /// Edge-triggered (<c>EPOLLET</c>): an event is reported when readiness <em>changes</em>, not while it lasts.
    /// A handler must read (or accept, or write) until the call fails with <c>EAGAIN</c>, or remember that
    /// more may be pending, otherwise it is never told again (analyzer rules NB0003 and NB0004 check this).
    /// </summary>
    EdgeTriggered = 1u << 31,
}

/// <summary>One readiness event delivered to an <see cref="IoHandler"/>.</summary>
public readonly struct IoEvent
{
    /// <summary>Creates an event.</summary>
    /// <param name="fd">The fd the event is for.</param>
    /// <param name="events">The readiness the kernel reported.</param>
    public IoEvent(int fd, IoEvents events)
    {
        Fd = fd;
        Events = events;
    }

    /// <summary>The fd the event is for.</summary>
    public int Fd { get; }

    /// <summary>The readiness the kernel reported (without the <see cref="IoEvents.EdgeTriggered"/>/<see cref="IoEvents.OneShot"/> mode bits).</summary>
    public IoEvents Events { get; }

    /// <summary>True when <see cref="IoEvents.Readable"/> was reported.</summary>
    public bool IsReadable => (Events & IoEvents.Readable) != 0;

    /// <summary>True when <see cref="IoEvents.Writable"/> was reported.</summary>
    public bool IsWritable => (Events & IoEvents.Writable) != 0;

    /// <summary>True when an error or a hang-up (of both or of the reading direction) was reported.</summary>
    public bool IsErrorOrHangUp => (Events & (IoEvents.Error | IoEvents.HangUp | IoEvents.ReadHangUp)) != 0;

    /// <inheritdoc />
    public override string ToString() => $"fd {Fd}: {Events}";
}

/// <summary>Handles readiness events for one registered fd. Runs on the loop thread and must not block.</summary>
/// <param name="e">The event.</param>
public delegate void IoHandler(IoEvent e);
