using NoBlock.Interop;

namespace NoBlock;

/// <summary>
/// The kernel-facing half of an <see cref="EventLoop"/> (mio's <c>Selector</c>): it owns the kernel object that waits
/// (an epoll instance, an io_uring ring) and the waker, makes the calls, and reports what happened as a
/// <see cref="SelectorStatus"/>. It decides nothing: the loop turns a status into an exception or a retry, keeps the
/// registrations and dispatches the events. <see cref="EpollSelector"/> is the one in use; an io_uring selector over
/// <c>IoUring.IoUringBackend</c> fits beside it.
/// <para>
/// Registrations are named twice: by a <em>token</em> the loop chooses (it comes back with every event) and by a
/// <em>key</em> the selector chooses at <see cref="Add"/> (what it needs to find the registration again: the fd for
/// epoll, a source index for io_uring). <see cref="Modify"/> and <see cref="Remove"/> get both, plus the fd.
/// </para>
/// Thread-safety: <see cref="Wake"/> from any thread; everything else on the loop thread (or while the loop is not
/// running).
/// </summary>
internal abstract class Selector : IDisposable
{
    /// <summary>Token of no registration: a selector never reports it and a loop never hands it out.</summary>
    public const ulong NoToken = 0;

    /// <summary>The mechanism's name for messages and diagnostics ("epoll").</summary>
    public abstract string Mechanism { get; }

    /// <summary>Registers <paramref name="fd"/> for <paramref name="interest"/>; its events carry <paramref name="token"/>.</summary>
    /// <returns><see cref="SelectorStatus.Ok"/> with <paramref name="key"/>, or why not (with the errno when <see cref="SelectorStatus.Failed"/>).</returns>
    public abstract SelectorStatus Add(int fd, IoEvents interest, ulong token, out int key, out Errno error);

    /// <summary>Replaces the interest of a registration (and re-arms a one-shot one).</summary>
    public abstract SelectorStatus Modify(int fd, int key, IoEvents interest, ulong token, out Errno error);

    /// <summary>
    /// Removes the registration <paramref name="token"/> of <paramref name="fd"/>, and only that one: if the fd number
    /// now belongs to a newer registration (the old fd was closed, which ended its registration in the kernel, and the
    /// number was reused), it reports <see cref="SelectorStatus.NotRegistered"/> and leaves the newer one alone.
    /// </summary>
    public abstract SelectorStatus Remove(int fd, int key, ulong token, out Errno error);

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> ms (-1: no limit, 0: do not sleep) for events; the waker's own are
    /// consumed here and not reported. <paramref name="events"/> is valid until the next call.
    /// </summary>
    /// <returns><see cref="SelectorStatus.Ok"/>, <see cref="SelectorStatus.Interrupted"/> (a signal; no events), or <see cref="SelectorStatus.Failed"/>.</returns>
    public abstract SelectorStatus Wait(int timeoutMs, out ReadOnlySpan<ReadinessEvent> events, out Errno error);

    /// <summary>Makes the current or next <see cref="Wait"/> return. Thread-safe; does nothing once disposed.</summary>
    public abstract void Wake();

    /// <summary>Closes the kernel objects (every registration goes with them).</summary>
    public abstract void Dispose();
}

/// <summary>What a selector call did, by name (the errno behind each is the selector's business).</summary>
internal enum SelectorStatus
{
    /// <summary>Done.</summary>
    Ok,

    /// <summary>The fd is registered with this selector already (epoll: EEXIST).</summary>
    AlreadyRegistered,

    /// <summary>The fd is not open (EBADF).</summary>
    NotOpen,

    /// <summary>The fd cannot be polled: a regular file or a directory is always ready (epoll: EPERM).</summary>
    NotPollable,

    /// <summary>The registration is not there (epoll: ENOENT), or the fd number now belongs to a newer registration.</summary>
    NotRegistered,

    /// <summary>The wait was interrupted by a signal (EINTR): no events, turn again.</summary>
    Interrupted,

    /// <summary>Anything else: the errno says what.</summary>
    Failed,
}

/// <summary>A readiness event for the loop: the registration's token and epoll-compatible bits.</summary>
internal readonly record struct ReadinessEvent(ulong Token, IoEvents Events);
