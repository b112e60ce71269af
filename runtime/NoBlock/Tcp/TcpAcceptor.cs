using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NoBlock.Interop;
using NoBlock.IoUring;

namespace NoBlock.Tcp;

/// <summary>
/// A listening TCP socket on an <see cref="EventLoop"/>: accepts connections (<c>accept4</c> with
/// <c>SOCK_NONBLOCK | SOCK_CLOEXEC</c>) in bounded batches and attaches each to a <see cref="TcpConnection"/>
/// made by the factory, on the same loop. On an io_uring loop (<see cref="EventLoop.Backend"/>) accept requests
/// hand over the connections instead: <see cref="TcpServerOptions.MaxAcceptsPerEvent"/> single-shot accepts in the
/// kernel at a time, so that a stalled loop leaves the rest in the listen backlog, as on epoll (docs/io_uring.md).
/// </summary>
public sealed class TcpAcceptor : IDisposable, ICompletionOwner, Sockets.ITrackedSocket
{
    /// <summary>
    /// How long accepting pauses when the process is out of fds (EMFILE/ENFILE). 100 ms: a level-triggered listener
    /// would otherwise report the same pending connection on every turn and spin the loop; a short pause lets
    /// closing connections free fds.
    /// </summary>
    private static readonly TimeSpan OutOfFdsPause = TimeSpan.FromMilliseconds(100);

    private readonly EventLoop _loop;
    private readonly Func<TcpConnection> _factory;
    private readonly TcpServerOptions _options;
    private readonly FdHandle _handle;
    private readonly Registration _registration;
    private readonly IoEvents _interest;
    private bool _disposed;
    private bool _continuePosted;
    private TimerHandle? _pauseTimer;
    private readonly IoUringBackend? _uring;   // io_uring: accept requests instead of readiness and accept4
    private int _acceptsArmed;                 // accepts in the kernel (their completions not seen yet)
    private bool _acceptPaused;                // out of fds: re-armed by the pause timer
    private bool _released;

    private TcpAcceptor(EventLoop loop, FdHandle handle, IPEndPoint localEndPoint, Func<TcpConnection> factory, TcpServerOptions options)
    {
        _loop = loop;
        _handle = handle;
        _factory = factory;
        _options = options;
        LocalEndPoint = localEndPoint;
        _interest = IoEvents.Readable | (options.EdgeTriggered ? IoEvents.EdgeTriggered : IoEvents.None);
        _uring = loop.IoUringBackend;
        if (_uring is not null)
        {
            _registration = loop.RegisterCompletionSource(handle.Fd, this);
            ArmAccepts();
        }
        else
        {
            _registration = loop.RegisterCore(handle.Fd, _interest, handler: null, owner: this);
        }
        loop.Sockets.Add(this); // for EventLoop.GetSocketDiagnostics (its accept queue)
    }

    /// <summary>The address the socket is bound to (with the actual port when port 0 was asked for).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The listening socket's fd.</summary>
    public int Fd => _handle.Fd;

    /// <summary>The loop that accepts and serves the connections.</summary>
    public EventLoop Loop => _loop;

    /// <summary>Connections accepted so far.</summary>
    public long AcceptedCount { get; private set; }

    /// <summary>Accept failures that were not EAGAIN (e.g. out of fds, aborted connections).</summary>
    public long AcceptErrors { get; private set; }

    FdHandle? Sockets.ITrackedSocket.TrackedHandle => _handle;

    bool Sockets.ITrackedSocket.IsListener => true;

    IPEndPoint? Sockets.ITrackedSocket.ListenEndPoint => LocalEndPoint;

    int Sockets.ITrackedSocket.TrackedIndex { get; set; } = -1;

    string IRegistrationOwner.HandlerName => HandlerNames.Describe(typeof(TcpAcceptor), nameof(AcceptBatch));

