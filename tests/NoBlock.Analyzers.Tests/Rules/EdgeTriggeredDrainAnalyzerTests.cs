using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Testing;
using Xunit;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Tests.Verification;

namespace NoBlock.Analyzers.Tests.Rules;

/// <summary>
/// NB0003/NB0004 through raw epoll (epoll_ctl with EPOLLET, a hand-written epoll_wait dispatch loop). Hits first,
/// then the near-misses that must stay silent.
/// </summary>
public sealed class EdgeTriggeredDrainAnalyzerTests
{
    internal static Task VerifyAsync(string source, params DiagnosticResult[] expected)
    {
        var test = new AnalyzerVerifier<EdgeTriggeredDrainAnalyzer>.Test { TestCode = source };
        test.ExpectedDiagnostics.AddRange(expected);
        test.SolutionTransforms.Add((solution, projectId) =>
            solution.WithProjectCompilationOptions(projectId,
                ((CSharpCompilationOptions)solution.GetProject(projectId)!.CompilationOptions!).WithAllowUnsafe(true)));
        return test.RunAsync();
    }

    // ---- hits ------------------------------------------------------------------------------------------------

    /// <summary>The seed's WRONG example: one read per EPOLLIN event on an EPOLLET fd.</summary>
    [Fact]
    public Task Seed_wrong_example_reads_once_per_event()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);

                public void Add(int fd)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | LibC.EPOLLET;
                    ev.data.fd = fd;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                public void Run()
                {
                    epoll_event* events = stackalloc epoll_event[64];
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        int n = LibC.epoll_wait(_epfd, events, 64, -1);
                        for (int i = 0; i < n; i++)
                        {
                            if ((events[i].events & LibC.EPOLLIN) != 0)
                            {
                                {|NB0003:LibC.read(events[i].data.fd, buf, 4096)|};
                            }
                        }
                    }
                }
            }
            """);

    [Fact]
    public Task Read_once_through_a_local_fd_and_result_is_reported()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);

                public void Add(int fd)
                {
                    var ev = new epoll_event { events = LibC.EPOLLIN | LibC.EPOLLET };
                    ev.data.fd = fd;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                public void Run()
                {
                    epoll_event* events = stackalloc epoll_event[64];
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        int n = LibC.epoll_wait(_epfd, events, 64, -1);
                        for (int i = 0; i < n; i++)
                        {
                            int fd = events[i].data.fd;
                            var r = {|NB0003:LibC.read(fd, buf, 4096)|};
                            if (r > 0)
                            {
                                Process(buf, (int)r);
                            }
                            else if (r == 0)
                            {
                                LibC.close(fd);
                            }
                        }
                    }
                }

                private static void Process(byte* data, int length) { }
            }
            """);

    [Fact]
    public Task Accept_once_per_event_on_an_edge_triggered_listener_is_NB0004()
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
                    ev.data.fd = fd;
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
            """);

    /// <summary>A loop that breaks right after a successful read is not a drain.</summary>
    [Fact]
    public Task Break_after_a_successful_read_is_reported()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);

                public void Add(int fd)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | LibC.EPOLLET;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                public void Run()
                {
                    epoll_event* events = stackalloc epoll_event[64];
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        int n = LibC.epoll_wait(_epfd, events, 64, -1);
                        for (int i = 0; i < n; i++)
                        {
                            int fd = events[i].data.fd;
                            while (true)
                            {
                                ssize_t r = {|NB0003:LibC.read(fd, buf, 4096)|};
                                if (r > 0)
                                {
                                    Process(buf, (int)r);
                                    break;
                                }

                                if (r == 0 || LibC.errno == LibC.EAGAIN)
                                {
                                    break;
                                }
                            }
                        }
                    }
                }

                private static void Process(byte* data, int length) { }
            }
            """);

    /// <summary>The read sits in a method the dispatch loop calls; it returns right after a successful read.</summary>
    [Fact]
    public Task Return_after_a_successful_read_in_a_called_method_is_reported()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);

                public void Add(int fd)
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
                            OnReadable(events[i].data.fd);
                        }
                    }
                }

                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    for (;;)
                    {
                        var r = {|NB0003:LibC.recv(fd, buf, 4096, 0)|};
                        if (r < 0)
                        {
                            if (LibC.errno == LibC.EAGAIN)
                            {
                                return;
                            }

                            LibC.close(fd);
                            return;
                        }

                        Process(buf, (int)r);
                        return;
                    }
                }

                private static void Process(byte* data, int length) { }
            }
            """);

    /// <summary>A drain loop over another fd does not drain the event's fd.</summary>
    [Fact]
    public Task A_drain_loop_over_a_different_fd_does_not_count()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Proxy
            {
                private readonly int _epfd = LibC.epoll_create1(0);
                private readonly int _upstream;

                public Proxy(int upstream)
                {
                    _upstream = upstream;
                }

                public void Add(int fd)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | LibC.EPOLLET;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                public void Run()
                {
                    epoll_event* events = stackalloc epoll_event[64];
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        int n = LibC.epoll_wait(_epfd, events, 64, -1);
                        for (int i = 0; i < n; i++)
                        {
                            int fd = events[i].data.fd;
                            var first = {|NB0003:LibC.read(fd, buf, 4096)|};
                            while (LibC.read(_upstream, buf, 4096) > 0)
                            {
                            }
                        }
                    }
                }
            }
            """);

    /// <summary>
    /// A hand-written binding: the user's own DllImport of libc, struct and a <c>const uint EPOLLET = 0x80000000</c>:
    /// recognised by entry point and by value.
    /// </summary>
    [Fact]
    public Task User_dllimport_binding_with_EPOLLET_by_value_is_recognised()
        => VerifyAsync("""
            using System.Runtime.InteropServices;

            [StructLayout(LayoutKind.Sequential, Pack = 4)]
            struct EpollEvent
            {
                public uint Events;
                public ulong Data;
            }

            static unsafe class Native
            {
                public const uint EPOLLIN = 0x001;
                public const uint EPOLLET = 0x80000000;

                [DllImport("libc", SetLastError = true)]
                public static extern int epoll_ctl(int epfd, int op, int fd, ref EpollEvent ev);

                [DllImport("libc", SetLastError = true)]
                public static extern int epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeout);

                [DllImport("libc", EntryPoint = "read", SetLastError = true)]
                public static extern nint Read(int fd, byte* buf, nuint count);
            }

            unsafe class Server
            {
                private readonly int _epfd;

                public Server(int epfd)
                {
                    _epfd = epfd;
                }

                public void Add(int fd)
                {
                    var ev = new EpollEvent { Events = Native.EPOLLIN | Native.EPOLLET, Data = (ulong)fd };
                    Native.epoll_ctl(_epfd, 1, fd, ref ev);
                }

                public void Run()
                {
                    EpollEvent* events = stackalloc EpollEvent[64];
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        int n = Native.epoll_wait(_epfd, events, 64, -1);
                        for (int i = 0; i < n; i++)
                        {
                            int fd = (int)events[i].Data;
                            nint r = {|NB0003:Native.Read(fd, buf, 4096)|};
                            if (r <= 0)
                            {
                                continue;
                            }
                        }
                    }
                }
            }
            """);

    /// <summary>[LibraryImport] bindings under managed names (EntryPoint), readv included.</summary>
    [Fact]
    public Task User_libraryimport_binding_with_entry_points_is_recognised()
        => VerifyAsync("""
            using System.Runtime.InteropServices;

            struct EpollEvent
            {
                public uint events;
                public ulong data;
            }

            unsafe struct IoVec
            {
                public void* Base;
                public nuint Length;
            }

            unsafe partial class Server
            {
                private const uint EPOLLIN = 0x001;
                private const uint EPOLLET = 1u << 31;

                [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
                private static partial int EpollCtl(int epfd, int op, int fd, EpollEvent* ev);

                [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
                private static partial int EpollWait(int epfd, EpollEvent* events, int maxevents, int timeout);

                [LibraryImport("libc", EntryPoint = "readv", SetLastError = true)]
                private static partial nint ReadV(int fd, IoVec* iov, int iovcnt);

                // What the LibraryImport generator would emit; written by hand so the snippet compiles without it.
                private static partial int EpollCtl(int epfd, int op, int fd, EpollEvent* ev) => 0;
                private static partial int EpollWait(int epfd, EpollEvent* events, int maxevents, int timeout) => 0;
                private static partial nint ReadV(int fd, IoVec* iov, int iovcnt) => 0;

                private readonly int _epfd;

                public Server(int epfd)
                {
                    _epfd = epfd;
                }

                public void Add(int fd)
                {
                    EpollEvent ev;
                    ev.events = EPOLLIN | EPOLLET;
                    ev.data = (ulong)fd;
                    EpollCtl(_epfd, 1, fd, &ev);
                }

                public void Run()
                {
                    EpollEvent* events = stackalloc EpollEvent[16];
                    byte* buf = stackalloc byte[256];
                    var iov = new IoVec { Base = buf, Length = 256 };
                    while (true)
                    {
                        int n = EpollWait(_epfd, events, 16, -1);
                        for (int i = 0; i < n; i++)
                        {
                            {|NB0003:ReadV((int)events[i].data, &iov, 1)|};
                        }
                    }
                }
            }
            """);

    /// <summary>A user enum (<c>EPOLL_EVENTS.ET = 1u &lt;&lt; 31</c>) combined through a local.</summary>
    [Fact]
    public Task User_enum_flag_through_a_local_is_recognised()
        => VerifyAsync("""
            using System;
            using System.Runtime.InteropServices;

            [Flags]
            enum EPOLL_EVENTS : uint
            {
                IN = 0x001,
                RDHUP = 0x2000,
                ET = 1u << 31,
            }

            struct EpollEvent
            {
                public EPOLL_EVENTS events;
                public ulong data;
            }

            unsafe class Server
            {
                [DllImport("libc.so.6")]
                private static extern int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);

                [DllImport("libc.so.6")]
                private static extern int epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeout);

                [DllImport("libc.so.6")]
                private static extern nint recv(int fd, byte* buf, nuint len, int flags);

                private readonly int _epfd;

                public Server(int epfd)
                {
                    _epfd = epfd;
                }

                public void Add(int fd)
                {
                    var flags = EPOLL_EVENTS.IN | EPOLL_EVENTS.RDHUP;
                    flags |= EPOLL_EVENTS.ET;
                    EpollEvent ev;
                    ev.events = flags;
                    ev.data = (ulong)fd;
                    epoll_ctl(_epfd, 1, fd, &ev);
                }

                public void Run()
                {
                    EpollEvent* events = stackalloc EpollEvent[16];
                    byte* buf = stackalloc byte[1024];
                    while (true)
                    {
                        int n = epoll_wait(_epfd, events, 16, -1);
                        for (int i = 0; i < n; i++)
                        {
                            {|NB0003:recv((int)events[i].data, buf, 1024, 0)|};
                        }
                    }
                }
            }
            """);

    /// <summary>Flags that are not constants in a binding class of their own: a static readonly field and a property.</summary>
    [Fact]
    public Task Static_readonly_and_property_flags_of_another_class_are_recognised_by_name()
        => VerifyAsync("""
            using Tmds.Linux;

            static class Epoll
            {
                public static readonly int In = 0x001;
                public static readonly int EdgeTriggered = unchecked((int)0x80000000);
                public static int EPOLLRDHUP => 0x2000;
            }

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);

                public void Add(int fd)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | Epoll.EPOLLRDHUP | Epoll.EdgeTriggered;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                public void Run()
                {
                    epoll_event* events = stackalloc epoll_event[64];
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        int n = LibC.epoll_wait(_epfd, events, 64, -1);
                        for (int i = 0; i < n; i++)
                        {
                            {|NB0003:LibC.read(events[i].data.fd, buf, 4096)|};
                        }
                    }
                }
            }
            """);

    /// <summary>EPOLLET written as <c>1u &lt;&lt; 31</c> inline, in a Mono.Posix-style binding (<c>Mono.Unix.Native.Syscall</c>).</summary>
    [Fact]
    public Task Mono_posix_style_binding_with_inline_shift_is_recognised()
        => VerifyAsync("""
            using Mono.Unix.Native;

            namespace Mono.Unix.Native
            {
                public enum EpollOp { EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3 }

                [System.Flags]
                public enum EpollEvents : uint { EPOLLIN = 1 }

                public struct EpollEvent
                {
                    public EpollEvents events;
                    public int fd;
                }

                public static unsafe class Syscall
                {
                    public static int epoll_ctl(int epfd, EpollOp op, int fd, EpollEvents events) => 0;
                    public static int epoll_wait(int epfd, EpollEvent[] events, int max_events, int timeout) => 0;
                    public static long read(int fd, byte[] buf, ulong count) => 0;
                }
            }

            class Server
            {
                private readonly int _epfd;

                public Server(int epfd)
                {
                    _epfd = epfd;
                }

                public void Add(int fd)
                {
                    Syscall.epoll_ctl(_epfd, EpollOp.EPOLL_CTL_ADD, fd, EpollEvents.EPOLLIN | (EpollEvents)(1u << 31));
                }

                public void Run()
                {
                    var events = new EpollEvent[64];
                    var buf = new byte[4096];
                    while (true)
                    {
                        int n = Syscall.epoll_wait(_epfd, events, events.Length, -1);
                        foreach (var ev in events)
                        {
                            long r = {|NB0003:Syscall.read(ev.fd, buf, (ulong)buf.Length)|};
                            if (r > 0)
                            {
                                Handle(buf, r);
                            }
                        }
                    }
                }

                private static void Handle(byte[] data, long count) { }
            }
            """);

    /// <summary>The dispatch loop hands the fd to a connection object of another class, which reads once.</summary>
    [Fact]
    public Task Connection_class_called_with_the_events_fd_is_followed()
        => VerifyAsync("""
            using System.Collections.Generic;
            using Tmds.Linux;

            unsafe class Connection
            {
                public void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    long n = {|NB0003:LibC.read(fd, buf, 4096)|};
                    if (n == 0)
                    {
                        LibC.close(fd);
                    }
                }
            }

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);
                private readonly Dictionary<int, Connection> _connections = new();

                public void Add(int fd)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | LibC.EPOLLET;
                    ev.data.fd = fd;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                    _connections[fd] = new Connection();
                }

                public void Run()
                {
                    epoll_event* events = stackalloc epoll_event[64];
                    while (true)
                    {
                        int n = LibC.epoll_wait(_epfd, events, 64, -1);
                        for (int i = 0; i < n; i++)
                        {
                            int fd = events[i].data.fd;
                            _connections[fd].OnReadable(fd);
                        }
                    }
                }
            }
            """);

    /// <summary>The wait sits in a "poll once" method; the loop is its caller's.</summary>
    [Fact]
    public Task Poll_once_method_with_the_loop_in_its_caller_is_covered()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Reactor
            {
                private const int Edge = unchecked((int)0x80000000);
                private readonly int _epfd = LibC.epoll_create1(0);
                private readonly epoll_event[] _events = new epoll_event[64];
                private bool _running = true;

                public void Watch(int fd)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | Edge;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                private int PollOnce()
                {
                    fixed (epoll_event* events = _events)
                    {
                        return LibC.epoll_wait(_epfd, events, _events.Length, 100);
                    }
                }

                public void Run()
                {
                    byte* buf = stackalloc byte[512];
                    while (_running)
                    {
                        int n = PollOnce();
                        for (int i = 0; i < n; i++)
                        {
                            {|NB0003:LibC.read(_events[i].data.fd, buf, 512)|};
                        }
                    }
                }
            }
            """);

    /// <summary>The control for the drain shapes below: the same server, a single read in the handler.</summary>
    [Fact]
    public Task Single_read_in_the_handler_the_dispatch_loop_calls_is_reported()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    var n = {|NB0003:LibC.read(fd, buf, 4096)|};
                    if (n > 0)
                    {
                        Process(buf, n);
                    }
                }
            """);

    [Fact]
    public Task Single_recvfrom_and_recvmsg_are_reported()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[512];
                    msghdr msg = default;
                    if (fd % 2 == 0)
                    {
                        {|NB0003:LibC.recvfrom(fd, buf, 512, 0, null, null)|};
                    }
                    else
                    {
                        {|NB0003:LibC.recvmsg(fd, &msg, 0)|};
                    }
                }
            """);

    /// <summary>The message says what will happen and how to fix it.</summary>
    [Fact]
    public Task Read_message_names_the_call_the_fd_the_consequence_and_the_fix()
        => VerifyHandlerAsync(
            """
                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    {|#0:LibC.read(fd, buf, 4096)|};
                }
            """,
            new DiagnosticResult(EdgeTriggeredDrainAnalyzer.ReadNotDrained)
                .WithLocation(0)
                .WithMessage("LibC.read reads edge-triggered fd 'fd' once per readiness event: the rest of the data stays in the socket buffer and epoll will not report this fd again; keep reading in a loop until it fails with EAGAIN/EWOULDBLOCK (or returns 0 at end of stream)"));

    [Fact]
    public Task Accept_message_after_a_break_says_it_leaves_its_loop()
        => VerifyHandlerAsync(
            """
                private void OnReadable(int fd)
                {
                    while (true)
                    {
                        int client = {|#0:LibC.accept(fd, null, null)|};
                        if (client >= 0)
                        {
                            Add(client);
                        }

                        break;
                    }
                }
            """,
            new DiagnosticResult(EdgeTriggeredDrainAnalyzer.AcceptNotDrained)
                .WithLocation(0)
                .WithMessage("LibC.accept accepts on edge-triggered listening fd 'fd' but leaves its loop after a successful accept: the other pending connections stay in the accept queue and epoll will not report this fd again; keep accepting in a loop until it fails with EAGAIN/EWOULDBLOCK"));

    [Fact]
    public Task Single_read_inside_fixed_and_try_finally_is_reported()
        => VerifyHandlerAsync("""
                private readonly byte[] _buffer = new byte[4096];

                private void OnReadable(int fd)
                {
                    try
                    {
                        fixed (byte* buf = _buffer)
                        {
                            long n = {|NB0003:LibC.read(fd, buf, _buffer.Length)|};
                            Process(buf, n);
                        }
                    }
                    finally
                    {
                        System.Console.WriteLine("done");
                    }
                }
            """);

    [Fact]
    public Task Drain_inside_try_finally_and_using_is_silent()
        => VerifyHandlerAsync("""
                private readonly byte[] _buffer = new byte[4096];

                private void OnReadable(int fd)
                {
                    using var scope = new System.IO.MemoryStream();
                    fixed (byte* buf = _buffer)
                    {
                        while (true)
                        {
                            try
                            {
                                long n = LibC.read(fd, buf, _buffer.Length);
                                if (n <= 0)
                                {
                                    break;
                                }

                                Process(buf, n);
                            }
                            finally
                            {
                                scope.Position = 0;
                            }
                        }
                    }
                }
            """);

    /// <summary>A header read once, then the body drained on the same fd: the next read on the fd follows on every path.</summary>
    [Fact]
    public Task Header_read_followed_by_a_drain_of_the_same_fd_is_silent()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    byte* header = stackalloc byte[4];
                    byte* body = stackalloc byte[4096];
                    LibC.recv(fd, header, 4, 0);
                    long n;
                    while ((n = LibC.recv(fd, body, 4096, 0)) > 0)
                    {
                        Process(body, n);
                    }
                }
            """);

    /// <summary>
    /// Thirty independent branches before the read: the walk follows only the locals that matter for the fd, so
    /// it does not explode (2^30 paths) and still judges the read.
    /// </summary>
    [Fact]
    public Task Handler_with_many_independent_branches_is_still_judged()
    {
        var branches = string.Concat(Enumerable.Range(0, 30).Select(k =>
            $"        long v{k} = 0;\n        if (Next() > {k}) {{ v{k} = Next(); }}\n"));
        return VerifyHandlerAsync(
            "    private static long Next() => 42;\n\n    private void OnReadable(int fd)\n    {\n" +
            "        byte* buf = stackalloc byte[64];\n" +
            "        {|NB0003:LibC.read(fd, buf, 64)|};\n" +
            branches +
            "    }\n");
    }

    /// <summary>A partial type: the registration in one file, the dispatch loop in another.</summary>
    [Fact]
    public Task Registration_and_dispatch_loop_in_two_files_of_a_partial_type()
    {
        var test = new AnalyzerVerifier<EdgeTriggeredDrainAnalyzer>.Test();
        test.TestState.Sources.Add(("/0/Server.Registration.cs", """
            using Tmds.Linux;

            unsafe partial class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);

                public void Add(int fd)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | LibC.EPOLLET;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }
            }
            """));
        test.TestState.Sources.Add(("/0/Server.Loop.cs", """
            using Tmds.Linux;

            unsafe partial class Server
            {
                public void Run()
                {
                    epoll_event* events = stackalloc epoll_event[64];
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        int n = LibC.epoll_wait(_epfd, events, 64, -1);
                        for (int i = 0; i < n; i++)
                        {
                            {|NB0003:LibC.read(events[i].data.fd, buf, 4096)|};
                        }
                    }
                }
            }
            """));
        test.SolutionTransforms.Add((solution, projectId) =>
            solution.WithProjectCompilationOptions(projectId,
                ((CSharpCompilationOptions)solution.GetProject(projectId)!.CompilationOptions!).WithAllowUnsafe(true)));
        return test.RunAsync();
    }

    /// <summary>Code being typed (missing arguments, unknown names) is not judged and does not make the analyzer fail.</summary>
    [Fact]
    public Task Broken_code_while_typing_is_silent_and_does_not_fail()
    {
        var test = new AnalyzerVerifier<EdgeTriggeredDrainAnalyzer>.Test
        {
            TestCode = """
                using NoBlock;
                using Tmds.Linux;

                unsafe class Server
                {
                    private readonly int _epfd = LibC.epoll_create1(0);
                    private readonly EventLoop _loop = new();

                    public void Add(int fd)
                    {
                        epoll_event ev = default;
                        ev.events = LibC.EPOLLIN | LibC.EPOLLET | Unknown.Flag;
                        LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd);
                        _loop.Register(fd, IoEvents.Readable | IoEvents.EdgeTriggered, e => { LibC.read(e.Fd, ); });
                        _loop.Register(fd, IoEvents.EdgeTriggered, NoSuchMethod);
                    }

                    public void Run()
                    {
                        epoll_event* events = stackalloc epoll_event[64];
                        while (true)
                        {
                            int n = LibC.epoll_wait(_epfd, events, 64);
                            for (int i = 0; i < n; i++)
                            {
                                var r = LibC.read(events[i].data.fd, null);
                                if (r > missing) break;
                            }
                        }
                    }
                }
                """,
            CompilerDiagnostics = CompilerDiagnostics.None,
        };
        test.SolutionTransforms.Add((solution, projectId) =>
            solution.WithProjectCompilationOptions(projectId,
                ((CSharpCompilationOptions)solution.GetProject(projectId)!.CompilationOptions!).WithAllowUnsafe(true)));
        return test.RunAsync();
    }

    /// <summary>The failure guard: an exception inside the analysis is NB9002 at the analyzed code, never AD0001.</summary>
    [Fact]
    public void Analyzer_failure_is_reported_with_its_location_instead_of_thrown()
    {
        var tree = CSharpSyntaxTree.ParseText("class C { void M() { } }", path: "/0/Test0.cs");
        var location = tree.GetRoot().DescendantNodes().OfType<Microsoft.CodeAnalysis.CSharp.Syntax.MethodDeclarationSyntax>().Single().GetLocation();
        var reported = new List<Diagnostic>();

        AnalyzerFailure.Guard(EdgeTriggeredDrainAnalyzer.AnalysisName, location, reported.Add, () => throw new InvalidCastException("boom"));

        var diagnostic = Assert.Single(reported);
        Assert.Equal("NB9002", diagnostic.Id);
        Assert.Equal(location, diagnostic.Location);
        Assert.Contains("InvalidCastException: boom", diagnostic.GetMessage(), StringComparison.Ordinal);
        Assert.Throws<OperationCanceledException>(() => AnalyzerFailure.Guard(EdgeTriggeredDrainAnalyzer.AnalysisName, location, reported.Add, () => throw new OperationCanceledException()));
    }

    // ---- hits: the drain shapes below, each turned wrong -------------------------------------------------------

    [Fact]
    public Task Do_while_that_loops_only_on_failure_is_reported()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    long n;
                    do
                    {
                        n = {|NB0003:LibC.read(fd, buf, 4096)|};
                        if (n > 0)
                        {
                            Process(buf, n);
                        }
                    }
                    while (n < 0);
                }
            """);

    [Fact]
    public Task Continue_on_failure_and_break_on_success_is_reported()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        var n = {|NB0003:LibC.read(fd, buf, 4096)|};
                        if (n > 0)
                        {
                            Process(buf, n);
                            break;
                        }

                        continue;
                    }
                }
            """);

    [Fact]
    public Task Return_after_processing_with_errno_from_GetLastPInvokeError_is_reported()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        long n = {|NB0003:LibC.read(fd, buf, 4096)|};
                        if (n == -1)
                        {
                            int err = Marshal.GetLastPInvokeError();
                            if (err == 11)
                            {
                                return;
                            }

                            throw new System.InvalidOperationException("read failed: " + err);
                        }

                        if (n == 0)
                        {
                            return;
                        }

                        Process(buf, n);
                        return;
                    }
                }
            """);

    /// <summary>Breaking on a full read (the opposite of the short-read rule) leaves data behind.</summary>
    [Fact]
    public Task Break_on_a_full_read_is_reported()
        => VerifyHandlerAsync("""
                private readonly byte[] _buffer = new byte[8192];

                private void OnReadable(int fd)
                {
                    fixed (byte* buf = _buffer)
                    {
                        while (true)
                        {
                            long n = {|NB0003:LibC.read(fd, buf, _buffer.Length)|};
                            if (n <= 0)
                            {
                                break;
                            }

                            Process(buf, n);
                            if (n == _buffer.Length)
                            {
                                break;
                            }
                        }
                    }
                }
            """);

    [Fact]
    public Task Is_pattern_break_on_success_is_reported()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        long n = {|NB0003:LibC.read(fd, buf, 4096)|};
                        if (n is > 0)
                        {
                            break;
                        }
                    }
                }
            """);

    /// <summary>foreach over a span of the events buffer: moving to the next event is leaving.</summary>
    [Fact]
    public Task Foreach_over_a_span_of_the_events_buffer_is_covered()
        => VerifyAsync("""
            using System;
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);

                public void Add(int fd)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | LibC.EPOLLET;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                public void Run()
                {
                    var events = new epoll_event[8];
                    byte* buf = stackalloc byte[16];
                    while (true)
                    {
                        int n;
                        fixed (epoll_event* p = events)
                        {
                            n = LibC.epoll_wait(_epfd, p, events.Length, -1);
                        }

                        foreach (ref var ev in events.AsSpan(0, n))
                        {
                            {|NB0003:LibC.read(ev.data.fd, buf, 16)|};
                        }
                    }
                }
            }
            """);

    [Fact]
    public Task Foreach_over_the_events_array_with_a_drain_inside_is_silent()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);

                public void Add(int fd)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | LibC.EPOLLET;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                public void Run()
                {
                    var events = new epoll_event[8];
                    byte* buf = stackalloc byte[16];
                    while (true)
                    {
                        fixed (epoll_event* p = events)
                        {
                            LibC.epoll_wait(_epfd, p, events.Length, -1);
                        }

                        foreach (var ev in events)
                        {
                            while (LibC.read(ev.data.fd, buf, 16) > 0)
                            {
                            }
                        }
                    }
                }
            }
            """);

    // ---- near-misses: every drain shape stays silent ---------------------------------------------------------

    /// <summary>The seed's CORRECT example: loop until EAGAIN, close on EOF.</summary>
    [Fact]
    public Task Seed_correct_example_is_silent()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);

                public void Add(int fd)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | LibC.EPOLLET;
                    ev.data.fd = fd;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                public void Run()
                {
                    epoll_event* events = stackalloc epoll_event[64];
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        int n = LibC.epoll_wait(_epfd, events, 64, -1);
                        for (int i = 0; i < n; i++)
                        {
                            int fd = events[i].data.fd;
                            if ((events[i].events & LibC.EPOLLIN) != 0)
                            {
                                while (true)
                                {
                                    ssize_t r = LibC.read(fd, buf, 4096);
                                    if (r == -1)
                                    {
                                        if (LibC.errno == LibC.EAGAIN)
                                        {
                                            break;
                                        }

                                        LibC.close(fd);
                                        break;
                                    }

                                    if (r == 0)
                                    {
                                        LibC.close(fd);
                                        break;
                                    }

                                    Process(buf, (int)r);
                                }
                            }
                        }
                    }
                }

                private static void Process(byte* data, int length) { }
            }
            """);

    private const string EdgeServerPrefix = """
        using System.Runtime.InteropServices;
        using Tmds.Linux;

        unsafe partial class Server
        {
            private readonly int _epfd = LibC.epoll_create1(0);

            public void Add(int fd)
            {
                epoll_event ev = default;
                ev.events = LibC.EPOLLIN | LibC.EPOLLET;
                ev.data.fd = fd;
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
                        OnReadable(events[i].data.fd);
                    }
                }
            }

            private static void Process(byte* data, long length) { }

        """;

    /// <summary>Wraps an <c>OnReadable(int fd)</c> body in an edge-triggered server whose dispatch loop calls it.</summary>
    private static Task VerifyHandlerAsync(string onReadable, params DiagnosticResult[] expected) => VerifyAsync(EdgeServerPrefix + onReadable + "\n}\n", expected);

    [Fact]
    public Task While_assign_read_greater_than_zero_is_a_drain()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    ssize_t n;
                    while ((n = LibC.read(fd, buf, 4096)) > 0)
                    {
                        Process(buf, n);
                    }
                }
            """);

    [Fact]
    public Task Do_while_result_positive_is_a_drain()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    long n;
                    do
                    {
                        n = LibC.read(fd, buf, 4096);
                        if (n > 0)
                        {
                            Process(buf, n);
                        }
                    }
                    while (n > 0);
                }
            """);

    [Fact]
    public Task For_ever_with_EAGAIN_break_is_a_drain()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    for (;;)
                    {
                        long n = LibC.recv(fd, buf, 4096, 0);
                        if (n < 0 && (LibC.errno == LibC.EAGAIN || LibC.errno == LibC.EWOULDBLOCK))
                        {
                            break;
                        }

                        if (n <= 0)
                        {
                            LibC.close(fd);
                            break;
                        }

                        Process(buf, n);
                    }
                }
            """);

    [Fact]
    public Task While_true_with_continue_after_success_is_a_drain()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        var n = LibC.read(fd, buf, 4096);
                        if (n > 0)
                        {
                            Process(buf, n);
                            continue;
                        }

                        break;
                    }
                }
            """);

    [Fact]
    public Task Short_read_break_is_a_drain()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    byte[] buffer = new byte[8192];
                    fixed (byte* buf = buffer)
                    {
                        while (true)
                        {
                            long n = LibC.read(fd, buf, buffer.Length);
                            if (n <= 0)
                            {
                                break;
                            }

                            Process(buf, n);
                            if (n < buffer.Length)
                            {
                                break; // a short read: the socket buffer is empty
                            }
                        }
                    }
                }
            """);

    [Fact]
    public Task Errno_from_GetLastPInvokeError_in_a_local_is_understood()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        long n = LibC.read(fd, buf, 4096);
                        if (n == -1)
                        {
                            int err = Marshal.GetLastPInvokeError();
                            if (err == 11)
                            {
                                return;
                            }

                            throw new System.InvalidOperationException("read failed: " + err);
                        }

                        if (n == 0)
                        {
                            return;
                        }

                        Process(buf, n);
                    }
                }
            """);

    /// <summary>errno through Marshal.GetLastWin32Error compared with the user's own EWOULDBLOCK constant.</summary>
    [Fact]
    public Task Errno_from_GetLastWin32Error_and_a_user_constant_is_understood()
        => VerifyHandlerAsync("""
                private const int EWOULDBLOCK = 11;

                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        long n = LibC.recv(fd, buf, 4096, 0);
                        if (n < 0)
                        {
                            if (Marshal.GetLastWin32Error() == EWOULDBLOCK)
                            {
                                break;
                            }

                            LibC.close(fd);
                            return;
                        }

                        if (n == 0)
                        {
                            return;
                        }

                        Process(buf, n);
                    }
                }
            """);

    /// <summary>
    /// Known limitation, pinned: registrations are followed within one type, so a dispatch loop in a nested type
    /// does not see its container's EPOLLET registrations.
    /// </summary>
    [Fact]
    public Task Dispatch_loop_in_a_nested_type_is_not_followed()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);

                public void Add(int fd)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | LibC.EPOLLET;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                private sealed class Loop
                {
                    public void Run(int epfd)
                    {
                        epoll_event* events = stackalloc epoll_event[64];
                        byte* buf = stackalloc byte[4096];
                        while (true)
                        {
                            int n = LibC.epoll_wait(epfd, events, 64, -1);
                            for (int i = 0; i < n; i++)
                            {
                                LibC.read(events[i].data.fd, buf, 4096);
                            }
                        }
                    }
                }
            }
            """);

    [Fact]
    public Task Is_pattern_on_the_result_is_understood()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        long n = LibC.read(fd, buf, 4096);
                        if (n is <= 0)
                        {
                            break;
                        }

                        Process(buf, n);
                    }
                }
            """);

    /// <summary>A leave behind a condition that does not depend on the read (the application closed the connection).</summary>
    [Fact]
    public Task Leaving_on_an_unrelated_condition_is_the_programs_business()
        => VerifyHandlerAsync("""
                private bool _closed;

                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    while (!_closed)
                    {
                        long n = LibC.read(fd, buf, 4096);
                        if (n <= 0)
                        {
                            break;
                        }

                        Process(buf, n);
                    }
                }
            """);

    [Fact]
    public Task Accept_loop_until_EAGAIN_is_a_drain()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    while (true)
                    {
                        int client = LibC.accept4(fd, null, null, LibC.SOCK_NONBLOCK);
                        if (client < 0)
                        {
                            if (LibC.errno == LibC.EAGAIN)
                            {
                                break;
                            }

                            break;
                        }

                        Add(client);
                    }
                }
            """);

    /// <summary>eventfd/timerfd: one 8-byte read consumes the whole counter.</summary>
    [Fact]
    public Task Eight_byte_counter_read_is_silent()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    ulong value;
                    LibC.read(fd, &value, sizeof(ulong));
                }
            """);

    // ---- near-misses: not edge-triggered, or another correct design ------------------------------------------

    [Fact]
    public Task Level_triggered_single_read_is_silent()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);

                public void Add(int fd)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | LibC.EPOLLRDHUP;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                public void Run()
                {
                    epoll_event* events = stackalloc epoll_event[64];
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        int n = LibC.epoll_wait(_epfd, events, 64, -1);
                        for (int i = 0; i < n; i++)
                        {
                            LibC.read(events[i].data.fd, buf, 4096);
                        }
                    }
                }
            }
            """);

    /// <summary>Listener level-triggered, clients edge-triggered: we cannot tell the fds apart, so we say nothing.</summary>
    [Fact]
    public Task Mixed_edge_and_level_registrations_are_silent()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);

                public void AddListener(int fd)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                public void AddClient(int fd)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | LibC.EPOLLET;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                public void Run(int listenFd)
                {
                    epoll_event* events = stackalloc epoll_event[64];
                    while (true)
                    {
                        int n = LibC.epoll_wait(_epfd, events, 64, -1);
                        for (int i = 0; i < n; i++)
                        {
                            int client = LibC.accept4(listenFd, null, null, LibC.SOCK_NONBLOCK);
                            AddClient(client);
                        }
                    }
                }
            }
            """);

    /// <summary>EPOLLONESHOT re-armed with EPOLL_CTL_MOD: the re-arm re-checks readiness, one read per event is fine.</summary>
    [Fact]
    public Task One_shot_rearmed_with_ctl_mod_is_silent()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);

                public void Add(int fd) => Arm(fd, LibC.EPOLL_CTL_ADD);

                private void Arm(int fd, int op)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | LibC.EPOLLET | LibC.EPOLLONESHOT;
                    ev.data.fd = fd;
                    LibC.epoll_ctl(_epfd, op, fd, &ev);
                }

                public void Run()
                {
                    epoll_event* events = stackalloc epoll_event[64];
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        int n = LibC.epoll_wait(_epfd, events, 64, -1);
                        for (int i = 0; i < n; i++)
                        {
                            int fd = events[i].data.fd;
                            LibC.read(fd, buf, 4096);
                            Arm(fd, LibC.EPOLL_CTL_MOD);
                        }
                    }
                }
            }
            """);

    /// <summary>Edge-triggered without one-shot, re-armed with EPOLL_CTL_MOD on the same fd after the read.</summary>
    [Fact]
    public Task Rearm_with_ctl_mod_on_the_same_fd_after_one_read_is_silent()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);

                public void Add(int fd) => Ctl(fd, LibC.EPOLL_CTL_ADD);

                private void Ctl(int fd, int op)
                {
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | LibC.EPOLLET;
                    ev.data.fd = fd;
                    LibC.epoll_ctl(_epfd, op, fd, &ev);
                }

                public void Run()
                {
                    epoll_event* events = stackalloc epoll_event[64];
                    epoll_event rearm = default;
                    rearm.events = LibC.EPOLLIN | LibC.EPOLLET;
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        int n = LibC.epoll_wait(_epfd, events, 64, -1);
                        for (int i = 0; i < n; i++)
                        {
                            int fd = events[i].data.fd;
                            LibC.read(fd, buf, 4096);
                            rearm.data.fd = fd;
                            LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_MOD, fd, &rearm);
                        }
                    }
                }
            }
            """);

    /// <summary>Read first, wait later: a "may have more" flag cleared only on EAGAIN; the application pulls.</summary>
    [Fact]
    public Task Read_first_wait_later_with_a_may_have_more_flag_is_silent()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Connection
            {
                private readonly int _epfd = LibC.epoll_create1(0);
                private readonly int _fd;
                private bool _mayHaveMore = true;

                public Connection(int fd)
                {
                    _fd = fd;
                    epoll_event ev = default;
                    ev.events = LibC.EPOLLIN | LibC.EPOLLET;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                public void Run()
                {
                    epoll_event* events = stackalloc epoll_event[1];
                    while (true)
                    {
                        if (!_mayHaveMore)
                        {
                            LibC.epoll_wait(_epfd, events, 1, -1);
                            _mayHaveMore = true;
                        }

                        ReadSome();
                    }
                }

                private long ReadSome()
                {
                    byte* buf = stackalloc byte[4096];
                    long n = LibC.read(_fd, buf, 4096);
                    if (n < 0 && LibC.errno == LibC.EAGAIN)
                    {
                        _mayHaveMore = false;
                    }

                    return n;
                }
            }
            """);

    /// <summary>A read in a method the dispatch loop never calls is not event-loop code.</summary>
    [Fact]
    public Task Read_outside_the_dispatch_loop_is_silent()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);

                public void Add(int fd)
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
                            Drain(events[i].data.fd);
                        }
                    }
                }

                private void Drain(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    while (LibC.read(fd, buf, 4096) > 0)
                    {
                    }
                }

                public long ReadHandshake(int configFd)
                {
                    byte* buf = stackalloc byte[64];
                    return LibC.read(configFd, buf, 64);
                }
            }
            """);

    /// <summary>A read of an fd that does not come from the event (a file the handler consults) is not judged.</summary>
    [Fact]
    public Task Read_of_an_fd_that_is_not_the_events_is_silent()
        => VerifyHandlerAsync("""
                private int _configFd;

                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    LibC.read(_configFd, buf, 4096);
                    while (LibC.read(fd, buf, 4096) > 0)
                    {
                    }
                }
            """);

    /// <summary>The handler calls a one-read helper in a loop of its own: the loop may be the drain.</summary>
    [Fact]
    public Task One_read_helper_called_in_a_loop_by_the_handler_is_silent()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    while (ReadChunk(fd))
                    {
                    }
                }

                private bool ReadChunk(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    long n = LibC.read(fd, buf, 4096);
                    if (n <= 0)
                    {
                        return false;
                    }

                    Process(buf, n);
                    return true;
                }
            """);

    /// <summary>A one-byte "would it block?" probe after a drain loop: the fd was already drained on every path.</summary>
    [Fact]
    public Task Probe_after_a_drain_of_the_same_fd_is_silent()
        => VerifyHandlerAsync("""
                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    while (LibC.read(fd, buf, 4096) > 0)
                    {
                    }

                    byte probe;
                    long n = LibC.read(fd, &probe, 1);
                    System.Diagnostics.Debug.Assert(n == -1 && LibC.errno == LibC.EAGAIN);
                }
            """);

    /// <summary>The drain happens on one branch only: the read after it is not covered on the other path.</summary>
    [Fact]
    public Task Read_after_a_drain_on_only_one_branch_is_reported()
        => VerifyHandlerAsync("""
                private bool _greedy;

                private void OnReadable(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    if (_greedy)
                    {
                        while (LibC.read(fd, buf, 4096) > 0)
                        {
                        }
                    }

                    long n = {|NB0003:LibC.read(fd, buf, 4096)|};
                    Process(buf, n);
                }
            """);

    /// <summary>A type that never registers anything edge-triggered: a single read is correct (or not ours).</summary>
    [Fact]
    public Task Read_in_a_type_without_epoll_registration_is_silent()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class FileReader
            {
                public long ReadOnce(int fd)
                {
                    byte* buf = stackalloc byte[4096];
                    return LibC.read(fd, buf, 4096);
                }
            }
            """);

    /// <summary>A mask we cannot evaluate (it comes from outside the type): silent.</summary>
    [Fact]
    public Task Unknown_events_mask_is_silent()
        => VerifyAsync("""
            using Tmds.Linux;

            unsafe class Server
            {
                private readonly int _epfd = LibC.epoll_create1(0);

                public void Add(int fd, int mask)
                {
                    epoll_event ev = default;
                    ev.events = mask;
                    LibC.epoll_ctl(_epfd, LibC.EPOLL_CTL_ADD, fd, &ev);
                }

                public void Run()
                {
                    epoll_event* events = stackalloc epoll_event[64];
                    byte* buf = stackalloc byte[4096];
                    while (true)
                    {
                        int n = LibC.epoll_wait(_epfd, events, 64, -1);
                        for (int i = 0; i < n; i++)
                        {
                            LibC.read(events[i].data.fd, buf, 4096);
                        }
                    }
                }
            }
            """);
}
