using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NoBlock.IoUring;
using NoBlock.Tcp;
using NoBlock.Tests.Runtime;
using Xunit;

namespace NoBlock.Tests.IoUring;

/// <summary>Collects what it receives; records how it closed. Echoes when <see cref="Echo"/> is set.</summary>
internal sealed class CollectingConnection : TcpConnection
{
    public static readonly ConcurrentQueue<CollectingConnection> All = new();
    public readonly MemoryStream Received = new();
    public bool Echo;
    public CloseReason? Closed;
    public bool OnCompletionIo;
    public int DataCalls;
    public int LargestData;

    protected override void OnOpened()
    {
        OnCompletionIo = UsesCompletionIo;
        All.Enqueue(this);
    }

    protected override void OnData(ReadOnlySpan<byte> data)
    {
        DataCalls++;
        LargestData = Math.Max(LargestData, data.Length);
        lock (Received)
        {
            Received.Write(data);
        }
        if (Echo)
        {
            Send(data);
        }
    }

    protected override void OnClosed(CloseReason reason) => Closed = reason;

    public byte[] Bytes()
    {
        lock (Received)
        {
            return Received.ToArray();
        }
    }
}

/// <summary>
/// The TCP layer on io_uring's completion I/O (multishot accept, multishot receive into the provided-buffer ring,
/// ring sends): the cases where completions differ from readiness. Real sockets on 127.0.0.1; the behaviour every
/// backend shares is the matrix in <see cref="TcpTests"/>.
/// </summary>
[Xunit.Collection(NoBlock.Tests.Runtime.FdCounting.Name)]
public sealed class TcpCompletionTests
{
    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);

    private static (LoopThread Loop, TcpAcceptor Acceptor) Start(Func<TcpConnection> factory, TcpServerOptions? options = null) =>
        TcpTests.StartServer(EventLoopBackend.IoUring, factory, options);

    private static IoUringBackend BackendOf(LoopThread lt) => lt.Loop.IoUringBackend!;

    [Theory, IoUringRow]
    public void Bytes_and_FIN_sent_together_arrive_whole_then_the_close_is_PeerClosed(EventLoopBackend backend)
    {
        CollectingConnection.All.Clear();
        var (lt, acceptor) = TcpTests.StartServer(backend, () => new CollectingConnection());
        using (lt)
        {
            var payload = TcpTests.Pattern(300_000); // more than one receive buffer's worth: several completions, then the EOF
            for (int round = 0; round < 20; round++)
            {
                using var client = TcpTests.Connect(acceptor.LocalEndPoint);
                client.Send(payload);
                client.Shutdown(SocketShutdown.Send); // the FIN right behind the data
                Assert.Equal(0, client.Receive(new byte[1])); // the server closes after the EOF
                Waits.Until(() => CollectingConnection.All.Count == round + 1 && CollectingConnection.All.Last().Closed is not null, "the server-side close");
                var server = CollectingConnection.All.Last();
                Assert.True(server.OnCompletionIo);
                Assert.Equal(CloseReason.PeerClosed, server.Closed);
                Assert.True(payload.AsSpan().SequenceEqual(server.Bytes()), $"round {round}: {server.Bytes().Length} of {payload.Length} bytes before the EOF");
                Assert.InRange(server.LargestData, 1, 64 * 1024); // spans no larger than on epoll (the loop's read buffer)
            }
        }
    }

    [Theory, IoUringRow]
    public void A_peer_reset_mid_stream_closes_with_Reset_once_and_leaks_nothing(EventLoopBackend backend)
    {
        CollectingConnection.All.Clear();
        GC.Collect();
        int fdsBefore = Fds.OpenCount();
        var (lt, acceptor) = TcpTests.StartServer(backend, () => new CollectingConnection { Echo = true }, new TcpServerOptions { SendBufferSize = 4096 });
        using (lt)
        {
            for (int round = 0; round < 20; round++)
            {
                var client = TcpTests.Connect(acceptor.LocalEndPoint, receiveBuffer: 4096);
                client.Send(TcpTests.Pattern(200_000)); // the echo backs up: sends in flight, receives armed
                TcpTests.ReceiveExactly(client, 1000);
                client.LingerState = new LingerOption(true, 0);
                client.Dispose(); // RST with both directions busy
                Waits.Until(() => CollectingConnection.All.Count == round + 1 && CollectingConnection.All.Last().Closed is not null, "the server-side close");
                Assert.Contains(CollectingConnection.All.Last().Closed!.Value, new[] { CloseReason.Reset, CloseReason.BrokenPipe });
            }
            lt.RunTurns();
            Assert.All(CollectingConnection.All, c => Assert.True(c.OnCompletionIo));
            Assert.Equal(0, lt.Invoke(() => BackendOf(lt).SendSegments.Outstanding)); // every send segment came back
            Assert.Equal(0, lt.Invoke(() => BackendOf(lt).ReceiveBuffers.Outstanding)); // every receive buffer recycled
            Assert.Equal(1, lt.Invoke(() => BackendOf(lt).SourceCount)); // the listener's only: every connection's source released
        }
        Fds.ExpectOpenCount(fdsBefore);
    }

    [Theory, IoUringRow]
    public void A_never_reading_peer_pauses_the_receive_and_every_byte_arrives_in_order_after_it_reads(EventLoopBackend backend)
    {
        CollectingConnection.All.Clear();
        var options = new TcpServerOptions { HighWaterMark = 32 * 1024, LowWaterMark = 8 * 1024, SendBufferSize = 4096, ReceiveBufferSize = 4096 };
        var (lt, acceptor) = TcpTests.StartServer(backend, () => new CollectingConnection { Echo = true }, options);
        using (lt)
        {
            using var client = TcpTests.Connect(acceptor.LocalEndPoint, receiveBuffer: 4096);
            client.SendBufferSize = 4096; // so the client's own send blocks once the server stops reading
            var payload = TcpTests.Pattern(4 * 1024 * 1024); // far more than every buffer on the way can hold
            var sender = Task.Run(() => client.Send(payload));
            Waits.Until(() => CollectingConnection.All.TryPeek(out var c) && lt.Invoke(() => c.IsReadingPaused), "reading to pause");
            var server = CollectingConnection.All.Single();
            // Paused: the connection holds no more than one read past the mark, and the kernel queues the rest.
            Thread.Sleep(50);
            var (paused, pending, recvQ) = lt.Invoke(() => (server.IsReadingPaused, server.PendingSendBytes, server.ReceiveQueueBytes));
            Assert.True(paused);
            Assert.InRange(pending, options.LowWaterMark + 1, options.HighWaterMark + (64 * 1024));
            Assert.True(recvQ > 0, "the kernel should hold what the paused server did not receive");
            Assert.False(sender.IsCompleted, "the peer's send should be blocked by back-pressure");
            var echoed = TcpTests.ReceiveExactly(client, payload.Length); // reading drains, resumes, pauses, ... to the end
            Assert.True(payload.AsSpan().SequenceEqual(echoed), "the echo differs from what was sent");
            Waits.Done(sender, "the client's send");
            Assert.False(lt.Invoke(() => server.IsReadingPaused));
        }
    }

    [Theory, IoUringRow]
    public void Many_connections_sending_at_once_exhaust_the_buffer_ring_and_every_byte_still_arrives(EventLoopBackend backend)
    {
        // Four receive buffers of 4 KiB, each taken whole by one completion: 64 connections sending at once run out
        // of them in the first turn (-ENOBUFS ends those receives), and each is re-armed once the turn recycled them.
        const int Connections = 64, Bytes = 64 * 1024;
        CollectingConnection.All.Clear();
        IoUringBackend.TestReceiveBuffers = (4, 4096, false);
        (LoopThread Loop, TcpAcceptor Acceptor) server;
        try
        {
            server = TcpTests.StartServer(backend, () => new CollectingConnection { Echo = true });
        }
        finally
        {
            IoUringBackend.TestReceiveBuffers = null;
        }
        var (lt, acceptor) = server;
        using (lt)
        {
            Assert.Equal(4, lt.Invoke(() => BackendOf(lt).ReceiveBuffers.Count));
            var clients = Enumerable.Range(0, Connections).Select(_ => TcpTests.Connect(acceptor.LocalEndPoint)).ToList();
            try
            {
                Waits.Until(() => CollectingConnection.All.Count == Connections, "every connection accepted");
                var payloads = clients.Select((_, i) => TcpTests.Pattern(Bytes).Select(b => (byte)(b ^ i)).ToArray()).ToList();
                var tasks = clients.Select((c, i) => Task.Run(() =>
                {
                    c.Send(payloads[i]);
                    return TcpTests.ReceiveExactly(c, Bytes);
                })).ToList();
                for (int i = 0; i < Connections; i++)
                {
                    var echoed = Waits.Result(tasks[i], $"connection {i}'s echo");
                    Assert.True(payloads[i].AsSpan().SequenceEqual(echoed), $"connection {i}'s echo differs");
                }
                Assert.True(lt.Invoke(() => BackendOf(lt).ReceiveBufferExhaustions) > 0, "the ring never ran out: the test did not exercise -ENOBUFS");
                Assert.Equal(0, lt.Invoke(() => BackendOf(lt).ReceiveBuffers.Outstanding));
            }
            finally
            {
                clients.ForEach(c => c.Dispose());
            }
        }
    }

    [Theory, IoUringRow]
    public void An_echo_is_sent_straight_from_the_receive_buffer_and_a_never_reading_peer_cannot_take_every_buffer(EventLoopBackend backend)
    {
        // Eight receive buffers of 16 KiB (at most four lent at once). One peer never reads its echo: its sends stay
        // in flight with the buffers they point into. Another connection must still be served, every byte in order.
        CollectingConnection.All.Clear();
        IoUringBackend.TestReceiveBuffers = (8, 16 * 1024, false);
        (LoopThread Loop, TcpAcceptor Acceptor) server;
        try
        {
            server = TcpTests.StartServer(backend, () => new CollectingConnection { Echo = true }, new TcpServerOptions { SendBufferSize = 4096 });
        }
        finally
        {
            IoUringBackend.TestReceiveBuffers = null;
        }
        var (lt, acceptor) = server;
        using (lt)
        {
            using var stuck = TcpTests.Connect(acceptor.LocalEndPoint, receiveBuffer: 4096);
            stuck.Blocking = false;
            var stuckPayload = TcpTests.Pattern(1024 * 1024);
            int sent = 0;
            for (int tries = 0; tries < 2000 && sent < stuckPayload.Length; tries++)
            {
                try
                {
                    sent += stuck.Send(stuckPayload, sent, stuckPayload.Length - sent, SocketFlags.None);
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock)
                {
                    if (CollectingConnection.All.TryPeek(out var c) && lt.Invoke(() => c.IsReadingPaused))
                    {
                        break;
                    }
                    Thread.Sleep(1);
                }
            }
            Waits.Until(() => CollectingConnection.All.TryPeek(out var c) && lt.Invoke(() => c.IsReadingPaused), "the stuck connection to pause");
            Assert.True(lt.Invoke(() => BackendOf(lt).LentSends) > 0, "no send went straight from a receive buffer");
            Assert.InRange(lt.Invoke(() => BackendOf(lt).ReceiveBuffers.LentBuffers), 0, 4);

            using var other = TcpTests.Connect(acceptor.LocalEndPoint);
            var payload = TcpTests.Pattern(300_000);
            var echo = Task.Run(() => TcpTests.ReceiveExactly(other, payload.Length));
            other.Send(payload);
            Assert.True(payload.AsSpan().SequenceEqual(Waits.Result(echo, "the other connection's echo")), "the other connection's echo differs");

            stuck.Blocking = true;
            var stuckEcho = TcpTests.ReceiveExactly(stuck, sent); // the stuck peer reads at last: all of it, in order
            Assert.True(stuckPayload.AsSpan(0, sent).SequenceEqual(stuckEcho), "the stuck connection's echo differs");
        }
        Waits.Until(() => CollectingConnection.All.All(c => c.Closed is not null), "both connections closed");
    }

    /// <summary>Sends a large payload at once to a peer that does not read, so its send stays in flight.</summary>
    private sealed class StuckSender : TcpConnection
    {
        public static readonly ConcurrentQueue<CloseReason> Closes = new();

        protected override void OnOpened()
        {
            SendBufferSize = 4096;
            Send(TcpTests.Pattern(1024 * 1024));
        }

        protected override void OnData(ReadOnlySpan<byte> data)
        {
        }

        protected override void OnClosed(CloseReason reason) => Closes.Enqueue(reason);
    }

    [Theory, IoUringRow]
    public void Disposing_the_loop_with_receives_and_sends_in_flight_closes_everything_and_leaks_no_fd(EventLoopBackend backend)
    {
        const int Connections = 50;
        while (StuckSender.Closes.TryDequeue(out _))
        {
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        int fdsBefore = Fds.OpenCount();
        var (lt, acceptor) = TcpTests.StartServer(backend, () => new StuckSender());
        var clients = Enumerable.Range(0, Connections).Select(_ => TcpTests.Connect(acceptor.LocalEndPoint, receiveBuffer: 4096)).ToList();
        try
        {
            Waits.Until(() => lt.Invoke(() => acceptor.AcceptedCount) == Connections, "every connection accepted");
            foreach (var c in clients)
            {
                TcpTests.ReceiveExactly(c, 100); // its send is in flight (the rest cannot fit) and its receive armed
            }
            Assert.True(lt.Invoke(() => BackendOf(lt).SendSegments.Outstanding) >= Connections);
            lt.Dispose();
            Assert.Equal(Connections, StuckSender.Closes.Count);
            Assert.All(StuckSender.Closes, r => Assert.Equal(CloseReason.LoopDisposed, r));
            foreach (var c in clients)
            {
                // The server side is gone: the rest of the stream ends (EOF, or a reset for the unsent rest).
                var buf = new byte[64 * 1024];
                try
                {
                    while (c.Receive(buf) > 0)
                    {
                    }
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
                {
                }
            }
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
        Fds.ExpectOpenCount(fdsBefore);
    }

    /// <summary>Echoes the first message, then closes (gracefully or by abort, as the first byte says).</summary>
    private sealed class OneShotConnection : TcpConnection
    {
        public static int Closed;
        public static int Foreign; // bytes that were not this connection's

        private int _id = -1;

        protected override void OnData(ReadOnlySpan<byte> data)
        {
            // Messages are 8 bytes: the client's id (4) twice; a receive may split them, never mix connections.
            for (int i = 0; i < data.Length; i++)
            {
                if (_id < 0 && data.Length >= 4)
                {
                    _id = BitConverter.ToInt32(data);
                }
            }
            if (data.Length >= 4 && BitConverter.ToInt32(data) != _id)
            {
                Interlocked.Increment(ref Foreign);
            }
            Send(data);
            if (_id % 2 == 0)
            {
                Close(); // flush the echo, then close
            }
            else
            {
                Abort(); // drop it: the send in flight is cancelled before the fd closes
            }
        }

        protected override void OnClosed(CloseReason reason) => Interlocked.Increment(ref Closed);
    }

    [Theory, IoUringRow]
    public void Fd_numbers_reused_after_a_close_with_requests_in_flight_never_see_the_old_connections_completions(EventLoopBackend backend)
    {
        // Every connection is closed by the server while its multishot receive (and for half, its send) is in the
        // kernel; the next accept gets the same fd number at once. A completion of the old request reaching the new
        // connection would show as foreign bytes, a lost echo or a missing close. 20,000 connections from 4
        // threads: a 1-in-10,000 mix-up is caught with probability 1 - e^-2 (86%); bounded to 60 s.
        const int Target = 20_000, Threads = 4;
        Volatile.Write(ref OneShotConnection.Closed, 0);
        Volatile.Write(ref OneShotConnection.Foreign, 0);
        GC.Collect();
        int fdsBefore = Fds.OpenCount();
        var (lt, acceptor) = TcpTests.StartServer(backend, () => new OneShotConnection(), new TcpServerOptions { Backlog = 1024 });
        int done = 0, lost = 0;
        var deadline = Stopwatch.StartNew();
        using (lt)
        {
            var workers = Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
            {
                var buf = new byte[16];
                for (int i = t; i < Target && deadline.Elapsed < TimeSpan.FromSeconds(60); i += Threads)
                {
                    using var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    c.ReceiveTimeout = 10_000;
                    c.Connect(acceptor.LocalEndPoint);
                    var msg = new byte[8];
                    BitConverter.TryWriteBytes(msg, i);
                    BitConverter.TryWriteBytes(msg.AsSpan(4), i);
                    c.Send(msg);
                    int got = 0;
                    try
                    {
                        while (true)
                        {
                            int n = c.Receive(buf, got, buf.Length - got, SocketFlags.None);
                            if (n == 0)
                            {
                                break;
                            }
                            got += n;
                        }
                    }
                    catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
                    {
                    }
                    // A graceful close must deliver the echo; an abort may drop it, but never deliver another's.
                    if ((i % 2 == 0 && got != 8) || got > 8 || (got >= 4 && BitConverter.ToInt32(buf) != i))
                    {
                        Interlocked.Increment(ref lost);
                    }
                    Interlocked.Increment(ref done);
                }
            })).ToArray();
            foreach (var w in workers)
            {
                Waits.Done(w, "a client thread");
            }
            Waits.Until(() => Volatile.Read(ref OneShotConnection.Closed) == done, "every server-side close");
            lt.RunTurns();
            Assert.Equal(1, lt.Invoke(() => BackendOf(lt).SourceCount));
            Assert.Equal(0, lt.Invoke(() => BackendOf(lt).SendSegments.Outstanding));
        }
        Assert.Equal(Target, done); // not cut short by the time bound: the race ran its full count
        Assert.Equal(0, Volatile.Read(ref OneShotConnection.Foreign));
        Assert.Equal(0, lost);
        Fds.ExpectOpenCount(fdsBefore);
    }
}
