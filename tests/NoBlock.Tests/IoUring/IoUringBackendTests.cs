using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NoBlock.Interop;
using NoBlock.IoUring;
using NoBlock.Tests.Runtime;
using Xunit;

namespace NoBlock.Tests.IoUring;

/// <summary>The backend's readiness semantics (epoll's, on poll requests) and its completion I/O, on real fds.</summary>
[Xunit.Collection(NoBlock.Tests.Runtime.FdCounting.Name)]
public sealed unsafe class IoUringBackendTests
{
    private static IoUringBackend Create()
    {
        var b = IoUringBackend.TryCreate(64, out var why);
        Assert.True(b is not null, $"io_uring backend unavailable: {why}");
        return b!;
    }

    /// <summary>One wait that does not sleep (timeout 0) after letting the kernel finish work already started.</summary>
    private static List<ReadinessEvent> Turn(IoUringBackend b, int timeoutMs = 0)
    {
        Assert.True(b.Wait(timeoutMs, out var ready, out _, out var err), err.ToString());
        return ready.ToArray().ToList();
    }

    /// <summary>Waits (bounded) until a turn reports something.</summary>
    private static List<ReadinessEvent> NextEvents(IoUringBackend b)
    {
        var deadline = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var e = Turn(b, 100);
            if (e.Count > 0)
            {
                return e;
            }
        }
        throw new Xunit.Sdk.XunitException("no readiness event within 10 s");
    }

    private static List<CompletionEvent> NextCompletions(IoUringBackend b, int atLeast = 1)
    {
        var got = new List<CompletionEvent>();
        var deadline = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency);
        while (got.Count < atLeast)
        {
            Assert.True(Stopwatch.GetTimestamp() < deadline, $"only {got.Count} completions within 10 s");
            Assert.True(b.Wait(100, out _, out var done, out var err), err.ToString());
            got.AddRange(done.ToArray());
        }
        return got;
    }

    private static void ExpectQuiet(IoUringBackend b)
    {
        for (int i = 0; i < 3; i++)
        {
            Assert.Empty(Turn(b, 10));
        }
    }

    [Fact]
    public void Level_triggered_reports_an_unread_fd_on_every_turn()
    {
        using var b = Create();
        var (r, w) = Fds.Pipe();
        try
        {
            Assert.Equal(SelectorStatus.Ok, b.AddPoll(r, IoEvents.Readable, 100, out _));
            ExpectQuiet(b);
            Fds.Write(w);
            var first = Assert.Single(NextEvents(b));
            Assert.Equal(new ReadinessEvent(100, IoEvents.Readable), first);
            for (int turn = 0; turn < 3; turn++) // never read: reported again each turn
            {
                Assert.Equal(first, Assert.Single(NextEvents(b)));
            }
            Fds.Drain(r);
            Turn(b); // the poll re-armed at this turn's start found the pipe empty and waits
            ExpectQuiet(b);
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Fact]
    public void Edge_triggered_reports_each_new_write_once_even_if_not_drained()
    {
        using var b = Create();
        var (r, w) = Fds.Pipe();
        try
        {
            Assert.Equal(SelectorStatus.Ok, b.AddPoll(r, IoEvents.Readable | IoEvents.EdgeTriggered, 7, out _));
            Fds.Write(w, 10);
            Assert.Equal(new ReadinessEvent(7, IoEvents.Readable), Assert.Single(NextEvents(b)));
            Fds.Read(r, 1); // partial read: no new edge
            ExpectQuiet(b);
            Fds.Write(w, 1);
            Assert.Single(NextEvents(b));
            ExpectQuiet(b);
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Fact]
    public void One_shot_reports_once_until_modify_rearms_it()
    {
        using var b = Create();
        var (r, w) = Fds.Pipe();
        try
        {
            Assert.Equal(SelectorStatus.Ok, b.AddPoll(r, IoEvents.Readable | IoEvents.OneShot, 9, out int source));
            Fds.Write(w);
            Assert.Single(NextEvents(b));
            ExpectQuiet(b); // still readable, but disarmed
            Assert.Equal(SelectorStatus.Ok, b.ModifyPoll(source, IoEvents.Readable | IoEvents.OneShot));
            Assert.Single(NextEvents(b));
            ExpectQuiet(b);
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Fact]
    public void Modify_changes_what_is_reported_and_the_old_poll_reports_nothing_more()
    {
        using var b = Create();
        var (client, server) = Rings.TcpPair();
        try
        {
            Assert.Equal(SelectorStatus.Ok, b.AddPoll(server, IoEvents.Readable, 1, out int source));
            ExpectQuiet(b); // nothing to read; writable is not asked for
            Assert.Equal(SelectorStatus.Ok, b.ModifyPoll(source, IoEvents.Writable));
            Assert.Equal(new ReadinessEvent(1, IoEvents.Writable), Assert.Single(NextEvents(b)));
            Assert.Equal(SelectorStatus.Ok, b.ModifyPoll(source, IoEvents.Readable | IoEvents.ReadHangUp));
            ExpectQuiet(b);
            Rings.Send(client, "x"u8);
            Assert.Equal(new ReadinessEvent(1, IoEvents.Readable), Assert.Single(NextEvents(b)));
        }
        finally
        {
            Fds.Close(client);
            Fds.Close(server);
        }
    }

    [Fact]
    public void A_peer_half_close_is_reported_as_epoll_would_only_with_ReadHangUp_in_the_interest()
    {
        using var b = Create();
        var (c1, s1) = Rings.TcpPair();
        var (c2, s2) = Rings.TcpPair();
        try
        {
            Assert.Equal(SelectorStatus.Ok, b.AddPoll(s1, IoEvents.Readable, 1, out _));
            Assert.Equal(SelectorStatus.Ok, b.AddPoll(s2, IoEvents.Readable | IoEvents.ReadHangUp, 2, out _));
            Assert.True(Sys.ShutdownWrite(c1, out _) && Sys.ShutdownWrite(c2, out _));
            var seen = new Dictionary<ulong, IoEvents>();
            Waits.Until(() =>
            {
                foreach (var e in Turn(b, 10))
                {
                    seen[e.Token] = e.Events;
                }
                return seen.Count == 2;
            }, "both hang-ups", TimeSpan.FromSeconds(10));
            Assert.Equal(IoEvents.Readable, seen[1]);
            Assert.Equal(IoEvents.Readable | IoEvents.ReadHangUp, seen[2]);
        }
        finally
        {
            Fds.Close(c1);
            Fds.Close(s1);
            Fds.Close(c2);
            Fds.Close(s2);
        }
    }

    [Fact]
    public void Registering_refuses_what_epoll_refuses()
    {
        using var b = Create();
        var (r, w) = Fds.Pipe();
        int file = Fds.OpenFile("/proc/self/status");
        try
        {
            Assert.Equal(SelectorStatus.Ok, b.AddPoll(r, IoEvents.Readable, 1, out _));
            Assert.Equal(SelectorStatus.AlreadyRegistered, b.AddPoll(r, IoEvents.Writable, 2, out _));
            Assert.Equal(SelectorStatus.NotPollable, b.AddPoll(file, IoEvents.Readable, 3, out _));
            Fds.Close(w);
            w = -1;
            Assert.Equal(SelectorStatus.NotOpen, b.AddPoll(9999, IoEvents.Readable, 4, out _));
        }
        finally
        {
            Fds.Close(r);
            if (w >= 0)
            {
                Fds.Close(w);
            }
            Fds.Close(file);
        }
    }

    [Fact]
    public void Removing_a_registration_lets_go_of_the_file_at_once_so_closing_the_fd_closes_it()
    {
        using var b = Create();
        var (r, w) = Fds.Pipe();
        try
        {
            Assert.Equal(SelectorStatus.Ok, b.AddPoll(r, IoEvents.Readable | IoEvents.EdgeTriggered, 1, out int source));
            Turn(b); // the poll is armed in the kernel now, holding the pipe's read end
            b.RemovePoll(source);
            Fds.Close(r);
            r = -1;
            // No loop turn in between: the removal was submitted by RemovePoll itself.
            Waits.Until(() => Rings.PipeHasNoReaders(w), "EPIPE on the write end", TimeSpan.FromSeconds(10));
        }
        finally
        {
            if (r >= 0)
            {
                Fds.Close(r);
            }
            Fds.Close(w);
        }
    }

    [Fact]
    public void A_new_registration_of_the_same_fd_never_sees_an_event_of_the_old_one()
    {
        using var b = Create();
        var (r, w) = Fds.Pipe();
        try
        {
            for (int round = 0; round < 50; round++)
            {
                Assert.Equal(SelectorStatus.Ok, b.AddPoll(r, IoEvents.Readable | IoEvents.EdgeTriggered, (ulong)(1000 + round), out int source));
                Fds.Write(w, 1);
                Assert.All(NextEvents(b), e => Assert.Equal((ulong)(1000 + round), e.Token));
                Fds.Write(w, 1); // a wake-up the old poll may still see before the removal lands
                b.RemovePoll(source);
                Fds.Drain(r);
            }
            Assert.Equal(0, b.SourceCount);
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Fact]
    public void Wake_from_another_thread_ends_a_wait_without_a_timeout_and_is_not_reported()
    {
        using var b = Create();
        var waker = Task.Run(() =>
        {
            Thread.Sleep(50);
            b.Wake();
        });
        Assert.True(b.Wait(-1, out var ready, out var done, out var err), err.ToString());
        Assert.Equal(0, ready.Length);
        Assert.Equal(0, done.Length);
        Waits.Done(waker, "the waker");
        // The waker re-armed: a second wake ends a second wait.
        var again = Task.Run(() =>
        {
            Thread.Sleep(20);
            b.Wake();
        });
        Assert.True(b.Wait(-1, out _, out _, out err), err.ToString());
        Waits.Done(again, "the second waker");
    }

    [Fact]
    public void A_wait_ends_on_its_timeout_when_nothing_happens()
    {
        using var b = Create();
        Assert.True(b.Wait(5, out var ready, out var done, out var err), err.ToString());
        Assert.Equal(0, ready.Length + done.Length);
    }

    [Fact]
    public void Accept_multishot_receive_and_send_echo_over_loopback()
    {
        using var b = Create();
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(8);
        int acceptSource = b.AddCompletionSource((int)listener.Handle, 50);
        Assert.True(b.ArmAccept(acceptSource));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        var accepted = Assert.Single(NextCompletions(b));
        Assert.Equal(RequestKind.Accept, accepted.Kind);
        Assert.Equal(50ul, accepted.Token);
        Assert.True(accepted.Result >= 0 && !accepted.HasMore); // single-shot: one connection per request
        int fd = accepted.Result;
        int conn = b.AddCompletionSource(fd, 51);
        Assert.True(b.ArmReceive(conn));
        byte* echo = stackalloc byte[64];
        try
        {
            for (int i = 0; i < 5; i++)
            {
                client.Send(new byte[] { (byte)i, 2, 3 });
                var got = Assert.Single(NextCompletions(b));
                Assert.Equal(RequestKind.Receive, got.Kind);
                Assert.True(got.HasBuffer && got.HasMore);
                new ReadOnlySpan<byte>((byte*)got.Data, got.Result).CopyTo(new Span<byte>(echo, 64));
                if (got.RecycleBuffer)
                {
                    b.ReceiveBuffers.Recycle(got.BufferId);
                }
                Assert.True(b.Send(conn, echo, got.Result));
                var sent = Assert.Single(NextCompletions(b));
                Assert.Equal(RequestKind.Send, sent.Kind);
                Assert.Equal(3, sent.Result);
                var back = new byte[3];
                Assert.Equal(3, client.Receive(back));
                Assert.Equal(new byte[] { (byte)i, 2, 3 }, back);
            }
            client.Shutdown(SocketShutdown.Send);
            var eof = Assert.Single(NextCompletions(b));
            Assert.Equal(0, eof.Result);
            Assert.False(eof.HasMore);
        }
        finally
        {
            Fds.Close(fd);
        }
    }

    [Fact]
    public void Disposing_with_requests_in_flight_cancels_them_and_closes_connections_accepted_meanwhile()
    {
        int before = Fds.OpenCount();
        var (r, w) = Fds.Pipe();
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(8);
        var b = Create();
        Assert.Equal(SelectorStatus.Ok, b.AddPoll(r, IoEvents.Readable | IoEvents.EdgeTriggered, 1, out _));
        int acceptSource = b.AddCompletionSource((int)listener.Handle, 2);
        Assert.True(b.ArmAccept(acceptSource));
        Turn(b);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!); // accepted by the kernel, its completion not reaped by us
        Fds.Close(r);
        b.Dispose();
        Assert.Equal(0, b.Ring.InFlight);
        Waits.Until(() => Rings.PipeHasNoReaders(w), "the poll to let go of the pipe", TimeSpan.FromSeconds(10));
        Fds.Close(w);
        listener.Dispose();
        client.Dispose();
        Fds.ExpectOpenCount(before); // the ring, the waker and any connection accepted during the drain are closed
    }
}
