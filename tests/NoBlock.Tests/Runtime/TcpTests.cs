using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using NoBlock.Tcp;
using Xunit;

namespace NoBlock.Tests.Runtime;

/// <summary>Echoes what it receives; records how it closed.</summary>
internal class EchoConnection : TcpConnection
{
    public static int Open;
    public static readonly ConcurrentQueue<(CloseReason Reason, Exception? Error)> Closes = new();
    public int MaxPendingSeen;
    public int PausesSeen;

    protected override void OnOpened() => Interlocked.Increment(ref Open);

    protected override void OnData(ReadOnlySpan<byte> data)
    {
        bool wasPaused = IsReadingPaused;
        Send(data);
        MaxPendingSeen = Math.Max(MaxPendingSeen, PendingSendBytes);
        if (!wasPaused && IsReadingPaused)
        {
            PausesSeen++;
        }
    }

    protected override void OnClosed(CloseReason reason)
    {
        Interlocked.Decrement(ref Open);
        Closes.Enqueue((reason, CloseError));
    }

    public static void Reset()
    {
        Volatile.Write(ref Open, 0);
        Closes.Clear();
    }
}

/// <summary>Sends a large payload as soon as it opens, then closes gracefully.</summary>
internal sealed class BulkSender : TcpConnection
{
    public static byte[] Payload = Array.Empty<byte>();
    public static volatile BulkSender? Last;
    public int MaxPendingSeen;

    protected override void OnOpened()
    {
        Last = this;
        SendBufferSize = 4096; // small kernel buffer: most of the payload must wait in our queue
        Send(Payload);
        MaxPendingSeen = PendingSendBytes;
        Close();
    }

    protected override void OnData(ReadOnlySpan<byte> data)
    {
    }
}

internal sealed class ThrowingConnection : TcpConnection
{
    public static readonly ConcurrentQueue<CloseReason> Closes = new();

    protected override void OnData(ReadOnlySpan<byte> data) => throw new InvalidDataException("bad request");

    protected override void OnClosed(CloseReason reason) => Closes.Enqueue(reason);
}

