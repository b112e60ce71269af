using System.Net;
using System.Net.Sockets;
using NoBlock.Interop;
using NoBlock.IoUring;
using NoBlock.Tests.Runtime;
using Xunit;
using static Tmds.Linux.LibC;

namespace NoBlock.Tests.IoUring;

/// <summary>Each op the backend uses, on a real ring and real fds (eventfds, pipes, loopback TCP).</summary>
public sealed unsafe class IoUringRingTests
{
    private const uint PollIn = 0x001, PollOut = 0x004;

    [Fact]
    public void A_ring_maps_both_queues_and_returns_a_nop_with_its_user_data()
    {
        using var ring = Rings.Create();
        Assert.True(ring.HasFeature(IoUringFeatures.SingleMmap), "this kernel maps SQ and CQ in one region (5.4+)");
        IoUringPrep.Nop(Rings.Sqe(ring), 42);
        Assert.Equal(1u, ring.Unsubmitted);
        Assert.Equal(1, ring.InFlight);
        var cqe = Assert.Single(Rings.Wait(ring, 1));
        Assert.Equal(42ul, cqe.UserData);
        Assert.Equal(0, cqe.Res);
        Assert.Equal(0, ring.InFlight);
        Assert.Equal(0u, ring.Unsubmitted);
    }

    [Fact]
    public void A_full_submission_queue_hands_out_no_sqe_until_it_is_submitted()
    {
        using var ring = Rings.Create(sq: 4, cq: 16);
        for (int i = 0; i < ring.SqEntries; i++)
        {
            IoUringPrep.Nop(Rings.Sqe(ring), (ulong)i);
        }
        Assert.True(ring.GetSqe() == null);
        var sqe = ring.GetSqeOrSubmit(out var err); // submits the four, then hands out a fifth
        Assert.True(sqe != null, err.ToString());
        IoUringPrep.Nop(sqe, 99);
        Assert.Equal(5, Rings.Wait(ring, 5).Count);
    }

    [Fact]
    public void Completions_beyond_the_completion_queue_wait_in_the_kernel_and_none_is_lost()
    {
        using var ring = Rings.Create(sq: 8, cq: 16);
        Assert.True(ring.HasFeature(IoUringFeatures.NoDrop));
        int total = 0;
        for (int batch = 0; batch < 6; batch++) // 48 completions for 16 slots
        {
            for (int i = 0; i < 8; i++)
            {
                IoUringPrep.Nop(Rings.Sqe(ring), (ulong)total++);
            }
            Assert.True(ring.Submit(out var err) >= 0 || err.IsBusy, err.ToString());
        }
        Assert.True(ring.KernelHoldsCompletions, "the overflow flag is up");
        var got = Rings.Wait(ring, total);
        Assert.Equal(Enumerable.Range(0, total).Select(i => (ulong)i), got.Select(c => c.UserData).Order());
        Assert.Equal(0u, ring.Overflowed);
    }

    [Fact]
    public void Multishot_poll_posts_a_completion_per_wakeup_and_stays_armed_until_removed()
    {
        using var ring = Rings.Create();
        int efd = Fds.EventFd();
        try
        {
            IoUringPrep.PollAdd(Rings.Sqe(ring), efd, PollIn, multishot: true, 7);
            Rings.ExpectNone(ring);
            Rings.Signal(efd);
            var first = Assert.Single(Rings.Wait(ring, 1));
            Assert.Equal(7ul, first.UserData);
            Assert.True((first.Res & PollIn) != 0);
            Assert.True(first.HasMore);

            // Not drained, no new wake-up: no completion (edge-like). A new write is a new wake-up.
            Rings.ExpectNone(ring);
            Rings.Signal(efd);
            Assert.True(Assert.Single(Rings.Wait(ring, 1)).HasMore);

            IoUringPrep.PollRemove(Rings.Sqe(ring), 7, 8);
            var done = Rings.Wait(ring, 2);
            var removed = Assert.Single(done, c => c.UserData == 7);
            Assert.True(Errno.FromCompletion(removed.Res).IsCanceled);
            Assert.False(removed.HasMore);
            Assert.Equal(0, Assert.Single(done, c => c.UserData == 8).Res);
            Assert.Equal(0, ring.InFlight);
        }
        finally
        {
            Fds.Close(efd);
        }
    }

