using System.Buffers;
using NoBlock.Interop;

namespace NoBlock.Sockets;

/// <summary>A socket the TCP layer tells its loop about, so <see cref="EventLoop.GetSocketDiagnostics"/> can look at it.</summary>
internal interface ITrackedSocket
{
    /// <summary>The owning handle (kept alive with <c>DangerousAddRef</c> while a diagnostic reads it).</summary>
    FdHandle? TrackedHandle { get; }

    /// <summary>True for a listening socket (accept queue), false for a connection (receive/send queues).</summary>
    bool IsListener { get; }

    /// <summary>The listener's bound address (null for connections).</summary>
    System.Net.IPEndPoint? ListenEndPoint { get; }

    /// <summary>Position in the table, kept by the table (-1: not tracked).</summary>
    int TrackedIndex { get; set; }
}

/// <summary>
/// The loop's own sockets (TCP connections and listeners), for diagnostics only. The TCP layer adds a socket when
/// it is attached and removes it when it is closed — one uncontended lock per open and per close, nothing per
/// event. Readers on any thread copy the list under the lock and then query each socket outside it, holding a
/// reference on its <see cref="FdHandle"/> so that the fd cannot be closed (and its number reused) mid-query.
/// </summary>
internal sealed class SocketTable
{
    /// <summary>Initial capacity: a small server never resizes; a large one doubles a handful of times.</summary>
    private const int InitialCapacity = 16;

    private readonly object _gate = new();
    private ITrackedSocket?[] _items = new ITrackedSocket?[InitialCapacity];
    private int _count;

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    public void Add(ITrackedSocket socket)
    {
        lock (_gate)
        {
            if (_count == _items.Length)
            {
                Array.Resize(ref _items, _items.Length * 2);
            }
            socket.TrackedIndex = _count;
            _items[_count++] = socket;
        }
    }

    public void Remove(ITrackedSocket socket)
    {
        lock (_gate)
        {
            int i = socket.TrackedIndex;
            if (i < 0 || i >= _count || !ReferenceEquals(_items[i], socket))
            {
                return;
            }
            // Swap-remove: O(1); the order of sockets means nothing here.
            var last = _items[--_count]!;
            _items[i] = last;
            last.TrackedIndex = i;
            _items[_count] = null;
            socket.TrackedIndex = -1;
        }
    }

    /// <summary>Copies the current sockets into a rented array (return it with <see cref="ArrayPool{T}.Shared"/>).</summary>
    public ITrackedSocket[] Rent(out int count)
    {
        lock (_gate)
        {
            count = _count;
            var copy = ArrayPool<ITrackedSocket>.Shared.Rent(Math.Max(1, count));
            Array.Copy(_items, copy, count);
            return copy;
        }
    }
}
