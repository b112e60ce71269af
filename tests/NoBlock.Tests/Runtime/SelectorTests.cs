using NoBlock.Interop;
using NoBlock.IoUring;
using Xunit;
using static Tmds.Linux.LibC;

namespace NoBlock.Tests.Runtime;

/// <summary>
/// The selector contract on both backends: for the same history of an fd (closed while registered, its number
/// reused, registered again) both selectors report the same typed result, the one epoll_ctl gives.
/// </summary>
public sealed unsafe class SelectorTests
{
    private static Selector Create(EventLoopBackend backend)
    {
        Selector? selector = backend == EventLoopBackend.Epoll
            ? EpollSelector.TryCreate(64, out _, out _)
            : IoUringSelector.TryCreate(64, out _);
        Assert.NotNull(selector);
        return selector;
    }

    /// <summary>A fresh pipe whose read end has the number <paramref name="number"/> (closed before); returns its write end.</summary>
    private static int PipeAt(int number)
    {
        var (r, w) = Fds.Pipe();
        if (r != number)
        {
            Fds.Dup2(r, number);
            Fds.Close(r);
        }
        return w;
    }

    /// <summary>Turns the selector until <paramref name="token"/> is reported (bounded in time).</summary>
    private static void ExpectEvent(Selector selector, ulong token)
    {
        bool seen = false;
        Waits.Until(() =>
        {
            Assert.Equal(SelectorStatus.Ok, selector.Wait(10, out var events, out _));
            foreach (var e in events)
            {
                seen |= e.Token == token;
            }
            return seen;
        }, $"an event for token {token}");
    }

    /// <summary>A pipe's write end whose read end is gone for good sees EPIPE (no request holds that read end any more).</summary>
    private static void ExpectReaderGone(Selector selector, int writeEnd)
    {
        Waits.Until(() =>
        {
            selector.Wait(0, out _, out _); // io_uring: submit and reap what is queued (the poll removals)
            byte b = 1;
            return (long)write(writeEnd, &b, 1) == -1 && errno == EPIPE;
        }, "the writer to see EPIPE: the registration's poll still holds the closed read end");
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Removing_a_registration_whose_fd_number_a_newer_registration_took_is_NotRegistered_and_leaves_the_newer_one(EventLoopBackend backend)
    {
        using var selector = Create(backend);
        var (r, w) = Fds.Pipe();
        int w2 = -1;
        try
        {
            Assert.Equal(SelectorStatus.Ok, selector.Add(r, IoEvents.Readable, 1, out int oldKey, out _));
            Fds.Close(r); // closed while registered: epoll drops the registration; io_uring's poll keeps the file
            w2 = PipeAt(r);
            Assert.Equal(SelectorStatus.Ok, selector.Add(r, IoEvents.Readable, 2, out int newKey, out _)); // io_uring: orphans the old source
            ExpectReaderGone(selector, w); // the orphaned poll was cancelled: the old pipe is really closed

            Assert.Equal(SelectorStatus.NotRegistered, selector.Remove(r, oldKey, 1, out _));

            Fds.Write(w2);
            ExpectEvent(selector, 2); // the newer registration still works
            Assert.Equal(SelectorStatus.Ok, selector.Remove(r, newKey, 2, out _));
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
            Fds.Close(w2);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Removing_a_registration_whose_fd_was_closed_is_NotOpen_and_lets_go_of_the_file(EventLoopBackend backend)
    {
        using var selector = Create(backend);
        var (r, w) = Fds.Pipe();
        try
        {
            Assert.Equal(SelectorStatus.Ok, selector.Add(r, IoEvents.Readable, 1, out int key, out _));
            selector.Wait(0, out _, out _);
            Fds.Close(r);
            Assert.Equal(SelectorStatus.NotOpen, selector.Remove(r, key, 1, out _)); // epoll_ctl DEL: EBADF
            ExpectReaderGone(selector, w);
        }
        finally
        {
            Fds.Close(w);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void Removing_a_registration_whose_fd_number_now_names_an_unregistered_file_is_NotRegistered(EventLoopBackend backend)
    {
        using var selector = Create(backend);
        var (r, w) = Fds.Pipe();
        int w2 = -1;
        try
        {
            Assert.Equal(SelectorStatus.Ok, selector.Add(r, IoEvents.Readable, 1, out int key, out _));
            selector.Wait(0, out _, out _);
            Fds.Close(r);
            w2 = PipeAt(r); // another file, never registered, now has the number
            Assert.Equal(SelectorStatus.NotRegistered, selector.Remove(r, key, 1, out _)); // epoll_ctl DEL: ENOENT
            ExpectReaderGone(selector, w);
            // And the number is free to register.
            Assert.Equal(SelectorStatus.Ok, selector.Add(r, IoEvents.Readable, 2, out int again, out _));
            Fds.Write(w2);
            ExpectEvent(selector, 2);
            Assert.Equal(SelectorStatus.Ok, selector.Remove(r, again, 2, out _));
        }
        finally
        {
            Fds.Close(r);
            Fds.Close(w);
            Fds.Close(w2);
        }
    }

    /// <summary>
    /// The one known difference (docs/io_uring.md): io_uring tells a reused fd number by the file's (st_dev, st_ino),
    /// and every eventfd has the same anonymous inode, so an eventfd closed while registered whose number goes to a new
    /// eventfd looks registered still. epoll registers the new one; io_uring refuses it as a double registration.
    /// Disposing the registration before closing the fd (what docs/runtime.md asks) avoids it on both.
    /// </summary>
    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void An_eventfd_closed_while_registered_whose_number_goes_to_a_new_eventfd(EventLoopBackend backend)
    {
        using var selector = Create(backend);
        int e1 = Fds.EventFd();
        Assert.Equal(SelectorStatus.Ok, selector.Add(e1, IoEvents.Readable, 1, out int key1, out _));
        Fds.Close(e1);
        int e2 = Fds.EventFd();
        try
        {
            if (e2 != e1)
            {
                Fds.Dup2(e2, e1);
                Fds.Close(e2);
            }
            var status = selector.Add(e1, IoEvents.Readable, 2, out int key2, out _);
            if (backend == EventLoopBackend.Epoll)
            {
                Assert.Equal(SelectorStatus.Ok, status);
                Assert.Equal(SelectorStatus.NotRegistered, selector.Remove(e1, key1, 1, out _));
                Assert.Equal(SelectorStatus.Ok, selector.Remove(e1, key2, 2, out _));
            }
            else
            {
                Assert.Equal(SelectorStatus.AlreadyRegistered, status);
                Assert.Equal(SelectorStatus.Ok, selector.Remove(e1, key1, 1, out _)); // the same inode: looks like the registered file
                Assert.Equal(SelectorStatus.Ok, selector.Add(e1, IoEvents.Readable, 2, out key2, out _)); // after the removal it registers
                Assert.Equal(SelectorStatus.Ok, selector.Remove(e1, key2, 2, out _));
            }
        }
        finally
        {
            Fds.Close(e1);
        }
    }
}
