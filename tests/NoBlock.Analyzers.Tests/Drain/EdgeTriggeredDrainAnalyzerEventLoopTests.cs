using Xunit;
using NoBlock.Analyzers.Tests.Rules;
using static NoBlock.Analyzers.Tests.Rules.EdgeTriggeredDrainAnalyzerTests;

namespace NoBlock.Analyzers.Tests.Drain;

/// <summary>NB0003/NB0004 through <c>EventLoop.Register(fd, … | IoEvents.EdgeTriggered, handler)</c>.</summary>
public sealed class EdgeTriggeredDrainAnalyzerEventLoopTests
{
    // ---- hits ------------------------------------------------------------------------------------------------

    /// <summary>The seed's WRONG example on the NoBlock loop: a lambda handler that reads once.</summary>
    [Fact]
    public Task Seed_wrong_example_in_a_lambda_handler()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class EchoServer
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd)
                {
                    _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
                    {
                        byte* buf = stackalloc byte[4096];
                        var n = {|NB0003:LibC.read(e.Fd, buf, 4096)|};
                        if (n > 0)
                        {
                            LibC.write(e.Fd, buf, (size_t)n);
                        }
                    });
                }
            }
            """);

    /// <summary>A method-group handler, the interest a constant of the type.</summary>
    [Fact]
    public Task Method_group_handler_with_constant_interest()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private const IoEvents Interest = IoEvents.Readable | IoEvents.ReadHangUp | IoEvents.EdgeTriggered;
                private readonly EventLoop _loop = new();

                public void Add(int fd) => _loop.Register(fd, Interest, OnReadable);

                private void OnReadable(IoEvent e)
                {
                    byte* buf = stackalloc byte[1024];
                    {|NB0003:LibC.recv(e.Fd, buf, 1024, 0)|};
                }
            }
            """);

    /// <summary>Accept once per event on an edge-triggered listener; the handler uses the captured fd.</summary>
    [Fact]
    public Task Accept_once_with_the_captured_listening_fd_is_NB0004()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Acceptor
            {
                private readonly EventLoop _loop = new();

                public void Listen(int listenFd)
                {
                    _loop.Register(listenFd, IoEvents.Readable | IoEvents.EdgeTriggered, _ =>
                    {
                        int client = {|NB0004:LibC.accept4(listenFd, null, null, LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC)|};
                        if (client >= 0)
                        {
                            OnClient(client);
                        }
                    });
                }

                private void OnClient(int fd) { }
            }
            """);

    /// <summary>The handler passes the event's fd to a method of the type, which reads once.</summary>
    [Fact]
    public Task Method_called_with_the_events_fd_is_followed()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd)
                {
                    var interest = IoEvents.Readable;
                    interest |= IoEvents.EdgeTriggered;
                    _loop.Register(fd, interest, e => OnData(e.Fd));
                }

                private void OnData(int socket)
                {
                    byte* buf = stackalloc byte[4096];
                    long n = {|NB0003:LibC.read(socket, buf, 4096)|};
                    Handle(buf, n);
                }

                private static void Handle(byte* data, long count) { }
            }
            """);

    /// <summary>A <c>while (true)</c> that breaks right after the first successful read.</summary>
    [Fact]
    public Task Break_after_success_in_a_handler()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd)
                {
                    _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
                    {
                        byte* buf = stackalloc byte[4096];
                        while (true)
                        {
                            long n = {|NB0003:LibC.read(e.Fd, buf, 4096)|};
                            if (n < 0 && LibC.errno == LibC.EAGAIN)
                            {
                                break;
                            }

                            Handle(buf, n);
                            break;
                        }
                    });
                }

                private static void Handle(byte* data, long count) { }
            }
            """);

    /// <summary>A local function passed as the handler.</summary>
    [Fact]
    public Task Local_function_handler_is_followed()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd)
                {
                    _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, OnEvent);

                    void OnEvent(IoEvent e)
                    {
                        byte* buf = stackalloc byte[256];
                        {|NB0003:LibC.read(e.Fd, buf, 256)|};
                    }
                }
            }
            """);

    /// <summary>A method-group handler that returns right after its first successful read.</summary>
    [Fact]
    public Task Return_after_success_in_a_method_group_handler()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd) => _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, OnReadable);

                private void OnReadable(IoEvent e)
                {
                    byte* buf = stackalloc byte[4096];
                    for (;;)
                    {
                        long n = {|NB0003:LibC.recv(e.Fd, buf, 4096, 0)|};
                        if (n == -1 && LibC.errno == LibC.EINTR)
                        {
                            continue;
                        }

                        if (n > 0)
                        {
                            Handle(buf, n);
                        }

                        return;
                    }
                }

                private static void Handle(byte* data, long count) { }
            }
            """);

    /// <summary>The handler passes the event's fd to a helper class of the same compilation, which reads once.</summary>
    [Fact]
    public Task Helper_class_called_with_the_events_fd_is_followed()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            static unsafe class Fds
            {
                public static long ReadSome(int fd, int count)
                {
                    byte* buf = stackalloc byte[256];
                    return {|NB0003:LibC.read(fd, buf, count)|};
                }
            }

            class Server
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd)
                {
                    _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e => Fds.ReadSome(e.Fd, 1));
                }
            }
            """);

    /// <summary>A method group of another class as the handler.</summary>
    [Fact]
    public Task Method_group_handler_of_another_class_is_followed()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Handlers
            {
                public void OnReadable(IoEvent e)
                {
                    byte* buf = stackalloc byte[256];
                    {|NB0003:LibC.recv(e.Fd, buf, 256, 0)|};
                }
            }

            class Server
            {
                private readonly EventLoop _loop = new();
                private readonly Handlers _handlers = new();

                public void Add(int fd) => _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, _handlers.OnReadable);
            }
            """);

    // ---- near-misses -----------------------------------------------------------------------------------------

    /// <summary>The seed's CORRECT example on the NoBlock loop.</summary>
    [Fact]
    public Task Seed_correct_example_in_a_lambda_handler_is_silent()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class EchoServer
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd)
                {
                    _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
                    {
                        byte* buf = stackalloc byte[4096];
                        while (true)
                        {
                            ssize_t n = LibC.read(e.Fd, buf, 4096);
                            if (n == -1)
                            {
                                if (LibC.errno == LibC.EAGAIN)
                                {
                                    break;
                                }

                                LibC.close(e.Fd);
                                break;
                            }

                            if (n == 0)
                            {
                                LibC.close(e.Fd);
                                break;
                            }

                            LibC.write(e.Fd, buf, (size_t)n);
                        }
                    });
                }
            }
            """);

    [Fact]
    public Task Accept_drain_loop_in_a_handler_is_silent()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Acceptor
            {
                private readonly EventLoop _loop = new();

                public void Listen(int listenFd)
                {
                    _loop.Register(listenFd, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
                    {
                        int client;
                        while ((client = LibC.accept4(e.Fd, null, null, LibC.SOCK_NONBLOCK)) >= 0)
                        {
                            OnClient(client);
                        }
                    });
                }

                private void OnClient(int fd) { }
            }
            """);

    [Fact]
    public Task Level_triggered_registration_single_read_is_silent()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd)
                {
                    _loop.Register(fd, IoEvents.Readable, e =>
                    {
                        byte* buf = stackalloc byte[4096];
                        LibC.read(e.Fd, buf, 4096);
                    });
                }
            }
            """);

    /// <summary>One-shot re-armed with Registration.Modify: the re-arm re-checks readiness.</summary>
    [Fact]
    public Task One_shot_rearmed_with_Modify_is_silent()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();
                private Registration? _registration;

                public void Add(int fd)
                {
                    const IoEvents interest = IoEvents.Readable | IoEvents.EdgeTriggered | IoEvents.OneShot;
                    _registration = _loop.Register(fd, interest, e =>
                    {
                        byte* buf = stackalloc byte[4096];
                        LibC.read(e.Fd, buf, 4096);
                        _registration!.Modify(interest);
                    });
                }
            }
            """);

    /// <summary>Re-armed with Registration.Modify after one read (EPOLL_CTL_MOD re-checks readiness), without one-shot.</summary>
    [Fact]
    public Task Edge_triggered_rearmed_with_Modify_after_each_read_is_silent()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();
                private Registration? _registration;

                public void Add(int fd)
                {
                    _registration = _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
                    {
                        byte* buf = stackalloc byte[4096];
                        LibC.read(e.Fd, buf, 4096);
                        _registration!.Modify(IoEvents.Readable | IoEvents.EdgeTriggered);
                    });
                }
            }
            """);

    /// <summary>A do/while drain in a method-group handler.</summary>
    [Fact]
    public Task Do_while_drain_in_a_method_group_handler_is_silent()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd) => _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, OnReadable);

                private void OnReadable(IoEvent e)
                {
                    byte* buf = stackalloc byte[4096];
                    ssize_t n;
                    do
                    {
                        n = LibC.recv(e.Fd, buf, 4096, LibC.MSG_DONTWAIT);
                        if (n > 0)
                        {
                            Handle(buf, (long)n);
                        }
                    }
                    while (n > 0);
                }

                private static void Handle(byte* data, long count) { }
            }
            """);

    /// <summary>The interest comes from the caller: it may or may not be edge-triggered, so nothing is said.</summary>
    [Fact]
    public Task Interest_from_a_parameter_is_silent()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd, IoEvents interest)
                {
                    _loop.Register(fd, interest, e =>
                    {
                        byte* buf = stackalloc byte[4096];
                        LibC.read(e.Fd, buf, 4096);
                    });
                }
            }
            """);

    /// <summary>Level-triggered through a local: a single read per event is correct.</summary>
    [Fact]
    public Task Level_triggered_interest_in_a_local_is_silent()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd)
                {
                    var interest = IoEvents.Readable | IoEvents.ReadHangUp;
                    _loop.Register(fd, interest, OnReadable);
                }

                private void OnReadable(IoEvent e)
                {
                    byte* buf = stackalloc byte[4096];
                    LibC.read(e.Fd, buf, 4096);
                }
            }
            """);

    /// <summary>A helper class that drains, called with the event's fd.</summary>
    [Fact]
    public Task Helper_class_that_drains_is_silent()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            static unsafe class Fds
            {
                public static void Drain(int fd)
                {
                    byte* buf = stackalloc byte[256];
                    while (LibC.read(fd, buf, 256) > 0)
                    {
                    }
                }
            }

            class Server
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd)
                {
                    _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e => Fds.Drain(e.Fd));
                }
            }
            """);

    /// <summary>
    /// The runtime's own test style: drain with one helper, then probe with another (a one-byte read expected to
    /// fail with EAGAIN). The probe's call site comes after the drain of the same fd.
    /// </summary>
    [Fact]
    public Task Would_block_probe_helper_called_after_a_drain_helper_is_silent()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            static unsafe class Fds
            {
                public static int Drain(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    int total = 0;
                    while (true)
                    {
                        long n = LibC.read(fd, buf, 4096);
                        if (n <= 0)
                        {
                            return total;
                        }

                        total += (int)n;
                    }
                }

                public static bool WouldBlock(int fd)
                {
                    byte b;
                    long n = LibC.read(fd, &b, 1);
                    return n == -1 && LibC.errno == LibC.EAGAIN;
                }
            }

            class Server
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd)
                {
                    _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
                    {
                        Fds.Drain(e.Fd);
                        Fds.WouldBlock(e.Fd);
                    });
                }
            }
            """);

    /// <summary>A helper of another class that is not given the event's fd is not followed.</summary>
    [Fact]
    public Task Helper_class_not_given_the_events_fd_is_not_followed()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            static unsafe class Config
            {
                public static int Fd;

                public static long Reload()
                {
                    byte* buf = stackalloc byte[256];
                    return LibC.read(Fd, buf, 256);
                }
            }

            unsafe class Server
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd)
                {
                    _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
                    {
                        Config.Reload();
                        byte* buf = stackalloc byte[256];
                        while (LibC.read(e.Fd, buf, 256) > 0)
                        {
                        }
                    });
                }
            }
            """);

    /// <summary>Read first, wait later: the handler only records the edge; reads happen when the app pulls.</summary>
    [Fact]
    public Task Read_first_wait_later_is_silent()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Connection
            {
                private readonly EventLoop _loop = new();
                private readonly int _fd;
                private bool _mayHaveMore = true;

                public Connection(int fd)
                {
                    _fd = fd;
                    _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e => _mayHaveMore = true);
                }

                public long TryRead(byte* buf, int length)
                {
                    if (!_mayHaveMore)
                    {
                        return -1;
                    }

                    long n = LibC.read(_fd, buf, length);
                    if (n < 0 && LibC.errno == LibC.EAGAIN)
                    {
                        _mayHaveMore = false;
                    }

                    return n;
                }
            }
            """);

    /// <summary>Reads of other fds inside an edge-triggered handler are not about this registration.</summary>
    [Fact]
    public Task Read_of_another_fd_in_the_handler_is_silent()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();
                private readonly int _timerFd;

                public Server(int timerFd)
                {
                    _timerFd = timerFd;
                }

                public void Add(int fd)
                {
                    _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
                    {
                        byte* buf = stackalloc byte[16];
                        LibC.read(_timerFd, buf, 16);
                        while (LibC.read(e.Fd, buf, 16) > 0)
                        {
                        }
                    });
                }
            }
            """);

    /// <summary>The bounded drain the runtime's TcpConnection uses: a budget of reads, then a posted continuation.</summary>
    [Fact]
    public Task Bounded_drain_with_a_posted_continuation_is_silent()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private const int ReadsPerTurn = 16;
                private readonly EventLoop _loop = new();

                public void Add(int fd)
                {
                    _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e => ReadSome(e.Fd));
                }

                private void ReadSome(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    for (int i = 0; i < ReadsPerTurn; i++)
                    {
                        long n = LibC.read(fd, buf, 4096);
                        if (n <= 0)
                        {
                            return;
                        }
                    }

                    _loop.Post(() => ReadSome(fd));
                }
            }
            """);
}
