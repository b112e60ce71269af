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
    /// <see cref="Tcp.TcpAcceptor"/>): bytes waiting in receive queues (sum, how many, the worst connection), bytes
    /// waiting in send queues, each listener's accept queue against its backlog, and the network namespace's
    /// <c>ListenOverflows</c>/<c>ListenDrops</c> and UDP drop counters. fds registered with <see cref="Register"/>
    /// are the caller's and are not included.
    /// </summary>
    /// <remarks>
    /// Thread-safe, and meant to be called from another thread too — while the loop is stalled is when it is most
    /// interesting. It costs two <c>ioctl</c>s per connection, one <c>getsockopt</c> per listener and two small
    /// <c>/proc</c> reads: call it now and then, not per event (tens of milliseconds at 20,000 connections).
    /// </remarks>
    /// <returns>A snapshot; its <see cref="SocketDiagnostics.ToString"/> is a one-line summary.</returns>
    /// <exception cref="ObjectDisposedException">The loop was disposed.</exception>
    public SocketDiagnostics GetSocketDiagnostics()
    {
        ThrowIfDisposed();
        return SocketDiagnostics.Collect(Name, _sockets, includeCounters: true);
    }
}
