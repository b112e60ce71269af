using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using NoBlock.Tcp;
using NoBlock.Tests.Runtime;
using Xunit;
using static Tmds.Linux.LibC;

namespace NoBlock.Tests.Stress;

/// <summary>What a stress server's connections did, shared by all of them (thread-safe: read from the test thread).</summary>
internal sealed class StressCounters
{
    public int Opened;
    public int Closed;
    public int MaxPending;
    public readonly ConcurrentQueue<(CloseReason Reason, int Closes)> Closes = new();
    public readonly ConcurrentBag<TcpConnection> Connections = new();

    public int Open => Volatile.Read(ref Opened) - Volatile.Read(ref Closed);

    public void RecordPending(int pending)
    {
        int seen;
        while (pending > (seen = Volatile.Read(ref MaxPending)) && Interlocked.CompareExchange(ref MaxPending, pending, seen) != seen)
        {
        }
    }
}

/// <summary>Echoes what it receives (back-pressure and close by the runtime's rules) and counts opens, closes, pending output.</summary>
internal sealed class StressEcho : TcpConnection
{
    private readonly StressCounters _counters;
    private int _closes;

    public StressEcho(StressCounters counters) => _counters = counters;

    protected override void OnOpened()
    {
        _counters.Connections.Add(this);
        Interlocked.Increment(ref _counters.Opened);
    }

    protected override void OnData(ReadOnlySpan<byte> data)
    {
        Send(data);
        _counters.RecordPending(PendingSendBytes);
    }

    protected override void OnClosed(CloseReason reason)
    {
        _counters.Closes.Enqueue((reason, ++_closes));
        Interlocked.Increment(ref _counters.Closed);
    }
}

/// <summary>Sends a large payload as soon as it opens (through a small kernel buffer, so most of it waits in our queue).</summary>
internal sealed class StressBulkSender : TcpConnection
{
    private readonly StressCounters _counters;
    private readonly byte[] _payload;
    private int _closes;

    public StressBulkSender(StressCounters counters, byte[] payload) => (_counters, _payload) = (counters, payload);

    protected override void OnOpened()
    {
        Interlocked.Increment(ref _counters.Opened);
        SendBufferSize = 4096;
        Send(_payload);
    }

    protected override void OnData(ReadOnlySpan<byte> data)
    {
    }

    protected override void OnClosed(CloseReason reason)
    {
        _counters.Closes.Enqueue((reason, ++_closes));
        Interlocked.Increment(ref _counters.Closed);
    }
}

