using System.Net;
using System.Net.Sockets;
using NoBlock.Tcp;
using NoBlock.Tests.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace NoBlock.Tests.Diagnostics;

/// <summary>
/// The "stall ended" report says what piled up in the kernel while the loop was stalled: a loop stalled on purpose
/// (a posted action blocked on an event the test releases) while clients on 127.0.0.1 connect and send. Conditions
/// are waited for; nothing asserts how long anything took.
/// </summary>
public sealed class StallSocketCostTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Threshold = TimeSpan.FromMilliseconds(50);

    private const int Backlog = 16, EarlyClients = 2, LateClients = 4, BytesPerClient = 1500;

    /// <summary>On io_uring the accepts kept in the kernel (<see cref="TcpServerOptions.MaxAcceptsPerEvent"/>): what a stalled loop's kernel still accepts.</summary>
    private const int AcceptsInKernel = 2;

    /// <summary>
    /// The deliberate stall's handler, as reports name it: on a loaded machine an earlier turn (the Invoke that opens
    /// the listener, the first turn's JIT) can pass the threshold too, and its reports are not the ones looked at.
    /// </summary>
    private const string StallHandler = "SocketDiagnosticsTests.Stall";

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void The_stall_ended_report_shows_the_receive_and_accept_queues_that_filled_during_the_stall(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var options = reports.Options("queues", Threshold);
        options.Watchdog.MaxReportsPerMinute = 1000; // every escalation report is wanted here (they pace the test)
        using var lt = new LoopThread(Backends.Loop(backend, options));
        var acceptor = lt.Invoke(() => TcpAcceptor.Listen(lt.Loop, new IPEndPoint(IPAddress.Loopback, 0), () => new Runtime.EchoConnection(),
            new TcpServerOptions { Backlog = Backlog, MaxAcceptsPerEvent = AcceptsInKernel }));
        var clients = new List<Socket>();
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        bool uring = backend == EventLoopBackend.IoUring;
        try
        {
            for (int i = 0; i < EarlyClients; i++)
            {
                clients.Add(Connect(acceptor.LocalEndPoint));
            }
            Waits.Until(() => lt.Loop.GetSocketDiagnostics().Connections == EarlyClients, "the early clients accepted");

            SocketDiagnosticsTests.Stall(lt.Loop, inside, release); // sleeps 1 ms at a time until released
            reports.WaitFor(StallPhase.Stalled, StallHandler);

            foreach (var c in clients)
            {
                Assert.Equal(BytesPerClient, c.Send(new byte[BytesPerClient]));
            }
            for (int i = 0; i < LateClients; i++)
            {
                clients.Add(Connect(acceptor.LocalEndPoint));
            }
            SocketDiagnostics? last = null;
            Waits.Until(() =>
            {
                var d = last = lt.Loop.GetSocketDiagnostics();
                // io_uring: the armed receives read into the ring and the armed accepts (AcceptsInKernel) accept,
                // into the completion queue; the rest of the connections wait in the accept queue.
                return uring
                    ? d.CompletionQueue is { } cq && cq.ReceivedBytes == EarlyClients * BytesPerClient && cq.AcceptedConnections == AcceptsInKernel
                        && d.AcceptQueued == LateClients - AcceptsInKernel
                    : d.ReceiveQueueBytes == EarlyClients * BytesPerClient && d.AcceptQueued == LateClients;
            }, "the queues to fill while the loop is stalled", onTimeout: () => $"last snapshot: {last}");

            // Escalation reports come at 2×, 4×, 8× … the threshold, each gap longer than the watchdog's snapshot
            // interval: two more of them mean a snapshot was taken after the queues filled.
            int seen = reports.Stalls.Count(r => r.Phase == StallPhase.StillStalled && r.Handler.Contains(StallHandler));
            Waits.Until(() => reports.Stalls.Count(r => r.Phase == StallPhase.StillStalled && r.Handler.Contains(StallHandler)) >= seen + 2, "two more escalation reports");
            release.Set();

            var ended = reports.WaitFor(StallPhase.Ended, StallHandler);
            output.WriteLine(ended.ToString());
            Assert.NotNull(ended.Sockets);
            Assert.Equal(Backlog, ended.Sockets!.AcceptBacklog);
            Assert.NotNull(ended.NetworkCountersGrowth);
            var line = ended.ToString();
            Assert.Contains("stall ended after", line);
            if (uring)
            {
                var cq = ended.Sockets.CompletionQueue!.Value;
                Assert.Equal(EarlyClients * BytesPerClient, cq.ReceivedBytes);
                Assert.Equal(EarlyClients, cq.ReceivingConnections);
                Assert.Equal(AcceptsInKernel, cq.AcceptedConnections);
                Assert.Equal(0, ended.Sockets.ReceiveQueueBytes);
                Assert.Equal(LateClients - AcceptsInKernel, ended.Sockets.AcceptQueued);
                Assert.Contains("; receive queues empty, accept queue " + (LateClients - AcceptsInKernel) + "/" + Backlog
                    + $", completion queue: {AcceptsInKernel} accepted connections, 2 KB received on {EarlyClients} connections (", line);
            }
            else
            {
                Assert.Equal(EarlyClients * BytesPerClient, ended.Sockets.ReceiveQueueBytes);
                Assert.Equal(EarlyClients, ended.Sockets.ReceiveQueuesNonEmpty);
                Assert.Equal(LateClients, ended.Sockets.AcceptQueued);
                Assert.Null(ended.Sockets.CompletionQueue);
                Assert.Contains($"; 2 KB queued in {EarlyClients} receive queues (worst 1 KB on fd ", line);
                Assert.Contains($"accept queue {LateClients}/{Backlog}", line);
            }

            // And the loop, running again, drains both.
            Waits.Until(() =>
            {
                var d = lt.Loop.GetSocketDiagnostics();
                return d.ReceiveQueueBytes == 0 && d.AcceptQueued == 0 && d.Connections == EarlyClients + LateClients
                    && d.CompletionQueue is null or { AcceptedConnections: 0, ReceivedBytes: 0 };
            }, "the queues to drain after the stall");
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
    public void The_stall_ended_report_counts_the_listen_drops_of_a_full_accept_queue(EventLoopBackend backend)
    {
        var reports = new ReportCollector();
        var options = reports.Options("drops", Threshold);
        options.Watchdog.MaxReportsPerMinute = 1000;
        using var lt = new LoopThread(Backends.Loop(backend, options));
        // Backlog 1: the kernel queues backlog + 1 connections; the handshakes after that are dropped. On io_uring one
        // accept in the kernel: it accepts one connection for the stalled loop (into the completion queue), then the
        // backlog fills as on epoll.
        var acceptor = lt.Invoke(() => TcpAcceptor.Listen(lt.Loop, new IPEndPoint(IPAddress.Loopback, 0), () => new Runtime.EchoConnection(),
            new TcpServerOptions { Backlog = 1, MaxAcceptsPerEvent = 1 }));
        var clients = new List<Socket>();
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        try
        {
            SocketDiagnosticsTests.Stall(lt.Loop, inside, release);
            reports.WaitFor(StallPhase.Stalled, StallHandler); // the counters' baseline is read at the first report
            var before = NetworkCounters.Read()!.Value;
            for (int i = 0; i < 6; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
                clients.Add(s);
                try
                {
                    s.Connect(acceptor.LocalEndPoint);
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
                {
                    // the handshake goes on without us
                }
            }
            // Full: backlog + 1 queued and, on io_uring, the one accept in the kernel done. (Under load the accept can
            // run after the backlog filled, leaving 1/1 until a dropped client's SYN retransmit fills it again.)
            SocketDiagnostics? last = null;
            Waits.Until(() =>
            {
                var d = last = lt.Loop.GetSocketDiagnostics();
                return d.AcceptQueued == 2 && (backend == EventLoopBackend.Epoll || d.CompletionQueue is { AcceptedConnections: 1 });
            }, "the accept queue to fill", onTimeout: () => $"last snapshot: {last}");
            Waits.Until(() => (NetworkCounters.Read()!.Value - before).ListenDrops > 0, "the kernel to drop a handshake", TimeSpan.FromSeconds(15));
            int seen = reports.Stalls.Count(r => r.Phase == StallPhase.StillStalled && r.Handler.Contains(StallHandler));
            Waits.Until(() => reports.Stalls.Count(r => r.Phase == StallPhase.StillStalled && r.Handler.Contains(StallHandler)) >= seen + 2, "two more escalation reports (a snapshot after the queue filled)");
            release.Set();
            var ended = reports.WaitFor(StallPhase.Ended, StallHandler);
            output.WriteLine(ended.ToString());
            Assert.True(ended.NetworkCountersGrowth!.Value.ListenDrops > 0, ended.ToString());
            Assert.Contains("ListenDrops +", ended.ToString());
            Assert.True(ended.ToString().Contains("accept queue 2/1"), ended.ToString());
            if (backend == EventLoopBackend.IoUring)
            {
                Assert.True(ended.ToString().Contains("completion queue: 1 accepted connection ("), ended.ToString());
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

    private static Socket Connect(IPEndPoint ep)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        s.Connect(ep);
        return s;
    }
}
