using Microsoft.CodeAnalysis.CSharp;
using Xunit;
using NoBlock.Analyzers.CodeFixes.Rules;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Tests.Verification;

namespace NoBlock.Analyzers.Tests.Rules;

/// <summary>The NB0003/NB0004 fix: before → after, one fix at a time and Fix All (the test library runs both).</summary>
public sealed class EdgeTriggeredDrainFixerTests
{
    private static Task VerifyAsync(string source, string fixedSource)
    {
        var test = new CodeFixVerifier<EdgeTriggeredDrainAnalyzer, EdgeTriggeredDrainFixer>.Test
        {
            TestCode = source,
            FixedCode = fixedSource,
            CodeActionEquivalenceKey = EdgeTriggeredDrainFixer.EquivalenceKey,
        };
        test.SolutionTransforms.Add((solution, projectId) =>
            solution.WithProjectCompilationOptions(projectId,
                ((CSharpCompilationOptions)solution.GetProject(projectId)!.CompilationOptions!).WithAllowUnsafe(true)));
        return test.RunAsync();
    }

    [Fact]
    public Task Declared_result_and_the_rest_of_the_block_move_into_the_loop()
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
                        else if (n == 0)
                        {
                            LibC.close(e.Fd);
                        }
                    });
                }
            }
            """, """
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
                            var n = LibC.read(e.Fd, buf, 4096);
                            if (n > 0)
                            {
                                LibC.write(e.Fd, buf, (size_t)n);
                            }
                            else if (n == 0)
                            {
                                LibC.close(e.Fd);
                            }

                            if (n <= 0)
                            {
                                break;
                            }
                        }
                    });
                }
            }
            """);

    [Fact]
    public Task Discarded_read_becomes_a_while_greater_than_zero_loop()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd) => _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, OnReadable);

                private void OnReadable(IoEvent e)
                {
                    byte* buf = stackalloc byte[1024];
                    {|NB0003:LibC.recv(e.Fd, buf, 1024, 0)|};
                }
            }
            """, """
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd) => _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, OnReadable);

                private void OnReadable(IoEvent e)
                {
                    byte* buf = stackalloc byte[1024];
                    while (LibC.recv(e.Fd, buf, 1024, 0) > 0)
                    {
                    }
                }
            }
            """);

    [Fact]
    public Task Accept_in_a_raw_dispatch_loop_is_wrapped_and_breaks_on_a_negative_fd()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);
                private readonly int _listenFd;

                public Server(int listenFd)
                {
                    _listenFd = listenFd;
                    Add(listenFd);
                }

                private void Add(int fd)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | LibC.EPOLLET;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                public void Run()
                {
                    epoll_event* events = stackalloc epoll_event[64];
                    while (true)
                    {
                        int n = LibC.epoll_wait(_epfd, events, 64, -1);
                        for (int i = 0; i < n; i++)
                        {
                            if (events[i].data.fd == _listenFd)
                            {
                                int client = {|NB0004:LibC.accept4(_listenFd, null, null, LibC.SOCK_NONBLOCK)|};
                                if (client >= 0)
                                {
                                    Add(client);
                                }
                            }
                        }
                    }
                }
            }
            """, """
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);
                private readonly int _listenFd;

                public Server(int listenFd)
                {
                    _listenFd = listenFd;
                    Add(listenFd);
                }

                private void Add(int fd)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | LibC.EPOLLET;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                public void Run()
                {
                    epoll_event* events = stackalloc epoll_event[64];
                    while (true)
                    {
                        int n = LibC.epoll_wait(_epfd, events, 64, -1);
                        for (int i = 0; i < n; i++)
                        {
                            if (events[i].data.fd == _listenFd)
                            {
                                while (true)
                                {
                                    int client = LibC.accept4(_listenFd, null, null, LibC.SOCK_NONBLOCK);
                                    if (client >= 0)
                                    {
                                        Add(client);
                                    }

                                    if (client < 0)
                                    {
                                        break;
                                    }
                                }
                            }
                        }
                    }
                }
            }
            """);

    /// <summary>Fix All: both handlers of the document are fixed in one go (the test library also checks one by one).</summary>
    [Fact]
    public Task Fix_all_wraps_every_single_read()
        => VerifyAsync("""
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();

                public void AddClient(int fd)
                {
                    _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
                    {
                        byte* buf = stackalloc byte[512];
                        long n;
                        n = {|NB0003:LibC.read(e.Fd, buf, 512)|};
                        Consume(buf, n);
                    });
                }

                public void AddPipe(int fd)
                {
                    _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
                    {
                        byte* buf = stackalloc byte[512];
                        {|NB0003:LibC.read(e.Fd, buf, 512)|};
                    });
                }

                private static void Consume(byte* data, long count) { }
            }
            """, """
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();

                public void AddClient(int fd)
                {
                    _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
                    {
                        byte* buf = stackalloc byte[512];
                        long n;
                        while (true)
                        {
                            n = LibC.read(e.Fd, buf, 512);
                            Consume(buf, n);
                            if (n <= 0)
                            {
                                break;
                            }
                        }
                    });
                }

                public void AddPipe(int fd)
                {
                    _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
                    {
                        byte* buf = stackalloc byte[512];
                        while (LibC.read(e.Fd, buf, 512) > 0)
                        {
                        }
                    });
                }

                private static void Consume(byte* data, long count) { }
            }
            """);

    /// <summary>The rest of the block returns: moving it into a loop would change what it means, so no fix.</summary>
    [Fact]
    public Task No_fix_when_the_rest_of_the_block_returns()
    {
        const string source = """
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();

                public void Add(int fd) => _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, OnReadable);

                private void OnReadable(IoEvent e)
                {
                    byte* buf = stackalloc byte[1024];
                    long n = {|NB0003:LibC.read(e.Fd, buf, 1024)|};
                    if (n <= 0)
                    {
                        return;
                    }

                    Consume(buf, n);
                }

                private static void Consume(byte* data, long count) { }
            }
            """;
        return VerifyAsync(source, source);
    }

    /// <summary>A loop that breaks after success already exists: no fix (the docs show the drain pattern).</summary>
    [Fact]
    public Task No_fix_for_a_loop_that_leaves_after_success()
    {
        const string source = """
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
                            if (n > 0)
                            {
                                break;
                            }

                            if (LibC.errno == LibC.EAGAIN)
                            {
                                break;
                            }
                        }
                    });
                }
            }
            """;
        return VerifyAsync(source, source);
    }

    /// <summary>A discarded accept leaks the fds a loop would accept: no fix.</summary>
    [Fact]
    public Task No_fix_for_a_discarded_accept()
    {
        const string source = """
            using NoBlock;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly EventLoop _loop = new();

                public void Listen(int fd)
                {
                    _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
                    {
                        {|NB0004:LibC.accept(e.Fd, null, null)|};
                    });
                }
            }
            """;
        return VerifyAsync(source, source);
    }
}