[Xunit.Collection(NoBlock.Tests.Runtime.FdCounting.Name)]
public sealed class TcpTests
{
    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);

    internal static (LoopThread Loop, TcpAcceptor Acceptor) StartServer(EventLoopBackend backend, Func<TcpConnection> factory, TcpServerOptions? options = null, EventLoopOptions? loopOptions = null)
    {
        TcpAcceptor? acceptor = null;
        loopOptions ??= new EventLoopOptions();
        loopOptions.Backend = backend; // demanded: a matrix row must not fall back silently
        var lt = new LoopThread(loopOptions, loop => acceptor = TcpAcceptor.Listen(loop, AnyLoopbackPort, factory, options));
        Assert.Equal(backend, lt.Loop.Backend);
        return (lt, acceptor!);
    }

    internal static Socket Connect(IPEndPoint ep, int? receiveBuffer = null)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBuffer is int rb)
        {
            s.ReceiveBufferSize = rb; // before connect, so the advertised window is small
        }
        s.Connect(ep);
        s.ReceiveTimeout = (int)Waits.Long.TotalMilliseconds;
        s.SendTimeout = (int)Waits.Long.TotalMilliseconds;
        return s;
    }

    internal static byte[] ReceiveExactly(Socket s, int count)
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

    internal static byte[] Pattern(int length)
    {
        var data = new byte[length];
        for (int i = 0; i < length; i++)
        {
            data[i] = (byte)((i * 31) ^ (i >> 8));
        }
        return data;
    }

    [Theory]
    [InlineData(EventLoopBackend.Epoll, false)]
    [InlineData(EventLoopBackend.Epoll, true)]
    [IoUringRow(false)] // EdgeTriggered does not apply to io_uring's completion I/O: one row
    public void Echo_round_trips_in_level_and_edge_mode(EventLoopBackend backend, bool edge)
    {
        EchoConnection.Reset();
        var (lt, acceptor) = StartServer(backend, () => new EchoConnection(), new TcpServerOptions { EdgeTriggered = edge });
        using (lt)
        {
            Assert.Equal(IPAddress.Loopback, acceptor.LocalEndPoint.Address);
            Assert.NotEqual(0, acceptor.LocalEndPoint.Port);
            using var client = Connect(acceptor.LocalEndPoint);
            for (int i = 0; i < 100; i++)
            {
                var msg = Pattern(64 + i);
                client.Send(msg);
                Assert.Equal(msg, ReceiveExactly(client, msg.Length));
            }
            // A message larger than the loop's read buffer arrives in several OnData calls and still echoes whole.
            var big = Pattern(1_000_000);
            var sender = Task.Run(() => client.Send(big));
            Assert.Equal(big, ReceiveExactly(client, big.Length));
            Waits.Done(sender, "the client's send");
            client.Shutdown(SocketShutdown.Send);
            Assert.Equal(0, client.Receive(new byte[1])); // server closed after our half-close
            Waits.Until(() => EchoConnection.Closes.Count == 1, "the server-side close");
            Assert.True(EchoConnection.Closes.TryPeek(out var close));
            Assert.Equal(CloseReason.PeerClosed, close.Reason);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Partial_writes_to_a_slow_reader_with_a_small_receive_buffer_arrive_complete_and_in_order(EventLoopBackend backend)
    {
        BulkSender.Payload = Pattern(4 * 1024 * 1024);
        var (lt, acceptor) = StartServer(backend, () => new BulkSender());
        using (lt)
        {
            using var client = Connect(acceptor.LocalEndPoint, receiveBuffer: 4096);
            var received = new MemoryStream();
            var chunk = new byte[1500];
            int reads = 0;
            while (true)
            {
                int n = client.Receive(chunk);
                if (n == 0)
                {
                    break;
                }
                received.Write(chunk, 0, n);
                if (++reads % 64 == 0)
                {
                    Thread.Sleep(1); // a slow reader: the server's send buffer fills and its sends go partial
                }
            }
            Assert.Equal(BulkSender.Payload.Length, received.Length);
            Assert.True(BulkSender.Payload.AsSpan().SequenceEqual(received.ToArray()));
            var conn = BulkSender.Last!;
            Assert.True(conn.MaxPendingSeen > 0, "the first send was not partial: the test did not exercise queued output");
            Waits.Until(() => conn.IsClosed, "the server to close after flushing");
        }
    }

    [Theory]
    [InlineData(EventLoopBackend.Epoll, false)]
    [InlineData(EventLoopBackend.Epoll, true)]
    [IoUringRow(false)] // EdgeTriggered does not apply to io_uring's completion I/O: one row
    public void A_peer_that_never_reads_gets_back_pressure_and_server_memory_stays_bounded(EventLoopBackend backend, bool edge)
    {
        EchoConnection.Reset();
        EchoConnection? server = null;
        var options = new TcpServerOptions { HighWaterMark = 64 * 1024, LowWaterMark = 16 * 1024, SendBufferSize = 8192, ReceiveBufferSize = 8192, EdgeTriggered = edge };
        var (lt, acceptor) = StartServer(backend, () => server = new EchoConnection(), options);
        using (lt)
        {
            using var client = Connect(acceptor.LocalEndPoint, receiveBuffer: 8192);
            client.Blocking = false;
            var chunk = Pattern(16 * 1024);
            long sent = 0;
            var sentBytes = new MemoryStream();
            // Send without reading until the client's own send fails with WouldBlock: that only happens once the
            // server has stopped reading. Bounded: a server without back-pressure would absorb all 256 MiB.
            const long Limit = 256L * 1024 * 1024;
            var deadline = DateTime.UtcNow + Waits.Long;
            int wouldBlockInARow = 0;
            while (sent < Limit && DateTime.UtcNow < deadline)
            {
                try
                {
                    int n = client.Send(chunk); // may be partial: record exactly what went out
                    sentBytes.Write(chunk, 0, n);
                    sent += n;
                    wouldBlockInARow = 0;
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock)
                {
                    if (++wouldBlockInARow > 200 && lt.Invoke(() => server!.IsReadingPaused))
                    {
                        break;
                    }
                    Thread.Sleep(1);
                }
            }
            Assert.True(sent < Limit, $"the server kept reading {sent} bytes from a peer that never reads");
            var (paused, pending, recvQ, sendQ) = lt.Invoke(() => (server!.IsReadingPaused, server.PendingSendBytes, server.ReceiveQueueBytes, server.SendQueueBytes));
            Assert.True(paused);
            // One read past the mark at most. On epoll a send writes until EAGAIN before it queues, so what is pending
            // when reading pauses cannot go down while the peer does not read. On io_uring bytes are pending until their
            // send completes, so reading can pause before the kernel's buffer is full and the kernel then takes some
            // more: pending falls, but stays above the low-water mark (reading is still paused).
            int lowest = backend == EventLoopBackend.IoUring ? options.LowWaterMark + 1 : options.HighWaterMark;
            Assert.InRange(pending, lowest, options.HighWaterMark + (64 * 1024));
            Assert.True(recvQ > 0, "Recv-Q should hold what the paused server did not read");
            Assert.True(sendQ > 0, "Send-Q should hold what the peer did not read");

            // Now the peer reads everything: the server drains, resumes, and every byte comes back.
            client.Blocking = true;
            var echoed = ReceiveExactly(client, (int)sent);
            Assert.True(sentBytes.ToArray().AsSpan().SequenceEqual(echoed), "the echo differs from what was sent");
            Assert.True(lt.Invoke(() => server!.PausesSeen) >= 1);
            Assert.False(lt.Invoke(() => server!.IsReadingPaused));
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_client_that_vanishes_mid_write_closes_the_connection_once_and_leaks_nothing(EventLoopBackend backend)
    {
        BulkSender.Payload = Pattern(8 * 1024 * 1024);
        int fdsBefore = Fds.OpenCount();
        var closes = new ConcurrentQueue<CloseReason>();
        var (lt, acceptor) = StartServer(backend, () => new VanishingPeerSender(closes));
        using (lt)
        {
            var client = Connect(acceptor.LocalEndPoint, receiveBuffer: 4096);
            ReceiveExactly(client, 1000); // the server is mid-way through a large send
            client.LingerState = new LingerOption(true, 0);
            client.Dispose(); // vanish: RST with most of the payload still queued on the server
            Waits.Until(() => closes.Count == 1, "the server-side close");
            lt.RunTurns();
            Assert.Contains(Assert.Single(closes), new[] { CloseReason.Reset, CloseReason.BrokenPipe });
            Assert.Equal(7, lt.Invoke(() => 7)); // the loop keeps serving
        }
        Fds.ExpectOpenCount(fdsBefore);
    }

    private sealed class VanishingPeerSender : TcpConnection
    {
        private readonly ConcurrentQueue<CloseReason> _closes;

        public VanishingPeerSender(ConcurrentQueue<CloseReason> closes) => _closes = closes;

        protected override void OnOpened()
        {
            SendBufferSize = 4096;
            Send(BulkSender.Payload);
        }

        protected override void OnData(ReadOnlySpan<byte> data)
        {
        }

        protected override void OnClosed(CloseReason reason) => _closes.Enqueue(reason);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Reset_by_peer_closes_once_with_Reset(EventLoopBackend backend)
    {
        EchoConnection.Reset();
        var (lt, acceptor) = StartServer(backend, () => new EchoConnection());
        using (lt)
        {
            var client = Connect(acceptor.LocalEndPoint);
            client.Send(new byte[] { 1 });
            ReceiveExactly(client, 1);
            client.LingerState = new LingerOption(true, 0); // close sends RST
            client.Close();
            Waits.Until(() => EchoConnection.Closes.Count >= 1, "the server-side close");
            lt.RunTurns();
            var close = Assert.Single(EchoConnection.Closes);
            Assert.Equal(CloseReason.Reset, close.Reason);
            Assert.IsType<SocketException>(close.Error);
            Assert.Equal(0, Volatile.Read(ref EchoConnection.Open));
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_throwing_OnData_closes_that_connection_and_the_server_keeps_serving(EventLoopBackend backend)
    {
        ThrowingConnection.Closes.Clear();
        var faults = new ConcurrentQueue<HandlerFault>();
        var (lt, acceptor) = StartServer(backend, () => new ThrowingConnection(), loopOptions: new EventLoopOptions { OnHandlerException = faults.Enqueue });
        using (lt)
        {
            using var a = Connect(acceptor.LocalEndPoint);
            a.Send(new byte[] { 1 });
            Assert.Equal(0, a.Receive(new byte[1])); // closed by the policy
            Waits.Until(() => ThrowingConnection.Closes.Count == 1 && faults.Count == 1, "OnClosed and the fault report");
            Assert.Equal(CloseReason.HandlerFault, Assert.Single(ThrowingConnection.Closes));
            var fault = Assert.Single(faults);
            Assert.Contains(nameof(ThrowingConnection) + ".OnData", fault.Handler);
            Assert.IsType<InvalidDataException>(fault.Exception);
            using var b = Connect(acceptor.LocalEndPoint); // still accepting
            b.Send(new byte[] { 1 });
            Assert.Equal(0, b.Receive(new byte[1]));
            Waits.Until(() => ThrowingConnection.Closes.Count == 2 && faults.Count == 2, "the second connection's close and report");
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Socket_buffer_sizes_are_settable_and_readable(EventLoopBackend backend)
    {
        EchoConnection? server = null;
        var (lt, acceptor) = StartServer(backend, () => server = new EchoConnection(), new TcpServerOptions { ReceiveBufferSize = 32 * 1024 });
        using (lt)
        {
            using var client = Connect(acceptor.LocalEndPoint);
            client.Send(new byte[] { 1 });
            ReceiveExactly(client, 1);
            var (rcv, snd) = lt.Invoke(() =>
            {
                server!.SendBufferSize = 48 * 1024;
                return (server.ReceiveBufferSize, server.SendBufferSize);
            });
            Assert.Equal(2 * 32 * 1024, rcv); // Linux doubles SO_RCVBUF/SO_SNDBUF for its bookkeeping
            Assert.Equal(2 * 48 * 1024, snd);
            Assert.Throws<ArgumentOutOfRangeException>(() => lt.Invoke(() => server!.SendBufferSize = 0));
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Send_from_another_thread_is_refused_with_the_fix(EventLoopBackend backend)
    {
        EchoConnection? server = null;
        var (lt, acceptor) = StartServer(backend, () => server = new EchoConnection());
        using (lt)
        {
            using var client = Connect(acceptor.LocalEndPoint);
            client.Send(new byte[] { 1 });
            ReceiveExactly(client, 1);
            var ex = Assert.Throws<InvalidOperationException>(() => server!.Send(new byte[] { 2 }));
            Assert.Contains("Post", ex.Message);
        }
    }

    [Theory]
    [InlineData(EventLoopBackend.Epoll, false)]
    [InlineData(EventLoopBackend.Epoll, true)]
    [IoUringRow(false)] // EdgeTriggered does not apply to io_uring's completion I/O: one row
    public void Many_connections_opened_and_dropped_at_once_leak_no_fd_and_the_server_keeps_serving(EventLoopBackend backend, bool edge)
    {
        // 3,000 connections: 6,000 fds in this one process (client and server ends), well under the 20,000 limit.
        const int Connections = 3000;
        EchoConnection.Reset();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        int fdsBefore = Fds.OpenCount();
        var (lt, acceptor) = StartServer(backend, () => new EchoConnection(), new TcpServerOptions { EdgeTriggered = edge, Backlog = 4096 });
        using (lt)
        {
            var clients = new List<Socket>(Connections);
            try
            {
                for (int i = 0; i < Connections; i++)
                {
                    clients.Add(Connect(acceptor.LocalEndPoint));
                }
                Waits.Until(() => Volatile.Read(ref EchoConnection.Open) == Connections, $"{Connections} accepted connections");
                // Every one of them works.
                foreach (var c in clients)
                {
                    c.Send(new byte[] { 7 });
                }
                foreach (var c in clients)
                {
                    Assert.Equal(7, ReceiveExactly(c, 1)[0]);
                }
                // Drop them all at once, half politely and half with a reset.
                for (int i = 0; i < clients.Count; i++)
                {
                    if (i % 2 == 1)
                    {
                        clients[i].LingerState = new LingerOption(true, 0);
                    }
                    clients[i].Dispose();
                }
                clients.Clear();
                Waits.Until(() => Volatile.Read(ref EchoConnection.Open) == 0, "every server-side connection closed");
                Assert.Equal(Connections, EchoConnection.Closes.Count);
                Assert.All(EchoConnection.Closes, c => Assert.Contains(c.Reason, new[] { CloseReason.PeerClosed, CloseReason.Reset }));
                Assert.Equal(Connections, lt.Invoke(() => acceptor.AcceptedCount));

                using var again = Connect(acceptor.LocalEndPoint);
                again.Send(new byte[] { 9 });
                Assert.Equal(9, ReceiveExactly(again, 1)[0]);
            }
            finally
            {
                clients.ForEach(c => c.Dispose());
            }
        }
        Fds.ExpectOpenCount(fdsBefore);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Disposing_the_loop_closes_its_connections_and_listener(EventLoopBackend backend)
    {
        EchoConnection.Reset();
        int fdsBefore = Fds.OpenCount();
        var (lt, acceptor) = StartServer(backend, () => new EchoConnection());
        var client = Connect(acceptor.LocalEndPoint);
        client.Send(new byte[] { 1 });
        ReceiveExactly(client, 1);
        lt.Dispose();
        var close = Assert.Single(EchoConnection.Closes);
        Assert.Equal(CloseReason.LoopDisposed, close.Reason);
        Assert.Equal(0, client.Receive(new byte[1]));
        client.Dispose();
        Fds.ExpectOpenCount(fdsBefore);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void EventLoopGroup_spreads_connections_over_reuseport_listeners_on_one_port(EventLoopBackend backend)
    {
        EchoConnection.Reset();
        using var group = new EventLoopGroup(2, new EventLoopOptions { Name = "grp", Backend = backend });
        var ep = group.Listen(AnyLoopbackPort, () => new EchoConnection());
        Assert.Equal(2, group.Acceptors.Count);
        Assert.All(group.Acceptors, a => Assert.Equal(ep.Port, a.LocalEndPoint.Port));
        group.Start();
        var clients = Enumerable.Range(0, 64).Select(_ => Connect(ep)).ToList();
        try
        {
            foreach (var c in clients)
            {
                c.Send(new byte[] { 3 });
                Assert.Equal(3, ReceiveExactly(c, 1)[0]);
            }
            Assert.Equal(64, group.Acceptors.Sum(a => a.AcceptedCount));
            // The kernel hashes connections over the two listeners; 64 all landing on one has odds of 2^-63.
            Assert.All(group.Acceptors, a => Assert.True(a.AcceptedCount > 0, $"{a.Loop.Name} accepted nothing"));
            Assert.Equal(new[] { "grp-0", "grp-1" }, group.Loops.Select(l => l.Name));
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void EventLoopGroup_listens_on_a_started_group_from_another_thread_and_refuses_from_its_own_loop(EventLoopBackend backend)
    {
        EchoConnection.Reset();
        using var group = new EventLoopGroup(2, new EventLoopOptions { Name = "grp", Backend = backend });
        group.Start();
        var ep = group.Listen(AnyLoopbackPort, () => new EchoConnection()); // registered on each loop's thread
        Assert.Equal(2, group.Acceptors.Count);
        using (var client = Connect(ep))
        {
            client.Send(new byte[] { 9 });
            Assert.Equal(9, ReceiveExactly(client, 1)[0]);
        }
        // A bind error comes out as itself, as it does before Start.
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp); // no SO_REUSEPORT: nobody may share it
        taken.Bind(AnyLoopbackPort);
        taken.Listen();
        var inUse = Assert.Throws<SocketException>(() => group.Listen((IPEndPoint)taken.LocalEndPoint!, () => new EchoConnection()));
        Assert.Equal(SocketError.AddressAlreadyInUse, inUse.SocketErrorCode);
        var fromLoop = new TaskCompletionSource<Exception?>();
        group.Loops[0].Post(() =>
        {
            try
            {
                group.Listen(AnyLoopbackPort, () => new EchoConnection());
                fromLoop.SetResult(null);
            }
            catch (Exception ex)
            {
                fromLoop.SetResult(ex);
            }
        });
        var ex = Assert.IsType<InvalidOperationException>(Waits.Result(fromLoop.Task, "Listen from a loop thread"));
        Assert.Contains("loop threads", ex.Message);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void EventLoopGroup_gives_every_loop_every_setting_under_its_own_name(EventLoopBackend backend)
    {
        var options = new EventLoopOptions
        {
            Name = "grp",
            Backend = backend,
            StallThreshold = TimeSpan.FromMilliseconds(250),
            Watchdog = { MaxReportsPerMinute = 2, Escalate = false },
            Guards = { EdgeTriggeredLeftovers = true },
            HandlerExceptionPolicy = HandlerExceptionPolicy.StopLoop,
            MaxEventsPerPoll = 16,
            MaxPostedPerTurn = 8,
        };
        using var group = new EventLoopGroup(2, options);
        Assert.Equal(new[] { "grp-0", "grp-1" }, group.Loops.Select(l => l.Name));
        Assert.All(group.Loops, l =>
        {
            Assert.Equal(TimeSpan.FromMilliseconds(250), l.Options.StallThreshold);
            Assert.Equal(2, l.Options.Watchdog.MaxReportsPerMinute); // the watchdog and guard settings used to be dropped
            Assert.False(l.Options.Watchdog.Escalate);
            Assert.True(l.Options.Guards.EdgeTriggeredLeftovers);
            Assert.Equal(HandlerExceptionPolicy.StopLoop, l.Options.HandlerExceptionPolicy);
            Assert.Equal(16, l.Options.MaxEventsPerPoll);
            Assert.Equal(8, l.Options.MaxPostedPerTurn);
        });
        Assert.Equal("grp", options.Name); // the caller's options are not renamed
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void EventLoopGroup_raises_LoopFaulted_when_a_loop_stops_on_a_fault_and_the_others_keep_running(EventLoopBackend backend)
    {
        using var group = new EventLoopGroup(2, new EventLoopOptions { Name = "grp", Backend = backend, HandlerExceptionPolicy = HandlerExceptionPolicy.StopLoop });
        var faulted = new TaskCompletionSource<(EventLoop Loop, Exception Error)>();
        group.LoopFaulted += (loop, error) => faulted.TrySetResult((loop, error));
        group.Start();
        group.Loops[1].Post(() => throw new InvalidOperationException("handler bug"));
        var (loop, error) = Waits.Result(faulted.Task, "LoopFaulted");
        Assert.Same(group.Loops[1], loop);
        Assert.Equal("handler bug", error.Message);
        Assert.Same(error, Assert.Single(group.Faults));
        var stillRunning = new TaskCompletionSource<bool>();
        group.Loops[0].Post(() => stillRunning.SetResult(true));
        Assert.True(Waits.Result(stillRunning.Task, "the other loop"));
    }
}
