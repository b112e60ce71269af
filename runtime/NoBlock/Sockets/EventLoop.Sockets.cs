using NoBlock.Sockets;

namespace NoBlock;

public sealed partial class EventLoop
{
    private readonly SocketTable _sockets = new();

    /// <summary>
    /// The loop's own sockets for diagnostics only: TCP connections and listeners, which the TCP layer adds and
    /// removes, and UDP sockets registered with <see cref="Register"/>.
    /// </summary>
    internal SocketTable Sockets => _sockets;

    /// <summary>Called when <see cref="Register"/> registered a user fd: a UDP socket is tracked (by inode) for its drops.</summary>
    private void TrackIfUdp(Registration reg)
    {
        if (Interop.SysDiagnostics.TryGetUdpSocket(reg.Fd, out ulong inode, out bool ipv6))
        {
            var udp = new RegisteredUdpSocket(reg.Fd, inode, ipv6);
            reg.TrackedSocket = udp;
            _sockets.Add(udp);
        }
    }

    /// <summary>Called when a registration is removed.</summary>
    private void Untrack(Registration reg)
    {
        if (reg.TrackedSocket is { } tracked)
        {
            reg.TrackedSocket = null;
            _sockets.Remove(tracked);
        }
    }

    /// <summary>
    /// What the kernel holds right now for this loop's own sockets (the TCP connections and listeners of
    /// <see cref="Tcp.TcpAcceptor"/>, and UDP sockets registered with <see cref="Register"/>): bytes waiting in
    /// receive queues (sum, how many, the worst connection), bytes waiting in send queues, each listener's accept
    /// queue against its backlog, each UDP socket's queue and drops, and the network namespace's
    /// <c>ListenOverflows</c>/<c>ListenDrops</c> and UDP drop counters; on io_uring also what waits in the loop's
    /// completion queue (<see cref="SocketDiagnostics.CompletionQueue"/>). Other fds registered with
    /// <see cref="Register"/> are the caller's and are not included.
    /// </summary>
    /// <remarks>
    /// Thread-safe, and meant to be called from another thread — while the loop is stalled is when it is most
    /// interesting. Never on the loop thread: it costs two <c>ioctl</c>s per connection (about 1–2 µs of CPU each
    /// connection, so tens of milliseconds at 10,000 connections, and several times that in wall time when the
    /// calling thread has to share a busy CPU: docs/runtime.md, "Cost"), which would stall every connection of the
    /// loop. From a handler, <c>await loop.GetSocketDiagnosticsAsync()</c>.
    /// </remarks>
    /// <returns>A snapshot; its <see cref="SocketDiagnostics.ToString"/> is a one-line summary.</returns>
    /// <exception cref="ObjectDisposedException">The loop was disposed.</exception>
    /// <exception cref="InvalidOperationException">Called on the loop's own thread.</exception>
    [Blocking("await loop.GetSocketDiagnosticsAsync()")]
    public SocketDiagnostics GetSocketDiagnostics()
    {
        ThrowIfDisposed();
        if (IsOnLoopThread)
        {
            throw new InvalidOperationException(
                $"GetSocketDiagnostics was called on EventLoop '{Name}''s own thread: it makes two syscalls per connection ({_sockets.Count} sockets now) " +
                "and would stall every connection of the loop meanwhile. Call it from another thread, or await loop.GetSocketDiagnosticsAsync() in a handler.");
        }
        return CollectSockets(includeCounters: true);
    }

    /// <summary>
    /// <see cref="GetSocketDiagnostics"/> on the thread pool: from a handler, the snapshot is taken off the loop and
    /// the task completes back on the loop thread (like <see cref="Offload{T}"/>); from any other thread it completes
    /// on the pool.
    /// </summary>
    /// <returns>The snapshot, when taken.</returns>
    /// <exception cref="ObjectDisposedException">The loop was disposed.</exception>
    public Task<SocketDiagnostics> GetSocketDiagnosticsAsync()
    {
        ThrowIfDisposed();
        return IsOnLoopThread
            ? Offload(() => CollectSockets(includeCounters: true))
            : Task.Run(() => CollectSockets(includeCounters: true));
    }

    /// <summary>The snapshot (any thread): the tracked sockets, and on io_uring what waits in the completion queue.</summary>
    internal SocketDiagnostics CollectSockets(bool includeCounters) => SocketDiagnostics.Collect(Name, _sockets, includeCounters, _uring);
}