/// <summary>
/// The stress suite of issue 11 ("EventLoop under races and faults", Tests and CI): floods, resets mid-write, slow and
/// never-reading peers, half-close in both trigger modes, running out of fds, and cross-thread Post storms, each on
/// both backends (the backend matrix) and on real loopback sockets. Every loop is bounded in count and every wait in
/// time (<see cref="Waits.Long"/>); the suite asserts what happened, never how long it took.
/// Run it alone with <c>dotnet test tests/NoBlock.Tests -c Release --filter Category=Stress</c>.
/// </summary>
[Trait("Category", "Stress")]
[Xunit.Collection(NoBlock.Tests.Runtime.FdCounting.Name)]
public sealed unsafe class StressTests
{
    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);

    /// <summary>
    /// Process-wide fds that .NET opens once, on first use, and keeps: start them before any test counts fds, so
    /// they are not counted as a leak. The socket engine (an epoll fd, a pipe) starts with the first asynchronous
    /// socket operation; the console (a dup of fd 1 and of fd 2, and the signal-handling pipe) with the first write
    /// to <see cref="Console.Out"/> or <see cref="Console.Error"/> — which a loaded machine causes mid-test: the stall
    /// watchdog's default report is a line on standard error.
    /// </summary>
    static StressTests()
    {
        Console.Out.Write("");
        Console.Out.Flush();
        Console.Error.Write("");
        Console.Error.Flush();
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(AnyLoopbackPort);
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accept = listener.AcceptAsync();
        client.ConnectAsync(listener.LocalEndPoint!).GetAwaiter().GetResult();
        using var server = accept.GetAwaiter().GetResult();
        var receive = server.ReceiveAsync(new byte[1], SocketFlags.None);
        client.Send(new byte[] { 1 });
        receive.GetAwaiter().GetResult();
    }

    /// <summary>A loop on <paramref name="backend"/> with one level-triggered and one edge-triggered listener.</summary>
    private static (LoopThread Loop, TcpAcceptor Level, TcpAcceptor Edge) StartServers(EventLoopBackend backend, Func<TcpConnection> factory, TcpServerOptions? options = null)
    {
        TcpAcceptor? level = null, edge = null;
        // The watchdog stays on, without its stack capture: on a loaded machine the 2 MiB sends stall the loop past
        // 100 ms, and after such a stall a pipe pair (both ends in this process) was seen to stay open past the fd
        // count's 10 s wait, only with the capture on (an EventPipe session on the process's diagnostics port; not
        // pinned down further). The capture's own tests live with it; here it would be counted as a leak.
        var lt = new LoopThread(Backends.Loop(backend, new EventLoopOptions { Watchdog = { CaptureStack = false } }), loop =>
        {
            level = TcpAcceptor.Listen(loop, AnyLoopbackPort, factory, With(options, edge: false));
            edge = TcpAcceptor.Listen(loop, AnyLoopbackPort, factory, With(options, edge: true));
        });
        return (lt, level!, edge!);
    }

    private static TcpServerOptions With(TcpServerOptions? o, bool edge) => new()
    {
        EdgeTriggered = edge,
        Backlog = o?.Backlog ?? 4096,
        HighWaterMark = o?.HighWaterMark ?? 64 * 1024,
        LowWaterMark = o?.LowWaterMark ?? 16 * 1024,
        SendBufferSize = o?.SendBufferSize,
        ReceiveBufferSize = o?.ReceiveBufferSize,
    };

    private static Socket NewClient(int? receiveBuffer = null)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBuffer is int rb)
        {
            s.ReceiveBufferSize = rb;
        }
        s.ReceiveTimeout = (int)Waits.Long.TotalMilliseconds;
        s.SendTimeout = (int)Waits.Long.TotalMilliseconds;
        return s;
    }

    private static Socket Connect(IPEndPoint ep, int? receiveBuffer = null)
    {
        var s = NewClient(receiveBuffer);
        s.Connect(ep);
        return s;
    }

    private static byte[] ReceiveExactly(Socket s, int count)
    {
        var buf = new byte[count];
        int got = 0;
        while (got < count)
        {
            int n = s.Receive(buf, got, count - got, SocketFlags.None);
            if (n == 0)
            {
                throw new Xunit.Sdk.XunitException($"EOF after {got} of {count} bytes");
            }
            got += n;
        }
        return buf;
    }

    /// <summary>A payload unique to <paramref name="seed"/>, so a byte from another connection's echo cannot pass for it.</summary>
    private static byte[] Pattern(int seed, int length)
    {
        var data = new byte[length];
        uint x = (uint)seed * 2654435761u + 1;
        for (int i = 0; i < length; i++)
        {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            data[i] = (byte)x;
        }
        return data;
    }

    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    // ---- connection flood -------------------------------------------------------------------------------------------

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Flood_of_2000_connections_echoes_every_byte_and_leaks_no_fd(EventLoopBackend backend)
    {
        const int Connections = 2000; // 1,000 per trigger mode; 4,000 fds with both ends in this process
        Settle();
        int fdsBefore = Fds.OpenCount();
        var counters = new StressCounters();
        var (lt, level, edge) = StartServers(backend, () => new StressEcho(counters));
        using (lt)
        {
            var clients = new List<Socket>(Connections);
            try
            {
                for (int i = 0; i < Connections; i++)
                {
                    clients.Add(Connect(i % 2 == 0 ? level.LocalEndPoint : edge.LocalEndPoint));
                }
                Waits.Until(() => Volatile.Read(ref counters.Opened) == Connections, $"{Connections} accepted connections");
                // All at once: every client sends first, then every echo is read and compared byte for byte.
                for (int round = 0; round < 2; round++)
                {
                    for (int i = 0; i < clients.Count; i++)
                    {
                        clients[i].Send(Pattern((round * Connections) + i, 200 + (i % 300)));
                    }
                    for (int i = 0; i < clients.Count; i++)
                    {
                        var expected = Pattern((round * Connections) + i, 200 + (i % 300));
                        Assert.True(expected.AsSpan().SequenceEqual(ReceiveExactly(clients[i], expected.Length)), $"connection {i} round {round}: the echo differs");
                    }
                }
                for (int i = 0; i < clients.Count; i++)
                {
                    if (i % 3 == 0)
                    {
                        clients[i].LingerState = new LingerOption(true, 0); // a third leave with a reset
                    }
                    clients[i].Dispose();
                }
                clients.Clear();
                Waits.Until(() => counters.Open == 0, "every server-side connection closed");
                Assert.Equal(Connections, counters.Closes.Count);
                Assert.All(counters.Closes, c =>
                {
                    Assert.Contains(c.Reason, new[] { CloseReason.PeerClosed, CloseReason.Reset });
                    Assert.Equal(1, c.Closes); // each connection closed once
                });
                Assert.Equal(Connections, lt.Invoke(() => level.AcceptedCount + edge.AcceptedCount));
            }
            finally
            {
                clients.ForEach(c => c.Dispose());
            }
        }
        Fds.ExpectOpenCount(fdsBefore);
    }

    // ---- resets mid-write -------------------------------------------------------------------------------------------

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Resets_while_the_server_writes_close_each_connection_once_and_the_loop_keeps_serving(EventLoopBackend backend)
    {
        const int Connections = 100; // 50 per trigger mode
        var payload = Pattern(7, 2 * 1024 * 1024);
        Settle();
        int fdsBefore = Fds.OpenCount();
        var counters = new StressCounters();
        var (lt, level, edge) = StartServers(backend, () => new StressBulkSender(counters, payload));
        using (lt)
        {
            var clients = new List<Socket>(Connections);
            try
            {
                for (int i = 0; i < Connections; i++)
                {
                    clients.Add(Connect(i % 2 == 0 ? level.LocalEndPoint : edge.LocalEndPoint, receiveBuffer: 4096));
                }
                // Each client takes a different share of the payload (the server is mid-way through its send), then
                // vanishes with a reset: SO_LINGER 0 and close, with most of the 2 MiB still queued on the server.
                for (int i = 0; i < clients.Count; i++)
                {
                    var head = ReceiveExactly(clients[i], 1000 + (i * 997));
                    Assert.True(payload.AsSpan(0, head.Length).SequenceEqual(head), $"connection {i}: bytes out of order");
                    clients[i].LingerState = new LingerOption(true, 0);
                    clients[i].Dispose();
                }
                clients.Clear();
                Waits.Until(() => Volatile.Read(ref counters.Closed) == Connections, "every server-side close");
                lt.RunTurns();
                Assert.Equal(Connections, counters.Closes.Count);
                Assert.All(counters.Closes, c =>
                {
                    Assert.Contains(c.Reason, new[] { CloseReason.Reset, CloseReason.BrokenPipe });
                    Assert.Equal(1, c.Closes);
                });
                // The loop keeps serving: another round of the same, read to the end this time.
                using var last = Connect(level.LocalEndPoint);
                Assert.True(payload.AsSpan().SequenceEqual(ReceiveExactly(last, payload.Length)));
            }
            finally
            {
                clients.ForEach(c => c.Dispose());
            }
        }
        Fds.ExpectOpenCount(fdsBefore);
    }

    // ---- slow reader and never-reading peer -------------------------------------------------------------------------

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Slow_and_never_reading_peers_get_back_pressure_and_do_not_stall_the_others(EventLoopBackend backend)
    {
        var options = new TcpServerOptions { HighWaterMark = 64 * 1024, LowWaterMark = 16 * 1024, SendBufferSize = 8192, ReceiveBufferSize = 8192 };
        // One read past the mark at most: the loop reads up to 64 KiB (its read buffer) before it sees the mark.
        int bound = options.HighWaterMark + (64 * 1024);
        var counters = new StressCounters();
        var (lt, level, edge) = StartServers(backend, () => new StressEcho(counters), options);
        using (lt)
        {
            foreach (var ep in new[] { level.LocalEndPoint, edge.LocalEndPoint })
            {
                // 1. A peer that sends and never reads: it must end up blocked (the server stopped reading).
                using var never = Connect(ep, receiveBuffer: 8192);
                never.Blocking = false;
                var sentToNever = new MemoryStream();
                const long Limit = 256L * 1024 * 1024; // a server without back-pressure would absorb all of it
                var chunk = Pattern(1, 16 * 1024);
                int wouldBlockInARow = 0;
                var deadline = DateTime.UtcNow + Waits.Long;
                while (sentToNever.Length < Limit && DateTime.UtcNow < deadline && wouldBlockInARow <= 200)
                {
                    try
                    {
                        int n = never.Send(chunk);
                        sentToNever.Write(chunk, 0, n);
                        wouldBlockInARow = 0;
                    }
                    catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock)
                    {
                        wouldBlockInARow++;
                        Thread.Sleep(1);
                    }
                }
                Assert.True(wouldBlockInARow > 200, $"the server kept reading ({sentToNever.Length} bytes) from a peer that never reads");
                Assert.True(lt.Invoke(() => counters.Connections.Any(c => c.IsReadingPaused)), "no connection paused reading");

                // 2. Meanwhile a slow reader streams 2 MiB through its echo, reading in small bites with pauses,
                //    and 50 other connections do 20 round trips each: none of them waits on the stuck one.
                using var slow = Connect(ep, receiveBuffer: 8192);
                var slowPayload = Pattern(2, 2 * 1024 * 1024);
                var slowSender = Task.Run(() => slow.Send(slowPayload));
                var others = Enumerable.Range(0, 50).Select(_ => Connect(ep)).ToList();
                try
                {
                    var received = new MemoryStream();
                    var bite = new byte[4096];
                    int reads = 0;
                    int round = 0;
                    while (received.Length < slowPayload.Length)
                    {
                        int n = slow.Receive(bite);
                        Assert.NotEqual(0, n);
                        received.Write(bite, 0, n);
                        if (++reads % 8 == 0)
                        {
                            Thread.Sleep(1);
                        }
                        if (reads % 16 == 0 && round < 20)
                        {
                            for (int i = 0; i < others.Count; i++)
                            {
                                var msg = Pattern(1000 + (round * 100) + i, 64);
                                others[i].Send(msg);
                                Assert.True(msg.AsSpan().SequenceEqual(ReceiveExactly(others[i], msg.Length)));
                            }
                            round++;
                        }
                    }
                    Waits.Done(slowSender, "the slow reader's send");
                    Assert.Equal(20, round);
                    Assert.True(slowPayload.AsSpan().SequenceEqual(received.ToArray()), "the slow reader's echo differs");
                }
                finally
                {
                    others.ForEach(o => o.Dispose());
                }
                Assert.InRange(Volatile.Read(ref counters.MaxPending), 1, bound); // server memory stayed bounded

                // 3. The never-reading peer finally reads: every byte it sent comes back, in order.
                never.Blocking = true;
                var echoed = ReceiveExactly(never, (int)sentToNever.Length);
                Assert.True(sentToNever.ToArray().AsSpan().SequenceEqual(echoed), "the never-reading peer's echo differs");
            }
            Assert.InRange(Volatile.Read(ref counters.MaxPending), 1, bound);
        }
    }

    // ---- half-close in both trigger modes ---------------------------------------------------------------------------

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Half_close_after_data_gets_the_echo_then_EOF_in_both_trigger_modes(EventLoopBackend backend)
    {
        const int Connections = 400; // 200 per trigger mode
        Settle();
        int fdsBefore = Fds.OpenCount();
        var counters = new StressCounters();
        var (lt, level, edge) = StartServers(backend, () => new StressEcho(counters));
        using (lt)
        {
            var clients = new List<Socket>(Connections);
            try
            {
                for (int i = 0; i < Connections; i++)
                {
                    clients.Add(Connect(i % 2 == 0 ? level.LocalEndPoint : edge.LocalEndPoint));
                }
                // Data and FIN back to back: they often arrive in one wake-up (the edge-triggered case of defect 1).
                for (int i = 0; i < clients.Count; i++)
                {
                    clients[i].Send(Pattern(i, 1 + (i * 37 % 5000)));
                    clients[i].Shutdown(SocketShutdown.Send);
                }
                for (int i = 0; i < clients.Count; i++)
                {
                    var expected = Pattern(i, 1 + (i * 37 % 5000));
                    Assert.True(expected.AsSpan().SequenceEqual(ReceiveExactly(clients[i], expected.Length)), $"connection {i}: the echo differs");
                    Assert.Equal(0, clients[i].Receive(new byte[1])); // the server saw EOF, echoed, and closed
                }
                Waits.Until(() => Volatile.Read(ref counters.Closed) == Connections, "every server-side close");
                Assert.All(counters.Closes, c =>
                {
                    Assert.Equal(CloseReason.PeerClosed, c.Reason);
                    Assert.Equal(1, c.Closes);
                });
            }
            finally
            {
                clients.ForEach(c => c.Dispose());
            }
        }
        Fds.ExpectOpenCount(fdsBefore);
    }

    // ---- out of fds (EMFILE) ----------------------------------------------------------------------------------------

    /// <summary>
    /// The process runs out of fds while clients connect: the listener's accept4 fails with EMFILE, accepting pauses
    /// (docs/runtime.md: 100 ms, no spinning), and once fds are free again every queued connection is accepted and
    /// echoes. The fds are used up inside this test process (dup of one eventfd up to RLIMIT_NOFILE, not a lowered
    /// limit) and only for the moment the clients connect: the client sockets are created before, and nothing else
    /// in the test opens a file meanwhile.
    /// </summary>
    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Out_of_fds_pauses_accepting_and_the_listener_serves_every_queued_connection_once_fds_are_free(EventLoopBackend backend)
    {
        const int Clients = 20;
        Settle();
        int fdsBefore = Fds.OpenCount();
        var counters = new StressCounters();
        var (lt, level, edge) = StartServers(backend, () => new StressEcho(counters));
        var fillers = new List<int>();
        using (lt)
        {
            var clients = Enumerable.Range(0, Clients).Select(_ => NewClient()).ToList();
            try
            {
                using (var warm = Connect(level.LocalEndPoint)) // every code path of the test runs once before the fds run out
                {
                    warm.Send(new byte[] { 1 });
                    ReceiveExactly(warm, 1);
                }
                Waits.Until(() => Volatile.Read(ref counters.Closed) == 1, "the warm-up connection's close");
                long errorsBefore = lt.Invoke(() => level.AcceptErrors + edge.AcceptErrors);

                int seed = Fds.EventFd();
                Assert.True(seed >= 0);
                fillers.Add(seed);
                for (int i = 0; i < 25_000; i++) // bounded: RLIMIT_NOFILE is 20,000 here, and the loop stops at EMFILE anyway
                {
                    int fd = dup(seed);
                    if (fd < 0)
                    {
                        Assert.Equal(EMFILE, errno);
                        break;
                    }
                    fillers.Add(fd);
                }
                for (int i = 0; i < clients.Count; i++)
                {
                    clients[i].Connect(i % 2 == 0 ? level.LocalEndPoint : edge.LocalEndPoint); // the kernel completes the handshake; accept4 cannot take it
                }
                Waits.Until(() => lt.Invoke(() => level.AcceptErrors + edge.AcceptErrors) >= errorsBefore + 2, "EMFILE on both listeners");
                Assert.Equal(1, Volatile.Read(ref counters.Opened)); // nothing accepted while out of fds
                FreeAll(fillers);

                Waits.Until(() => Volatile.Read(ref counters.Opened) == 1 + Clients, "every queued connection accepted once fds are free");
                for (int i = 0; i < clients.Count; i++)
                {
                    var msg = Pattern(i, 100);
                    clients[i].Send(msg);
                    Assert.True(msg.AsSpan().SequenceEqual(ReceiveExactly(clients[i], msg.Length)));
                }
                using var after = Connect(edge.LocalEndPoint); // and new ones too
                after.Send(new byte[] { 5 });
                Assert.Equal(5, ReceiveExactly(after, 1)[0]);
            }
            finally
            {
                FreeAll(fillers);
                clients.ForEach(c => c.Dispose());
            }
        }
        Fds.ExpectOpenCount(fdsBefore);

        static void FreeAll(List<int> fds)
        {
            fds.ForEach(fd => close(fd));
            fds.Clear();
        }
    }

    // ---- cross-thread Post storm ------------------------------------------------------------------------------------

    /// <summary>
    /// 4 threads post 25,000 items each while a fifth thread calls Stop 200 times and the loop thread runs again after
    /// each stop: every item runs exactly once, across the stops, and a final Stop from another thread ends Run.
    /// </summary>
    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Post_storm_from_many_threads_runs_every_item_exactly_once_across_Stops_from_another_thread(EventLoopBackend backend)
    {
        const int Threads = 4, PerThread = 25_000, Total = Threads * PerThread, Stops = 200;
        var hits = new int[Total];
        int ran = 0;
        int runs = 0;
        bool done = false;
        Exception? loopError = null;
        using var loop = Backends.Loop(backend);
        var loopThread = new Thread(() =>
        {
            try
            {
                while (!Volatile.Read(ref done))
                {
                    loop.Run(); // returns at every Stop; items still queued run on the next Run
                    Interlocked.Increment(ref runs);
                }
            }
            catch (Exception ex)
            {
                loopError = ex;
            }
        }) { IsBackground = true, Name = "stress-loop" };
        loopThread.Start();

        using var start = new Barrier(Threads + 1);
        var posters = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < PerThread; i++)
            {
                int item = (t * PerThread) + i;
                loop.Post(() =>
                {
                    Interlocked.Increment(ref hits[item]);
                    Interlocked.Increment(ref ran);
                });
            }
        }) { IsBackground = true }).ToList();
        posters.ForEach(p => p.Start());
        var stopper = new Thread(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < Stops; i++)
            {
                loop.Stop();
                Thread.Yield();
            }
        }) { IsBackground = true };
        stopper.Start();

        try
        {
            Assert.All(posters, p => Assert.True(p.Join(Waits.Long), "a poster did not finish"));
            Assert.True(stopper.Join(Waits.Long), "the stopper did not finish");
            Waits.Until(() => Volatile.Read(ref ran) >= Total, $"{Total} posted items to run");
        }
        finally
        {
            Volatile.Write(ref done, true);
            var finalStop = new Thread(loop.Stop); // the last Stop, from yet another thread
            finalStop.Start();
            finalStop.Join();
            Assert.True(loopThread.Join(Waits.Long), "Run did not return after the final Stop");
        }
        Assert.Null(loopError);
        Assert.Equal(Total, Volatile.Read(ref ran));
        int wrong = Enumerable.Range(0, Total).Count(i => hits[i] != 1);
        Assert.True(wrong == 0, $"{wrong} items did not run exactly once (first: {Array.FindIndex(hits, h => h != 1)})");
        Assert.True(Volatile.Read(ref runs) >= 1);
    }
}
