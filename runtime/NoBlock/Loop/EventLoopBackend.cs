namespace NoBlock;

/// <summary>
/// Which kernel mechanism an <see cref="EventLoop"/> waits with (<see cref="EventLoopOptions.Backend"/>). Handlers,
/// timers, <see cref="EventLoop.Post"/> and the stall watchdog behave the same on each: the time the loop spends in
/// <c>epoll_wait</c> or <c>io_uring_enter</c> is waiting, everything else is a handler.
/// </summary>
public enum EventLoopBackend
{
    /// <summary>epoll (the default): every Linux kernel NoBlock runs on.</summary>
    Epoll = 0,

    /// <summary>
    /// io_uring, demanded: where it is unavailable (a kernel older than 6.0, <c>kernel.io_uring_disabled</c>, a
    /// seccomp filter such as a container's default profile) the <see cref="EventLoop"/> constructor throws a
    /// <see cref="PlatformNotSupportedException"/> that says why.
    /// </summary>
    IoUring = 1,

    /// <summary>
    /// io_uring where it is available, else epoll: the loop falls back and says so once (a warning on
    /// <see cref="EventLoopOptions.Logger"/>, event id 26 <c>BackendFallback</c>; without a logger one line on standard
    /// error per process). <see cref="EventLoop.Backend"/> says which one the loop got; it is never this value.
    /// </summary>
    PreferIoUring = 2,
}
