namespace NoBlock;

/// <summary>
/// An fd registered with an <see cref="EventLoop"/>. <see cref="Modify"/> changes its interest;
/// <see cref="Dispose"/> removes it (<c>EPOLL_CTL_DEL</c>) — safe inside a handler, even the fd's own: events
/// already fetched for it are dropped. Disposing does not close the fd; whoever opened it closes it (after
/// disposing the registration).
/// </summary>
public sealed class Registration : IDisposable
{
    private readonly EventLoop _loop;

    internal Registration(EventLoop loop, int fd, IoEvents interest, IoHandler? handler, IRegistrationOwner? owner)
    {
        _loop = loop;
        Fd = fd;
        Interest = interest;
        Handler = handler;
        Owner = owner;
    }

    /// <summary>The registered fd.</summary>
    public int Fd { get; }

    /// <summary>The current interest, including the <see cref="IoEvents.EdgeTriggered"/>/<see cref="IoEvents.OneShot"/> mode bits.</summary>
    public IoEvents Interest { get; internal set; }

    /// <summary>True once disposed (by the user, by the handler-exception policy, or by disposing the loop).</summary>
    public bool IsDisposed { get; internal set; }

    /// <summary>The loop the fd is registered with.</summary>
    public EventLoop Loop => _loop;

    internal IoHandler? Handler { get; }
    internal IRegistrationOwner? Owner { get; }
    internal int Slot { get; set; } = -1;
    internal uint Generation { get; set; }

    /// <summary>What the loop's selector named this registration by when it was added (epoll: the fd).</summary>
    internal int SelectorKey { get; set; }

    /// <summary>A registered UDP socket's entry in the loop's socket table (diagnostics), or null.</summary>
    internal Sockets.ITrackedSocket? TrackedSocket { get; set; }

    /// <summary>
    /// Replaces the interest (<c>EPOLL_CTL_MOD</c>); also re-arms a <see cref="IoEvents.OneShot"/> registration.
    /// Call it on the loop thread (from a handler or posted work), or while the loop is not running.
    /// </summary>
    /// <param name="interest">The new interest.</param>
    /// <exception cref="ObjectDisposedException">The registration or the loop was disposed.</exception>
    /// <exception cref="InvalidOperationException">Called from another thread while the loop runs.</exception>
    public void Modify(IoEvents interest) => _loop.ModifyRegistration(this, interest);

    /// <summary>
    /// Removes the registration. Idempotent; thread-safe (from another thread while the loop runs, the removal is
    /// posted to the loop and happens before the loop next polls).
    /// </summary>
    public void Dispose() => _loop.RemoveRegistration(this);

    /// <inheritdoc />
    public override string ToString() => $"Registration(fd {Fd}, {Interest}{(IsDisposed ? ", disposed" : "")})";
}

/// <summary>
/// An internal owner of a registration (a TCP connection or listener) dispatched without a delegate, which also
/// decides what the handler-exception policy and disposing the loop mean for it (close its socket).
/// </summary>
internal interface IRegistrationOwner
{
    /// <summary>"Declaring type.Method" for stall reports and fault messages.</summary>
    string HandlerName { get; }

    void OnEvents(IoEvents events);

    /// <summary>The owner's handler threw and the policy is to close the registration.</summary>
    void OnHandlerFault(Exception exception);

    /// <summary>The loop is being disposed: release the fd.</summary>
    void OnLoopDisposed();
}
