using System.Net;
using System.Net.Sockets;
using NoBlock.Tcp;
using Xunit;

namespace NoBlock.Tests.Runtime;

/// <summary>
/// EventLoop.GetSocketDiagnostics on real loopback sockets: what piles up in the kernel while a loop is stalled
/// (receive queues, the accept queue) and that it drains once the loop runs again. Conditions are waited for with
/// generous timeouts; nothing asserts how long anything took.
/// </summary>
public sealed class SocketDiagnosticsTests
{
    /// <summary>Small enough to read in the report, large enough to hold every client this test queues.</summary>
    private const int Backlog = 16;

    private const int EarlyClients = 3, LateClients = 5, BytesPerClient = 1000;

    /// <summary>
    /// <see cref="TcpServerOptions.MaxAcceptsPerEvent"/> here: on io_uring the accepts the acceptor keeps in the
    /// kernel, i.e. how many connections a stalled loop's kernel still accepts (into the completion queue).
    /// Fewer than <see cref="LateClients"/>, so the rest must show in the accept queue on both backends.
    /// </summary>
    private const int AcceptsInKernel = 2;

    /// <summary>
    /// Stalls <paramref name="loop"/> until <paramref name="release"/> is set, in a handler that sleeps 1 ms at a
    /// time, as a handler doing blocking I/O passes through the kernel: on io_uring that is when the kernel runs the
    /// armed requests' work (task work, on the loop thread's way back from a system call), so what it accepts and
    /// receives meanwhile is certain to reach the completion queue rather than a matter of timing.
    /// </summary>
    internal static void Stall(EventLoop loop, ManualResetEventSlim inside, ManualResetEventSlim release)
    {
        loop.Post(() =>
        {
            inside.Set();
            var deadline = DateTime.UtcNow + Waits.Long;
            while (!release.IsSet && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(1); // a deliberately stalled loop, released by the test
            }
        });
        Assert.True(inside.Wait(Waits.Long));
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_stalled_loop_fills_receive_and_accept_queues_and_they_drain_after(EventLoopBackend backend)
    {
        EchoConnection.Reset();
        using var lt = new LoopThread(Backends.Loop(backend));
        var acceptor = lt.Invoke(() => TcpAcceptor.Listen(lt.Loop, new IPEndPoint(IPAddress.Loopback, 0), () => new EchoConnection(),
            new TcpServerOptions { Backlog = Backlog, MaxAcceptsPerEvent = AcceptsInKernel }));
        var clients = new List<Socket>();
        try
        {
            for (int i = 0; i < EarlyClients; i++)
            {
                clients.Add(Connect(acceptor.LocalEndPoint));
            }
            Waits.Until(() => Volatile.Read(ref EchoConnection.Open) == EarlyClients, "the early clients accepted");

            var idle = lt.Loop.GetSocketDiagnostics();
            Assert.Equal(EarlyClients, idle.Connections);
            Assert.Equal(0, idle.ReceiveQueueBytes);
            var listener = Assert.Single(idle.Listeners);
            Assert.Equal(acceptor.Fd, listener.Fd);
            Assert.Equal(Backlog, listener.Backlog);
            Assert.Equal(0, listener.Queued);

            // Stall the loop on purpose: a posted action that waits for the test.
            using var inside = new ManualResetEventSlim();
            using var release = new ManualResetEventSlim();
            Stall(lt.Loop, inside, release);

            var payload = new byte[BytesPerClient];
            foreach (var c in clients)
            {
                Assert.Equal(BytesPerClient, c.Send(payload));
            }
            for (int i = 0; i < LateClients; i++)
            {
                // The kernel completes the handshake and queues the connection for accept: connect returns.
                clients.Add(Connect(acceptor.LocalEndPoint));
            }

            SocketDiagnostics stalled = lt.Loop.GetSocketDiagnostics();
            if (backend == EventLoopBackend.Epoll)
            {
                Waits.Until(() =>
                {
                    stalled = lt.Loop.GetSocketDiagnostics();
                    return stalled.ReceiveQueueBytes == EarlyClients * BytesPerClient && stalled.AcceptQueued == LateClients;
                }, "the receive and accept queues to fill while the loop is stalled", onTimeout: () => $"last snapshot: {stalled}");
                Assert.Equal(EarlyClients, stalled.ReceiveQueuesNonEmpty);
                Assert.Equal(BytesPerClient, stalled.LargestReceiveQueueBytes);
                Assert.Contains($"accept queue {LateClients}/{Backlog}", stalled.ToString());
                Assert.Contains($"queued in {EarlyClients} receive queues (worst", stalled.ToString());
                Assert.Null(stalled.CompletionQueue);
            }
            else
            {
                // io_uring: the armed receives go on reading into the ring's buffers, and the armed accepts (no more
                // than AcceptsInKernel) go on accepting: that much waits in the completion queue, the rest of the
                // connections in the accept queue, as on epoll.
                Waits.Until(() =>
                {
                    stalled = lt.Loop.GetSocketDiagnostics();
                    return stalled.CompletionQueue is { } cq && cq.ReceivedBytes == EarlyClients * BytesPerClient && cq.AcceptedConnections == AcceptsInKernel
                        && stalled.AcceptQueued == LateClients - AcceptsInKernel;
                }, "the completion queue and the accept queue to fill while the loop is stalled", onTimeout: () => $"last snapshot: {stalled}");
                var cq = stalled.CompletionQueue!.Value;
                Assert.Equal(EarlyClients, cq.ReceivingConnections);
                Assert.False(cq.Overflowed);
                Assert.Equal(0, stalled.ReceiveQueueBytes); // read into the ring, not left in the sockets
                Assert.Contains($"accept queue {LateClients - AcceptsInKernel}/{Backlog}", stalled.ToString());
                Assert.Contains($"completion queue: {AcceptsInKernel} accepted connections, 2 KB received on {EarlyClients} connections (", stalled.ToString());
            }
            Assert.Equal(EarlyClients, stalled.Connections);            // the late ones are not attached yet
            Assert.Equal(Backlog, stalled.AcceptBacklog);

            release.Set();
            SocketDiagnostics after = stalled;
            Waits.Until(() =>
            {
                after = lt.Loop.GetSocketDiagnostics();
                return after.ReceiveQueueBytes == 0 && after.AcceptQueued == 0 && after.Connections == EarlyClients + LateClients
                    && after.CompletionQueue is null or { AcceptedConnections: 0, ReceivedBytes: 0 };
            }, "the queues to drain once the loop runs again", onTimeout: () => $"last snapshot: {after}");
            Assert.Equal(0, after.ReceiveQueuesNonEmpty);
            Assert.Contains("receive queues empty", after.ToString());
            foreach (var c in clients.Take(EarlyClients))
            {
                Assert.Equal(BytesPerClient, ReadExactly(c, BytesPerClient)); // every byte was echoed
            }
        }
        finally
        {
            foreach (var c in clients)
            {
                c.Dispose();
            }
            lt.Invoke(acceptor.Dispose);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Only_the_loops_own_sockets_are_counted_and_closed_ones_leave(EventLoopBackend backend)
    {
        EchoConnection.Reset();
        using var lt = new LoopThread(Backends.Loop(backend));
        var (r, w) = Fds.Pipe();
        try
        {
            lt.Invoke(() => lt.Loop.Register(r, IoEvents.Readable, _ => { }));
            var acceptor = lt.Invoke(() => TcpAcceptor.Listen(lt.Loop, new IPEndPoint(IPAddress.Loopback, 0), () => new EchoConnection()));
            using (var client = Connect(acceptor.LocalEndPoint))
            {
                Waits.Until(() => lt.Loop.GetSocketDiagnostics().Connections == 1, "the connection counted");
            }
            Waits.Until(() => lt.Loop.GetSocketDiagnostics().Connections == 0, "the closed connection to leave the diagnostics");
            lt.Invoke(acceptor.Dispose);
            Waits.Until(() => lt.Loop.GetSocketDiagnostics().Listeners.Count == 0, "the closed listener to leave the diagnostics");
            Assert.StartsWith("0 connections: receive queues empty", lt.Loop.GetSocketDiagnostics().ToString());
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_full_accept_queue_shows_as_listen_drops_in_the_counters(EventLoopBackend backend)
    {
        EchoConnection.Reset();
        using var lt = new LoopThread(Backends.Loop(backend));
        // Backlog 1: the kernel queues at most backlog + 1 handshakes; the rest overflow (their SYNs or ACKs dropped).
        // On io_uring one accept in the kernel: a stalled loop's kernel accepts one connection, then the backlog fills.
        var acceptor = lt.Invoke(() => TcpAcceptor.Listen(lt.Loop, new IPEndPoint(IPAddress.Loopback, 0), () => new EchoConnection(),
            new TcpServerOptions { Backlog = 1, MaxAcceptsPerEvent = 1 }));
        using var release = new ManualResetEventSlim();
        using var inside = new ManualResetEventSlim();
        var clients = new List<Socket>();
        try
        {
            Stall(lt.Loop, inside, release);
            var before = lt.Loop.GetSocketDiagnostics().Counters;
            Assert.NotNull(before);
            SocketDiagnostics now = null!;
            for (int i = 0; i < 8; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
                clients.Add(s);
                try
                {
                    s.Connect(acceptor.LocalEndPoint);
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
                {
                    // non-blocking connect in progress: the handshake goes on without us
                }
            }
            Waits.Until(() =>
            {
                now = lt.Loop.GetSocketDiagnostics();
                var growth = now.Counters!.Value - before!.Value;
                return growth.ListenDrops > 0 || growth.ListenOverflows > 0;
            }, "ListenDrops/ListenOverflows to grow while the accept queue is full", TimeSpan.FromSeconds(15), onTimeout: () => $"last snapshot: {now}");
            Assert.Equal(1, now.AcceptBacklog);
            Assert.True(now.AcceptQueued >= 1, now.ToString());
            if (backend == EventLoopBackend.IoUring)
            {
                // The one accept in the kernel took a connection (under load it may run only after the drops), and no more.
                Waits.Until(() => (now = lt.Loop.GetSocketDiagnostics()).CompletionQueue is { AcceptedConnections: 1 }, "the accept in the kernel to take one",
                    onTimeout: () => $"last snapshot: {now}");
                Assert.True(now.AcceptQueued >= 1, now.ToString());
            }
        }
        finally
        {
            release.Set();
            foreach (var c in clients)
            {
                c.Dispose();
            }
            lt.Invoke(acceptor.Dispose);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void On_the_loop_thread_the_snapshot_is_refused_and_the_async_one_is_taken_off_the_loop(EventLoopBackend backend)
    {
        using var lt = new LoopThread(Backends.Loop(backend, new EventLoopOptions { Name = "diag-on-loop" }));
        var refused = lt.Invoke(() => Assert.Throws<InvalidOperationException>(() => lt.Loop.GetSocketDiagnostics()));
        Assert.Contains("GetSocketDiagnosticsAsync", refused.Message);
        Assert.Contains("'diag-on-loop'", refused.Message);

        var done = new TaskCompletionSource<(SocketDiagnostics Snapshot, bool BackOnLoop)>(TaskCreationOptions.RunContinuationsAsynchronously);
        lt.Loop.Post(async () =>
        {
            var snapshot = await lt.Loop.GetSocketDiagnosticsAsync();
            done.SetResult((snapshot, lt.Loop.IsOnLoopThread));
        });
        var (snapshot, backOnLoop) = Waits.Result(done.Task, "the snapshot taken off the loop");
        Assert.Equal("diag-on-loop", snapshot.LoopName);
        Assert.True(backOnLoop);
        Assert.Equal("diag-on-loop", Waits.Result(lt.Loop.GetSocketDiagnosticsAsync(), "a snapshot from the test thread").LoopName);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Asking_a_disposed_loop_throws_ObjectDisposedException_naming_it(EventLoopBackend backend)
    {
        var loop = Backends.Loop(backend, new EventLoopOptions { Name = "gone" });
        Assert.Equal(0, loop.GetSocketDiagnostics().Connections); // a loop that never ran can be asked
        loop.Dispose();
        var ex = Assert.Throws<ObjectDisposedException>(() => loop.GetSocketDiagnostics());
        Assert.Contains("'gone'", ex.Message);
    }

    private static Socket Connect(IPEndPoint ep)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        s.Connect(ep);
        return s;
    }

    private static int ReadExactly(Socket s, int count)
    {
        var buf = new byte[count];
        int got = 0;
        s.ReceiveTimeout = (int)Waits.Long.TotalMilliseconds;
        while (got < count)
        {
            int n = s.Receive(buf, got, count - got, SocketFlags.None);
            if (n == 0)
            {
                break;
            }
            got += n;
        }
        return got;
    }
}

public sealed class NetworkCountersTests
{
    [Fact]
    public void Pairs_of_name_and_value_lines_are_parsed_by_name()
    {
        const string netstat = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 1 5 7\nIpExt: InNoRoutes\nIpExt: 3\n";
        var d = NetworkCounters.ParsePairs(netstat, "TcpExt:");
        Assert.Equal(5, d["ListenOverflows"]);
        Assert.Equal(7, d["ListenDrops"]);
        var growth = new NetworkCounters(10, 12, 3, 2) - new NetworkCounters(4, 5, 1, 1);
        Assert.Equal(new NetworkCounters(6, 7, 2, 1), growth);
        Assert.NotNull(NetworkCounters.Read()); // this machine has /proc/net
    }
}