    [Fact]
    public void A_one_shot_poll_armed_on_a_ready_fd_completes_at_once_so_rearming_is_level_triggered()
    {
        using var ring = Rings.Create();
        var (r, w) = Fds.Pipe();
        try
        {
            Fds.Write(w, 3);
            for (int turn = 0; turn < 3; turn++) // never read: every re-arm reports it again, like level-triggered epoll
            {
                IoUringPrep.PollAdd(Rings.Sqe(ring), r, PollIn, multishot: false, (ulong)turn);
                var cqe = Assert.Single(Rings.Wait(ring, 1));
                Assert.Equal((ulong)turn, cqe.UserData);
                Assert.True((cqe.Res & PollIn) != 0);
                Assert.False(cqe.HasMore);
            }
            Fds.Drain(r);
            IoUringPrep.PollAdd(Rings.Sqe(ring), r, PollIn, multishot: false, 9);
            Rings.ExpectNone(ring);
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Fact]
    public void A_read_on_an_eventfd_wakes_a_ring_waiting_in_io_uring_enter_when_another_thread_writes_it()
    {
        using var ring = Rings.Create();
        int efd = Fds.EventFd();
        byte* value = stackalloc byte[8];
        try
        {
            IoUringPrep.Read(Rings.Sqe(ring), efd, value, 8, 5);
            Rings.ExpectNone(ring);
            var writer = Task.Run(() =>
            {
                Thread.Sleep(20);
                Rings.Signal(efd);
            });
            var cqe = Assert.Single(Rings.Wait(ring, 1)); // waits in io_uring_enter until the write
            Assert.Equal(5ul, cqe.UserData);
            Assert.Equal(8, cqe.Res);
            Assert.Equal(1ul, *(ulong*)value);
            Waits.Done(writer, "the writer");
        }
        finally
        {
            Fds.Close(efd);
        }
    }

    [Fact]
    public void Msg_ring_posts_a_completion_on_another_ring()
    {
        using var target = Rings.Create();
        using var sender = Rings.Create();
        IoUringPrep.MsgRing(Rings.Sqe(sender), target.Fd, 77, IoUringRing.ForeignUserDataBit | 123, 1);
        var sent = Assert.Single(Rings.Wait(sender, 1));
        Assert.Equal(0, sent.Res);
        var got = Assert.Single(Rings.Wait(target, 1));
        Assert.Equal(IoUringRing.ForeignUserDataBit | 123, got.UserData);
        Assert.Equal(77, got.Res);
        Assert.Equal(0, target.InFlight); // a foreign completion ends no request of the target's
    }

    [Fact]
    public void Multishot_accept_posts_one_nonblocking_fd_per_connection_and_stays_armed()
    {
        using var ring = Rings.Create();
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(16);
        IoUringPrep.AcceptMultishot(Rings.Sqe(ring), (int)listener.Handle, (uint)(SOCK_NONBLOCK | SOCK_CLOEXEC), 3);
        Rings.ExpectNone(ring);
        var clients = Enumerable.Range(0, 3).Select(_ =>
        {
            var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            c.Connect(listener.LocalEndPoint!);
            return c;
        }).ToList();
        try
        {
            var accepted = Rings.Wait(ring, 3);
            foreach (var cqe in accepted)
            {
                Assert.Equal(3ul, cqe.UserData);
                Assert.True(cqe.Res >= 0, $"accept failed: {Errno.FromCompletion(cqe.Res)}");
                Assert.True(cqe.HasMore);
                Assert.True(Sys.IsNonBlocking(Sys.GetStatusFlags(cqe.Res, out _)));
                Fds.Close(cqe.Res);
            }
            IoUringPrep.Cancel(Rings.Sqe(ring), 3, 4);
            var end = Rings.Wait(ring, 2);
            Assert.True(Errno.FromCompletion(Assert.Single(end, c => c.UserData == 3).Res).IsCanceled);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public void A_lent_buffer_goes_back_to_the_kernel_only_when_its_last_lend_returns()
    {
        using var ring = Rings.Create();
        using var buffers = IoUringBufferRing.Create(ring, 1, 2, 256, out var err) ?? throw new Xunit.Sdk.XunitException($"PBUF_RING: {err}");
        var (client, server) = Rings.TcpPair();
        try
        {
            IoUringPrep.RecvMultishot(Rings.Sqe(ring), server, 1, 11);
            Rings.ExpectNone(ring);
            Rings.Send(client, new byte[] { 1 });
            var first = Assert.Single(Rings.Wait(ring, 1));
            buffers.Taken(first.BufferId);
            Assert.True(buffers.TryLend(first.BufferId)); // a send points into it
            Assert.True(buffers.TryLend(first.BufferId)); // and a second one
            Assert.False(buffers.TryLend((ushort)(1 - first.BufferId)), "at most half the ring is lent");
            buffers.Recycle(first.BufferId); // its data was delivered: the recycle waits for the sends
            Assert.Equal(1, buffers.Outstanding);

            // The kernel has one buffer left: the second message takes it, the third finds none (-ENOBUFS).
            Rings.Send(client, new byte[] { 2 });
            var second = Assert.Single(Rings.Wait(ring, 1));
            Assert.True(second.HasBuffer && second.BufferId != first.BufferId, Rings.Describe([second]));
            buffers.Taken(second.BufferId);
            Rings.Send(client, new byte[] { 3 });
            var third = Assert.Single(Rings.Wait(ring, 1));
            Assert.Equal(-105, third.Res); // ENOBUFS: the lent buffer was not given back

            buffers.ReturnLend(first.BufferId);
            Assert.Equal(2, buffers.Outstanding); // one lend still out
            buffers.ReturnLend(first.BufferId);
            Assert.Equal(1, buffers.Outstanding); // recycled now
            Assert.Equal(0, buffers.LentBuffers);
            buffers.Recycle(second.BufferId);
            Assert.Equal(0, buffers.Outstanding);
        }
        finally
        {
            Fds.Close(client);
            Fds.Close(server);
        }
    }

    [Fact]
    public void Multishot_recv_fills_provided_buffers_and_ends_at_end_of_stream()
    {
        using var ring = Rings.Create();
        using var buffers = IoUringBufferRing.Create(ring, 1, 4, 256, out var err) ?? throw new Xunit.Sdk.XunitException($"PBUF_RING: {err}");
        var (client, server) = Rings.TcpPair();
        try
        {
            IoUringPrep.RecvMultishot(Rings.Sqe(ring), server, 1, 11);
            Rings.ExpectNone(ring);
            var received = new List<byte>();
            for (int i = 0; i < 10; i++) // more messages than buffers: each is recycled after it is read
            {
                Rings.Send(client, new byte[] { (byte)i, (byte)(i + 100) });
                var cqe = Assert.Single(Rings.Wait(ring, 1));
                Assert.True(cqe.HasBuffer && cqe.HasMore, Rings.Describe([cqe]));
                buffers.Taken(cqe.BufferId);
                received.AddRange(new ReadOnlySpan<byte>(buffers.Buffer(cqe.BufferId), cqe.Res).ToArray());
                buffers.Recycle(cqe.BufferId);
            }
            Assert.Equal(Enumerable.Range(0, 10).SelectMany(i => new[] { (byte)i, (byte)(i + 100) }), received);
            Assert.Equal(0, buffers.Outstanding);

            Fds.Close(client);
            client = -1;
            var eof = Assert.Single(Rings.Wait(ring, 1));
            Assert.Equal(0, eof.Res);
            Assert.False(eof.HasMore);
            Assert.Equal(0, ring.InFlight);
        }
        finally
        {
            if (client >= 0)
            {
                Fds.Close(client);
            }
            Fds.Close(server);
        }
    }

    [Fact]
    public void An_empty_buffer_ring_ends_multishot_recv_with_ENOBUFS_and_the_data_waits_for_the_rearm()
    {
        using var ring = Rings.Create();
        using var buffers = IoUringBufferRing.Create(ring, 2, 2, 64, out var err) ?? throw new Xunit.Sdk.XunitException($"PBUF_RING: {err}");
        var (client, server) = Rings.TcpPair();
        try
        {
            IoUringPrep.RecvMultishot(Rings.Sqe(ring), server, 2, 21);
            var held = new List<ushort>();
            for (int i = 0; i < 2; i++) // fill both buffers and keep them
            {
                Rings.Send(client, new byte[] { (byte)('a' + i) });
                var cqe = Assert.Single(Rings.Wait(ring, 1));
                Assert.True(cqe.HasBuffer && cqe.HasMore);
                held.Add(cqe.BufferId);
                buffers.Taken(cqe.BufferId);
            }
            Rings.Send(client, "c"u8);
            var starved = Assert.Single(Rings.Wait(ring, 1));
            Assert.True(Errno.FromCompletion(starved.Res).IsNoBuffers, Rings.Describe([starved]));
            Assert.False(starved.HasMore); // the multishot request is over
            Assert.Equal(0, ring.InFlight);

            // Nothing was consumed: the byte is still in the socket. Give a buffer back and re-arm.
            Assert.True(Sys.ReceiveQueue(server, out int queued, out _) && queued == 1);
            buffers.Recycle(held[0]);
            IoUringPrep.RecvMultishot(Rings.Sqe(ring), server, 2, 22);
            var again = Assert.Single(Rings.Wait(ring, 1));
            Assert.Equal(22ul, again.UserData);
            Assert.Equal(1, again.Res);
            Assert.Equal((byte)'c', *buffers.Buffer(again.BufferId));
        }
        finally
        {
            Fds.Close(client);
            Fds.Close(server);
        }
    }

    [Fact]
    public void Send_delivers_the_bytes_and_reports_how_many_the_kernel_took()
    {
        using var ring = Rings.Create();
        var (client, server) = Rings.TcpPair();
        byte* data = stackalloc byte[100];
        for (int i = 0; i < 100; i++)
        {
            data[i] = (byte)i;
        }
        try
        {
            IoUringPrep.Send(Rings.Sqe(ring), server, data, 100, (uint)MSG_NOSIGNAL, 31);
            var cqe = Assert.Single(Rings.Wait(ring, 1));
            Assert.Equal(100, cqe.Res);
            var got = new List<byte>();
            Waits.Until(() =>
            {
                var chunk = new byte[200];
                int n = Rings.Recv(client, chunk);
                got.AddRange(chunk.Take(Math.Max(0, n)));
                return got.Count >= 100;
            }, "the bytes at the peer", TimeSpan.FromSeconds(10));
            Assert.True(got.ToArray().AsSpan().SequenceEqual(new ReadOnlySpan<byte>(data, 100)));
        }
        finally
        {
            Fds.Close(client);
            Fds.Close(server);
        }
    }

    [Fact]
    public void A_send_to_a_reset_peer_completes_with_the_socket_error()
    {
        using var ring = Rings.Create();
        var (client, server) = Rings.TcpPair();
        try
        {
            // SO_LINGER {on, 0}: close sends RST.
            int* linger = stackalloc int[2] { 1, 0 };
            setsockopt(client, SOL_SOCKET, SO_LINGER, linger, 8);
            Fds.Close(client);
            client = -1;
            byte* one = stackalloc byte[1];
            Waits.Until(() =>
            {
                IoUringPrep.Send(Rings.Sqe(ring), server, one, 1, (uint)MSG_NOSIGNAL, 41);
                var cqe = Assert.Single(Rings.Wait(ring, 1));
                return cqe.Res < 0 && Errno.FromCompletion(cqe.Res).IsConnectionGone;
            }, "a send to fail with ECONNRESET or EPIPE", TimeSpan.FromSeconds(10));
        }
        finally
        {
            if (client >= 0)
            {
                Fds.Close(client);
            }
            Fds.Close(server);
        }
    }

    [Fact]
    public void A_timeout_expires_with_ETIME_or_completes_early_once_enough_other_completions_arrived()
    {
        using var ring = Rings.Create();
        var ts = new KernelTimespec { TvSec = 0, TvNsec = 5_000_000 };
        IoUringPrep.Timeout(Rings.Sqe(ring), &ts, 0, 0, 51);
        var expired = Assert.Single(Rings.Wait(ring, 1));
        Assert.True(Errno.FromCompletion(expired.Res).IsTimerExpired, Rings.Describe([expired]));

        var far = new KernelTimespec { TvSec = 60 };
        IoUringPrep.Timeout(Rings.Sqe(ring), &far, 1, 0, 52); // or after one other completion
        IoUringPrep.Nop(Rings.Sqe(ring), 53);
        var both = Rings.Wait(ring, 2);
        Assert.Equal(0, Assert.Single(both, c => c.UserData == 52).Res);

        IoUringPrep.Timeout(Rings.Sqe(ring), &far, 0, 0, 54);
        IoUringPrep.TimeoutRemove(Rings.Sqe(ring), 54, 55);
        var removed = Rings.Wait(ring, 2);
        Assert.True(Errno.FromCompletion(Assert.Single(removed, c => c.UserData == 54).Res).IsCanceled);
        Assert.Equal(0, Assert.Single(removed, c => c.UserData == 55).Res);
    }

    [Fact]
    public void The_wait_in_io_uring_enter_ends_on_its_timeout_without_an_error()
    {
        using var ring = Rings.Create();
        Assert.True(ring.SubmitAndWait(1, 2_000_000, out var err) >= 0, err.ToString());
        Assert.Equal(0u, ring.Ready);
    }

    [Fact]
    public void Cancel_by_user_data_ends_a_pending_read_with_ECANCELED()
    {
        using var ring = Rings.Create();
        var (r, w) = Fds.Pipe();
        byte* buf = stackalloc byte[8];
        try
        {
            IoUringPrep.Read(Rings.Sqe(ring), r, buf, 8, 61);
            Rings.ExpectNone(ring);
            IoUringPrep.Cancel(Rings.Sqe(ring), 61, 62);
            var both = Rings.Wait(ring, 2);
            Assert.True(Errno.FromCompletion(Assert.Single(both, c => c.UserData == 61).Res).IsCanceled);
            Assert.Equal(0, Assert.Single(both, c => c.UserData == 62).Res);

            IoUringPrep.Cancel(Rings.Sqe(ring), 61, 63); // nothing left to cancel
            Assert.True(Errno.FromCompletion(Assert.Single(Rings.Wait(ring, 1)).Res).IsCancelTooLate);
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
        }
    }

    [Fact]
    public void Cancel_by_fd_ends_every_request_on_that_fd_and_no_other()
    {
        using var ring = Rings.Create();
        var (r, w) = Fds.Pipe();
        int efd = Fds.EventFd();
        try
        {
            IoUringPrep.PollAdd(Rings.Sqe(ring), r, PollIn, multishot: true, 71);
            IoUringPrep.PollAdd(Rings.Sqe(ring), r, PollIn, multishot: false, 72);
            IoUringPrep.PollAdd(Rings.Sqe(ring), efd, PollIn, multishot: true, 73);
            Rings.ExpectNone(ring);
            IoUringPrep.CancelFd(Rings.Sqe(ring), r, 74);
            var got = Rings.Wait(ring, 3);
            Assert.Equal(2, Assert.Single(got, c => c.UserData == 74).Res);
            Assert.All(got.Where(c => c.UserData is 71 or 72), c => Assert.True(Errno.FromCompletion(c.Res).IsCanceled));
            Assert.Equal(1, ring.InFlight); // the eventfd's poll is still armed
            Rings.Signal(efd);
            Assert.Equal(73ul, Assert.Single(Rings.Wait(ring, 1)).UserData);
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
            Fds.Close(efd);
        }
    }

    [Fact]
    public void A_request_on_a_closed_fd_number_completes_with_EBADF()
    {
        using var ring = Rings.Create();
        var (r, w) = Fds.Pipe();
        Fds.Close(r);
        Fds.Close(w);
        IoUringPrep.PollAdd(Rings.Sqe(ring), r, PollIn, multishot: true, 81);
        var cqe = Assert.Single(Rings.Wait(ring, 1));
        Assert.True(Errno.FromCompletion(cqe.Res).IsBadFd, Rings.Describe([cqe]));
        Assert.False(cqe.HasMore);
    }

    [Fact]
    public void Closing_the_fd_of_an_armed_request_does_not_end_it_the_request_holds_the_file_until_cancelled()
    {
        // The reason the backend cancels a socket's requests before it closes it: close(2) alone leaves them armed.
        using var ring = Rings.Create();
        using var buffers = IoUringBufferRing.Create(ring, 3, 2, 64, out var err) ?? throw new Xunit.Sdk.XunitException($"PBUF_RING: {err}");
        var (client, server) = Rings.TcpPair();
        try
        {
            IoUringPrep.RecvMultishot(Rings.Sqe(ring), server, 3, 91);
            Rings.ExpectNone(ring);
            Fds.Close(server);
            Rings.Send(client, "x"u8); // the peer still talks to a live socket
            var cqe = Assert.Single(Rings.Wait(ring, 1));
            Assert.Equal(1, cqe.Res);
            Assert.True(cqe.HasMore);
            buffers.Recycle(cqe.BufferId);

            IoUringPrep.Cancel(Rings.Sqe(ring), 91, 92);
            Rings.Wait(ring, 2);
            // Now the last reference is gone: the peer sees the close.
            Waits.Until(() => Rings.Recv(client, new byte[1]) == 0, "the peer to see end of stream", TimeSpan.FromSeconds(10));
        }
        finally
        {
            Fds.Close(client);
        }
    }

    [Fact]
    public void Closing_a_ring_with_requests_in_flight_releases_the_files_they_held()
    {
        var (r, w) = Fds.Pipe();
        byte* buf = stackalloc byte[8];
        try
        {
            var ring = Rings.Create();
            IoUringPrep.Read(Rings.Sqe(ring), r, buf, 8, 1);
            IoUringPrep.PollAdd(Rings.Sqe(ring), r, PollIn, multishot: true, 2);
            Rings.ExpectNone(ring);
            Fds.Close(r); // our fd is gone; the two requests still hold the pipe's read end
            r = -1;
            Fds.Write(w, 1); // the pipe is still open for reading, so this succeeds
            ring.Dispose();
            // The kernel cancels and drops the requests as the ring goes away (asynchronously): then the read end
            // is closed for good and a write fails with EPIPE.
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
    public void Cancel_all_and_drain_ends_every_request_and_hands_over_their_completions()
    {
        using var ring = Rings.Create();
        var (r, w) = Fds.Pipe();
        int efd = Fds.EventFd();
        byte* buf = stackalloc byte[8];
        try
        {
            IoUringPrep.Read(Rings.Sqe(ring), r, buf, 8, 1);
            IoUringPrep.PollAdd(Rings.Sqe(ring), efd, PollIn, multishot: true, 2);
            var ts = new KernelTimespec { TvSec = 60 };
            IoUringPrep.Timeout(Rings.Sqe(ring), &ts, 0, 0, 3);
            IoUringPrep.PollAdd(Rings.Sqe(ring), w, PollOut, multishot: false, 4); // completes at once: the pipe is writable
            var seen = new List<IoUringCqe>();
            Assert.True(ring.CancelAllAndDrain(TimeSpan.FromSeconds(10), seen.Add));
            Assert.Equal(0, ring.InFlight);
            Assert.Equal(new ulong[] { 1, 2, 3, 4 }, seen.Select(c => c.UserData).Order());
            Assert.True((Assert.Single(seen, c => c.UserData == 4).Res & PollOut) != 0);
            Assert.All(seen.Where(c => c.UserData != 4), c => Assert.True(Errno.FromCompletion(c.Res).IsCanceled, Rings.Describe([c])));
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
            Fds.Close(efd);
        }
    }

    [Fact]
    public void An_incremental_buffer_ring_packs_small_receives_of_several_sockets_into_one_buffer()
    {
        using var ring = Rings.Create();
        using var buffers = IoUringBufferRing.Create(ring, 4, 2, 16, incremental: true, out var err) ?? throw new Xunit.Sdk.XunitException($"PBUF_RING with IOU_PBUF_RING_INC (6.12): {err}");
        var (c1, s1) = Rings.TcpPair();
        var (c2, s2) = Rings.TcpPair();
        try
        {
            IoUringPrep.RecvMultishot(Rings.Sqe(ring), s1, 4, 1);
            IoUringPrep.RecvMultishot(Rings.Sqe(ring), s2, 4, 2);
            Rings.ExpectNone(ring);
            var text = new System.Text.StringBuilder();
            var bids = new List<(ushort Bid, bool Recycle)>();
            foreach (var (fd, msg) in new[] { (c1, "abc"), (c2, "defgh"), (c1, "ijklmnop"), (c2, "qrs") }) // 19 bytes: one buffer and a bit
            {
                Rings.Send(fd, System.Text.Encoding.ASCII.GetBytes(msg));
                var cqe = Assert.Single(Rings.Wait(ring, 1));
                Assert.True(cqe.HasBuffer && cqe.HasMore, Rings.Describe([cqe]));
                byte* data = buffers.Take(cqe.BufferId, cqe.Res, cqe.Flags, out bool recycle);
                text.Append(System.Text.Encoding.ASCII.GetString(data, cqe.Res));
                bids.Add((cqe.BufferId, recycle));
            }
            Assert.Equal("abcdefghijklmnopqrs", text.ToString());
            // The first three receives (16 bytes) filled buffer 0 a part at a time; the fourth went to the next one.
            Assert.Equal(3, bids.Count(b => b.Bid == bids[0].Bid));
            Assert.Equal(new[] { false, false, true }, bids.Where(b => b.Bid == bids[0].Bid).Select(b => b.Recycle));
            Assert.NotEqual(bids[0].Bid, bids[3].Bid);
        }
        finally
        {
            Fds.Close(c1);
            Fds.Close(s1);
            Fds.Close(c2);
            Fds.Close(s2);
        }
    }
}
