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
                _loops[i] = new EventLoop(new EventLoopOptions
                {
                    Name = $"{options.Name}-{i}",
                    StallThreshold = options.StallThreshold,
                    OnStall = options.OnStall,
                    Logger = options.Logger,
                    HandlerExceptionPolicy = options.HandlerExceptionPolicy,
                    OnHandlerException = options.OnHandlerException,
                    MaxEventsPerPoll = options.MaxEventsPerPoll,
                    MaxPostedPerTurn = options.MaxPostedPerTurn,
                });
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
    public IReadOnlyList<TcpAcceptor> Acceptors => _acceptors;

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
    /// Opens one listener per loop on <paramref name="endPoint"/> with <c>SO_REUSEPORT</c>. With port 0, the first
    /// listener picks a free port and the others bind to the same one. Call before <see cref="Start"/>.
    /// </summary>
    /// <param name="endPoint">Address and port.</param>
    /// <param name="factory">Makes a connection object per accepted socket (called on the accepting loop).</param>
    /// <param name="options">Listener settings; <see cref="TcpServerOptions.ReusePort"/> is forced on.</param>
    /// <returns>The bound address (with the actual port).</returns>
    public IPEndPoint Listen(IPEndPoint endPoint, Func<TcpConnection> factory, TcpServerOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_started)
        {
            throw new InvalidOperationException("Call Listen before Start: listeners are registered while the loops are not running yet.");
        }
        options ??= new TcpServerOptions();
        options.ReusePort = true;
        var bound = endPoint;
        foreach (var loop in _loops)
        {
            var acceptor = TcpAcceptor.Listen(loop, bound, factory, options);
            _acceptors.Add(acceptor);
            bound = acceptor.LocalEndPoint;
        }
        return bound;
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
            loop.Options.Logger?.LoopRunFailed(ex, loop.Name);
            lock (_faults)
            {
                _faults.Add(ex);
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
