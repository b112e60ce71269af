using System.Net;
using Microsoft.Extensions.Logging;

namespace NoBlock.Tcp;

/// <summary>
/// N event loops on N threads (default: one per core), nginx-style: <see cref="Listen"/> opens one
/// <c>SO_REUSEPORT</c> listener per loop on the same port, and the kernel spreads incoming connections over them.
/// Each connection then lives on one loop, so loops share nothing.
/// </summary>
public sealed class EventLoopGroup : IDisposable
{
    /// <summary>
    /// How often <see cref="Listen"/> on a running group looks whether a loop stopped before registering its listener.
    /// 100 ms: a listener is normally registered within one loop turn, long before; the check only ends a wait that
    /// would otherwise never end.
    /// </summary>
    private static readonly TimeSpan StoppedLoopCheck = TimeSpan.FromMilliseconds(100);

    private readonly EventLoop[] _loops;
    private readonly Thread[] _threads;
    private readonly List<TcpAcceptor> _acceptors = new();
    private readonly List<Exception> _faults = new();
    private bool _started;
    private bool _disposed;

    /// <summary>Creates the loops (not yet running).</summary>
    /// <param name="loopCount">How many loops; 0 for <see cref="Environment.ProcessorCount"/>.</param>
    /// <param name="options">Settings applied to every loop (each gets the name <c>{Name}-{index}</c>); null for defaults.</param>
    public EventLoopGroup(int loopCount = 0, EventLoopOptions? options = null)
    {
        if (loopCount < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(loopCount), loopCount, "Use a positive loop count, or 0 for one loop per core.");
        }
        if (loopCount == 0)
        {
            loopCount = Environment.ProcessorCount;
        }
        options ??= new EventLoopOptions();
        _loops = new EventLoop[loopCount];
        _threads = new Thread[loopCount];
        try
        {
            for (int i = 0; i < loopCount; i++)
            {
                // Every setting (watchdog, guards, meter factory, logger, policy, …) under the loop's own name.
                _loops[i] = new EventLoop(options.WithName($"{options.Name}-{i}"));
            }
        }
        catch
        {
            foreach (var loop in _loops)
            {
                loop?.Dispose();
            }
            throw;
        }
    }

    /// <summary>The loops, in order.</summary>
    public IReadOnlyList<EventLoop> Loops => _loops;

    /// <summary>The listeners opened by <see cref="Listen"/>, one per loop per call.</summary>
    public IReadOnlyList<TcpAcceptor> Acceptors
    {
        get
        {
            lock (_acceptors)
            {
                return _acceptors.ToArray();
            }
        }
    }

    /// <summary>Exceptions that ended a loop's <see cref="EventLoop.Run"/> (only with <see cref="HandlerExceptionPolicy.StopLoop"/>).</summary>
    public IReadOnlyList<Exception> Faults
    {
        get
        {
            lock (_faults)
            {
                return _faults.ToArray();
            }
        }
    }

    /// <summary>
    /// Raised on a loop's thread when its <see cref="EventLoop.Run"/> ended with an exception (a handler fault under
    /// <see cref="HandlerExceptionPolicy.StopLoop"/>, or a failure of the loop itself), after the exception was added
    /// to <see cref="Faults"/>. The other loops keep running: stopping them (or the application) is the handler's
    /// call; NoBlock.Hosting stops the application. Must not throw.
    /// </summary>
    public event Action<EventLoop, Exception>? LoopFaulted;

    /// <summary>
    /// Opens one listener per loop on <paramref name="endPoint"/> with <c>SO_REUSEPORT</c>. With port 0, the first
    /// listener picks a free port and the others bind to the same one. Unless
    /// <see cref="TcpServerOptions.ReusePort"/> is set, the port must be free: a port another socket already listens on
    /// (another server, or a second group in this process) is a <see cref="System.Net.Sockets.SocketException"/>
    /// (<see cref="System.Net.Sockets.SocketError.AddressAlreadyInUse"/>) naming the port, not a
    /// silent share of its traffic. Set <see cref="TcpServerOptions.ReusePort"/> to join such a port on purpose. Before <see cref="Start"/> the listeners are
    /// registered directly; once the loops run, each is registered on its own loop's thread (posted) and this call
    /// waits until all are listening — so a hosted service can listen on a group its host already started.
    /// </summary>
    /// <param name="endPoint">Address and port.</param>
    /// <param name="factory">Makes a connection object per accepted socket (called on the accepting loop).</param>
    /// <param name="options">Listener settings. The group's own listeners always share the port with each other;
    /// <see cref="TcpServerOptions.ReusePort"/> says whether they may also share it with listeners already there.</param>
    /// <returns>The bound address (with the actual port).</returns>
    /// <exception cref="System.Net.Sockets.SocketException">The port is already in use and <see cref="TcpServerOptions.ReusePort"/> is not set, or another bind/listen failure.</exception>
    /// <exception cref="InvalidOperationException">Called on one of the group's loop threads (it would wait for itself), or a loop stopped before it could listen.</exception>
    public IPEndPoint Listen(IPEndPoint endPoint, Func<TcpConnection> factory, TcpServerOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(endPoint);
        ArgumentNullException.ThrowIfNull(factory);
        if (Array.Exists(_loops, l => l.IsOnLoopThread))
        {
            throw new InvalidOperationException(
                "EventLoopGroup.Listen was called on one of the group's loop threads; it waits for every loop to register its listener. " +
                "Call it from another thread (a hosted service's StartAsync, Main), or use TcpAcceptor.Listen for this loop alone.");
        }
        options ??= new TcpServerOptions();
        if (!options.ReusePort && endPoint.Port != 0)
        {
            TcpAcceptor.ThrowIfPortInUse(endPoint);
        }
        // The group's own listeners share the port (SO_REUSEPORT on each), on a copy: the caller's options stay as given.
        options = options.Copy();
        options.ReusePort = true;
        var bound = endPoint;
        foreach (var loop in _loops)
        {
            var acceptor = loop.IsRunning ? ListenOnLoop(loop, bound, factory, options) : TcpAcceptor.Listen(loop, bound, factory, options);
            lock (_acceptors)
            {
                _acceptors.Add(acceptor);
            }
            bound = acceptor.LocalEndPoint;
        }
        return bound;
    }

    /// <summary>Registers a listener on a running loop: posted to its thread, which alone may register fds while it runs.</summary>
    private static TcpAcceptor ListenOnLoop(EventLoop loop, IPEndPoint endPoint, Func<TcpConnection> factory, TcpServerOptions options)
    {
        var listening = new TaskCompletionSource<TcpAcceptor>(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Post(() =>
        {
            try
            {
                listening.TrySetResult(TcpAcceptor.Listen(loop, endPoint, factory, options));
            }
            catch (Exception ex)
            {
                listening.TrySetException(ex);
            }
        });
        // A loop that stops before it runs the posted work would leave this waiting forever: look again now and then.
        while (!((IAsyncResult)listening.Task).AsyncWaitHandle.WaitOne(StoppedLoopCheck))
        {
            if (!loop.IsRunning && !listening.Task.IsCompleted)
            {
                throw new InvalidOperationException($"EventLoop '{loop.Name}' stopped before it could open its listener on {endPoint}.");
            }
        }
        return listening.Task.GetAwaiter().GetResult(); // what Listen threw (e.g. address in use), not an AggregateException
    }

    /// <summary>Starts one thread per loop, each running <see cref="EventLoop.Run"/>.</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_started)
        {
            throw new InvalidOperationException("The group is already started.");
        }
        _started = true;
        for (int i = 0; i < _loops.Length; i++)
        {
            var loop = _loops[i];
            _threads[i] = new Thread(() => RunLoop(loop)) { Name = loop.Name, IsBackground = true };
            _threads[i].Start();
        }
    }

    private void RunLoop(EventLoop loop)
    {
        try
        {
            loop.Run();
        }
        catch (Exception ex)
        {
            lock (_faults)
            {
                _faults.Add(ex);
            }
            var faulted = LoopFaulted;
            if (faulted is null)
            {
                // Nobody handles it: say so here. A LoopFaulted handler (NoBlock.Hosting's) reports it with what it does next.
                loop.Options.Logger?.LoopRunFailed(ex, loop.Name);
                return;
            }
            try
            {
                faulted(loop, ex);
            }
            catch (Exception handlerError)
            {
                loop.Options.Logger?.LoopFaultedHandlerFailed(handlerError, loop.Name);
            }
        }
    }

    /// <summary>Stops every loop and waits for their threads to finish. Thread-safe; not from a loop thread.</summary>
    public void Stop()
    {
        foreach (var loop in _loops)
        {
            loop.Stop();
        }
        foreach (var thread in _threads)
        {
            if (thread is not null && thread != Thread.CurrentThread)
            {
                thread.Join();
            }
        }
    }

    /// <summary>Stops the loops, closes listeners and connections, and releases the loops. Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        Stop();
        _disposed = true;
        foreach (var loop in _loops)
        {
            loop.Dispose();
        }
    }
}