    /// <summary>
    /// Creates a socket, binds and listens on <paramref name="endPoint"/>, and registers it with
    /// <paramref name="loop"/>. Call on the loop thread or before the loop runs.
    /// </summary>
    /// <param name="loop">The loop that accepts and serves connections.</param>
    /// <param name="endPoint">Address and port (0 for any free port).</param>
    /// <param name="factory">Makes the connection object for each accepted socket (called on the loop).</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <returns>The listening acceptor.</returns>
    /// <exception cref="System.Net.Sockets.SocketException">socket, bind or listen failed; a port already in use is
    /// <see cref="System.Net.Sockets.SocketError.AddressAlreadyInUse"/> with a message that names the port and what to do.</exception>
    public static TcpAcceptor Listen(EventLoop loop, IPEndPoint endPoint, Func<TcpConnection> factory, TcpServerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(loop);
        ArgumentNullException.ThrowIfNull(endPoint);
        ArgumentNullException.ThrowIfNull(factory);
        options ??= new TcpServerOptions();
        options.Validate();

        int fd = Sys.SocketTcp(endPoint.AddressFamily, out var err);
        if (fd < 0)
        {
            throw err.ToException("socket");
        }
        var handle = new FdHandle(fd);
        try
        {
            SetOrThrow(fd, Sys.SockOpt.ReuseAddress, 1);
            if (options.ReusePort)
            {
                SetOrThrow(fd, Sys.SockOpt.ReusePort, 1);
            }
            // Set before listen: accepted sockets inherit them, and the receive buffer must be known when the
            // window scale is negotiated in the handshake.
            if (options.ReceiveBufferSize is int rcv)
            {
                SetOrThrow(fd, Sys.SockOpt.ReceiveBuffer, rcv);
            }
            if (options.SendBufferSize is int snd)
            {
                SetOrThrow(fd, Sys.SockOpt.SendBuffer, snd);
            }
            if (!Sys.Bind(fd, endPoint, out err))
            {
                throw err.IsAddressInUse ? PortInUse(endPoint, err, options.ReusePort) : err.ToException($"bind to {endPoint}");
            }
            if (!Sys.Listen(fd, options.Backlog, out err))
            {
                throw err.ToException("listen", fd);
            }
            var local = Sys.GetLocalEndPoint(fd) ?? endPoint;
            return new TcpAcceptor(loop, handle, local, factory, options);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Throws the "port in use" error when a socket already listens on <paramref name="endPoint"/>'s port: a probe
    /// binds it without <c>SO_REUSEPORT</c> (which any listener there refuses), then closes. The check and the
    /// listeners' own bind are two steps: a server that starts in between with <c>SO_REUSEPORT</c> still joins.
    /// </summary>
    internal static void ThrowIfPortInUse(IPEndPoint endPoint)
    {
        int fd = Sys.SocketTcp(endPoint.AddressFamily, out var err);
        if (fd < 0)
        {
            throw err.ToException("socket");
        }
        using var probe = new FdHandle(fd);
        SetOrThrow(fd, Sys.SockOpt.ReuseAddress, 1); // as the listeners do: a TIME_WAIT leftover is not "in use"
        if (!Sys.Bind(fd, endPoint, out err))
        {
            throw err.IsAddressInUse ? PortInUse(endPoint, err, reusePort: false) : err.ToException($"bind to {endPoint}");
        }
    }

    private static SocketException PortInUse(IPEndPoint endPoint, Errno err, bool reusePort)
    {
        var hint = reusePort
            ? "a socket without SO_REUSEPORT holds it (another server, or a listener opened without TcpServerOptions.ReusePort)"
            : "another server (or another listener in this process) holds it. Stop that one, pick another port, or set TcpServerOptions.ReusePort = true to share the port with it on purpose";
        return new SocketException((int)SocketError.AddressAlreadyInUse, $"bind to {endPoint} failed: port {endPoint.Port} on {endPoint.Address} is already in use (EADDRINUSE, errno {err.Value}): {hint}.");
    }

    private static void SetOrThrow(int fd, Sys.SockOpt opt, int value)
    {
        if (!Sys.SetSockOpt(fd, opt, value, out var err))
        {
            throw err.ToException("setsockopt", fd);
        }
    }

    /// <summary>Stops listening and closes the listening socket. Accepted connections stay open. Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        if (_loop.IsRunning && !_loop.IsOnLoopThread)
        {
            _loop.Post(Dispose);
            return;
        }
        _disposed = true;
        _pauseTimer?.Cancel();
        if (_uring is not null && _acceptsArmed > 0)
        {
            // Cancel and submit before the close (the requests hold the listener's file); the source goes when the
            // accepts' completions are back, and a connection one still hands over is closed.
            _uring.Cancel(_registration.SelectorKey, RequestKind.Accept);
            _uring.SubmitNow();
        }
        else
        {
            ReleaseRingSource();
        }
        _loop.Sockets.Remove(this);
        _handle.Dispose();
    }

    void ICompletionOwner.OnCompletion(in CompletionEvent completion)
    {
        if (completion.Kind != RequestKind.Accept)
        {
            return;
        }
        _acceptsArmed--; // single-shot: every completion ends its request
        try
        {
            if (completion.Result >= 0)
            {
                if (_disposed)
                {
                    Sys.Close(completion.Result);
                    return;
                }
                AcceptedCount++;
                AttachAccepted(completion.Result); // a factory or OnOpened that throws is reported by the loop
                return;
            }
            var err = Errno.FromCompletion(completion.Result);
            if (err.IsCanceled || _disposed)
            {
                return;
            }
            AcceptErrors++;
            if (err.IsOutOfFds)
            {
                PauseAccepting(err);
            }
            else if (!err.IsTransientAcceptError)
            {
                _loop.Options.Logger?.AcceptFailed(_loop.Name, LocalEndPoint.ToString(), Fd, "io_uring accept", err.ToString());
            }
        }
        finally
        {
            if (_disposed)
            {
                if (_acceptsArmed == 0)
                {
                    ReleaseRingSource();
                }
            }
            else if (!_acceptPaused)
            {
                ArmAccepts(); // the one that completed is replaced; its SQE rides on the loop's next wait
            }
        }
    }

    /// <summary>
    /// Tops the accepts in the kernel up to <see cref="TcpServerOptions.MaxAcceptsPerEvent"/>. At most that many
    /// connections are accepted per turn (each completion's replacement is submitted with the next wait), and at
    /// most that many while the loop is stalled: the rest wait in the listen backlog and, past it, are dropped, as
    /// on epoll. (A multishot accept would go on accepting for a stalled loop until the process is out of fds.)
    /// </summary>
    private void ArmAccepts()
    {
        while (_acceptsArmed < _options.MaxAcceptsPerEvent && !_disposed)
        {
            if (!_uring!.ArmAccept(_registration.SelectorKey))
            {
                throw Errno.SubmissionQueueFull.ToException("io_uring accept", Fd);
            }
            _acceptsArmed++;
        }
    }

    private void ReleaseRingSource()
    {
        if (!_released)
        {
            _released = true;
            _registration.Dispose();
        }
    }

    void IRegistrationOwner.OnEvents(IoEvents events) => AcceptBatch();

    void IRegistrationOwner.OnHandlerFault(Exception exception)
    {
        // A connection factory or OnOpened threw: that connection is already closed; keep listening.
    }

    void IRegistrationOwner.OnLoopDisposed()
    {
        _disposed = true;
        _loop.Sockets.Remove(this);
        _handle.Dispose();
    }

    private void AcceptBatch()
    {
        _continuePosted = false;
        if (_disposed)
        {
            return;
        }
        bool drained = false;
        try
        {
            drained = AcceptUntilDrainedOrBudget();
        }
        finally
        {
            // Left with connections maybe still queued (batch exhausted, or a factory/OnOpened threw, which the loop
            // reports). Level-triggered: the loop reports the listener again next turn. Edge-triggered: no new edge
            // will come for those, so continue on a later turn ourselves.
            if (!drained && _options.EdgeTriggered && !_continuePosted && !_disposed)
            {
                _continuePosted = true;
                _loop.Post(AcceptBatch);
            }
        }
    }

    /// <summary>Accepts up to the batch size; true when the queue is known empty (EAGAIN) or accepting paused or failed.</summary>
    private bool AcceptUntilDrainedOrBudget()
    {
        for (int i = 0; i < _options.MaxAcceptsPerEvent; i++)
        {
            int fd = Sys.Accept(_handle.Fd, out var err);
            if (fd < 0)
            {
                if (err.IsWouldBlock)
                {
                    return true; // drained: the next connection raises a new event (or edge)
                }
                AcceptErrors++;
                if (err.IsTransientAcceptError)
                {
                    continue; // that connection died in the queue; the next one is fine
                }
                if (err.IsOutOfFds)
                {
                    PauseAccepting(err);
                    return true;
                }
                _loop.Options.Logger?.AcceptFailed(_loop.Name, LocalEndPoint.ToString(), Fd, "accept4", err.ToString());
                return true;
            }
            AcceptedCount++;
            AttachAccepted(fd);
        }
        return false;
    }

    private void AttachAccepted(int fd)
    {
        {
            var handle = new FdHandle(fd);
            TcpConnection connection;
            try
            {
                if (_options.NoDelay)
                {
                    Sys.SetSockOpt(fd, Sys.SockOpt.NoDelay, 1, out _);
                }
                connection = _factory();
            }
            catch
            {
                handle.Dispose();
                throw;
            }
            connection.Attach(_loop, handle, _options);
        }
    }

    private void PauseAccepting(Errno err)
    {
        if (_acceptPaused)
        {
            return; // io_uring: another of the armed accepts failed the same way, paused already
        }
        _loop.Options.Logger?.AcceptPaused(_loop.Name, LocalEndPoint.ToString(), Fd, err.ToString(), (long)OutOfFdsPause.TotalMilliseconds);
        if (_uring is not null)
        {
            _acceptPaused = true;
            if (_acceptsArmed > 0)
            {
                _uring.Cancel(_registration.SelectorKey, RequestKind.Accept); // every one of them
            }
            _pauseTimer = _loop.Schedule(OutOfFdsPause, () =>
            {
                _pauseTimer = null;
                _acceptPaused = false;
                if (!_disposed)
                {
                    ArmAccepts(); // beside the cancelled ones whose completions are still on their way, if any
                }
            });
            return;
        }
        _registration.Modify(IoEvents.None);
        _pauseTimer = _loop.Schedule(OutOfFdsPause, () =>
        {
            _pauseTimer = null;
            if (!_disposed)
            {
                _registration.Modify(_interest);
                AcceptBatch();
            }
        });
    }
}
