using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NoBlock;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace StallDemo;

/// <summary>
/// A small server on one <see cref="EventLoop"/>. A connection starts with a one-line hello naming a service; the
/// server then registers the connection's fd with that service's handler. Two of the handlers make the classic
/// mistakes the watchdog and the analyzers exist for.
/// </summary>
internal sealed unsafe class Server : IDisposable
{
    /// <summary>How long the two bad handlers hold the loop: three times the default 100 ms stall threshold.</summary>
    public static readonly TimeSpan StallLength = TimeSpan.FromMilliseconds(300);

    /// <summary>What the edge-triggered handler reads per event: less than the client sends, on purpose.</summary>
    public const int ChunkReadSize = 16;

    private const int BufferSize = 4096;

    private readonly EventLoop _loop;
    private readonly Socket _listener;
    private readonly Dictionary<int, Registration> _connections = new();
    private readonly byte[] _buffer = new byte[BufferSize];
    private readonly IoHandler _lookup;

    public Server(EventLoop loop)
    {
        _loop = loop;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(64);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        // OnLookup is handed over as a delegate made here: registering a handler is not calling it, but the NB0002
        // analyzer currently reads a method group passed to Register inside a handler as a call, and would add
        // OnHello → OnLookup → Thread.Sleep chains (up to the listener's Register) to the NB0001 finding in OnLookup.
        _lookup = OnLookup;
        _loop.Register((int)_listener.Handle, IoEvents.Readable, OnAcceptable);
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>Level-triggered listener: accepts until EAGAIN anyway, so one event serves a burst.</summary>
    [EventLoopHandler]
    private void OnAcceptable(IoEvent e)
    {
        while (true)
        {
            int fd = accept4(e.Fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
            {
                return; // EAGAIN: the backlog is empty (any other error: try again on the next event)
            }
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(int));
            _connections[fd] = _loop.Register(fd, IoEvents.Readable, OnHello);
        }
    }

    /// <summary>The first line names the service; the fd moves to that service's handler.</summary>
    [EventLoopHandler]
    private void OnHello(IoEvent e)
    {
        int n = Receive(e.Fd, _buffer.Length);
        if (n <= 0)
        {
            return;
        }
        string service = Encoding.ASCII.GetString(_buffer, 0, n).Trim();
        _connections[e.Fd].Dispose();
        _connections[e.Fd] = service switch
        {
            "echo" => _loop.Register(e.Fd, IoEvents.Readable, OnEcho),
            "lookup" => _loop.Register(e.Fd, IoEvents.Readable, _lookup),
            "checksum" => _loop.Register(e.Fd, IoEvents.Readable, OnChecksum),
            _ => _loop.Register(e.Fd, IoEvents.Readable | IoEvents.EdgeTriggered, OnChunk),
        };
        Send(e.Fd, "ok\n"u8);
    }

    /// <summary>Good: level-triggered, reads what is there and sends it back.</summary>
    [EventLoopHandler]
    private void OnEcho(IoEvent e)
    {
        int n = Receive(e.Fd, _buffer.Length);
        if (n > 0)
        {
            Send(e.Fd, _buffer.AsSpan(0, n));
        }
    }

    /// <summary>Bad: a synchronous "database lookup" on the loop thread (NB0001 at build time, a blocked stall at run time).</summary>
    [EventLoopHandler]
    private void OnLookup(IoEvent e)
    {
        if (Receive(e.Fd, _buffer.Length) <= 0)
        {
            return;
        }
        Thread.Sleep(StallLength);
        Send(e.Fd, "found\n"u8);
    }

    /// <summary>Bad: 300 ms of CPU on the loop thread (no analyzer can call that blocking; the watchdog sees it running).</summary>
    [EventLoopHandler]
    private void OnChecksum(IoEvent e)
    {
        if (Receive(e.Fd, _buffer.Length) <= 0)
        {
            return;
        }
        var clock = Stopwatch.StartNew();
        ulong sum = 14695981039346656037;
        while (clock.Elapsed < StallLength)
        {
            for (int i = 0; i < 1000; i++)
            {
                sum = (sum ^ (ulong)i) * 1099511628211;
            }
        }
        Send(e.Fd, Encoding.ASCII.GetBytes($"{sum:x16}\n"));
    }

    /// <summary>Bad: edge-triggered, and reads once (NB0003 at build time; the edge-triggered guard at run time).</summary>
    [EventLoopHandler]
    private void OnChunk(IoEvent e)
    {
        fixed (byte* p = _buffer)
        {
            long n = recv(e.Fd, p, ChunkReadSize, 0);
            if (n > 0)
            {
                send(e.Fd, p, (int)n, MSG_NOSIGNAL);
            }
            else if (n == 0)
            {
                CloseConnection(e.Fd);
            }
        }
    }

    /// <summary>One recv; on end of stream or a hard error the connection is closed. Returns the bytes read, or 0.</summary>
    private int Receive(int fd, int max)
    {
        fixed (byte* p = _buffer)
        {
            long n = recv(fd, p, max, 0);
            if (n > 0)
            {
                return (int)n;
            }
            if (n == 0 || errno != EAGAIN)
            {
                CloseConnection(fd);
            }
            return 0;
        }
    }

    private static void Send(int fd, ReadOnlySpan<byte> data)
    {
        // Replies are a few bytes on an idle socket: the kernel takes them whole (a real server would queue the rest).
        fixed (byte* p = data)
        {
            send(fd, p, data.Length, MSG_NOSIGNAL);
        }
    }

    private void CloseConnection(int fd)
    {
        if (_connections.Remove(fd, out var reg))
        {
            reg.Dispose();
            close(fd);
        }
    }

    /// <summary>Closes every connection and the listener. Call after the loop stopped.</summary>
    public void Dispose()
    {
        foreach (var (fd, reg) in _connections)
        {
            reg.Dispose();
            close(fd);
        }
        _connections.Clear();
        _listener.Dispose();
    }
}
