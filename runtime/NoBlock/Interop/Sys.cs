using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace NoBlock.Interop;

/// <summary>One readiness record as <c>epoll_wait</c> fills it (packed, 12 bytes on x64, like the kernel's).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct EpollEvent
{
    public uint Events;
    public ulong Data;
}

/// <summary>
/// The only file that calls Tmds.LibC; its epoll calls have one caller, <see cref="EpollSelector"/>. Every method
/// returns the call's result and, when it failed, the <see cref="Errno"/> read immediately after the call (before
/// anything else can overwrite it). Nothing here throws for a failed syscall; callers decide (usually through <see cref="Errno.ToException"/>).
/// </summary>
internal static unsafe class Sys
{
    private static Errno LastErrno() => new(errno);

    // ---- epoll -------------------------------------------------------------------------------------------------

    public static int EpollCreate(out Errno err)
    {
        int fd = epoll_create1(EPOLL_CLOEXEC);
        err = fd < 0 ? LastErrno() : default;
        return fd;
    }

    public enum CtlOp { Add, Modify, Delete }

    public static bool EpollCtl(int epfd, CtlOp op, int fd, uint events, ulong data, out Errno err)
    {
        epoll_event ev = default;
        ev.events = unchecked((int)events);
        ev.data.u64 = data;
        int kop = op switch { CtlOp.Add => EPOLL_CTL_ADD, CtlOp.Modify => EPOLL_CTL_MOD, _ => EPOLL_CTL_DEL };
        int rc = epoll_ctl(epfd, kop, fd, &ev);
        err = rc < 0 ? LastErrno() : default;
        return rc == 0;
    }

    /// <summary>Waits for readiness. Returns the number of events, or -1 with <paramref name="err"/> (EINTR is common).</summary>
    public static int EpollWait(int epfd, EpollEvent* events, int maxEvents, int timeoutMs, out Errno err)
    {
        int n = epoll_wait(epfd, (epoll_event*)events, maxEvents, timeoutMs);
        err = n < 0 ? LastErrno() : default;
        return n;
    }

    // ---- eventfd (the loop's waker) ----------------------------------------------------------------------------

    public static int EventFdCreate(out Errno err)
    {
        int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        err = fd < 0 ? LastErrno() : default;
        return fd;
    }

    /// <summary>Adds 1 to the eventfd counter. EAGAIN (counter saturated) means it is already signalled: fine.</summary>
    public static void EventFdSignal(int fd)
    {
        ulong one = 1;
        write(fd, &one, 8);
    }

    /// <summary>Resets the eventfd counter to 0 (EAGAIN when it already was: fine).</summary>
    public static void EventFdDrain(int fd)
    {
        ulong value;
        read(fd, &value, 8);
    }

    // ---- plain fds ---------------------------------------------------------------------------------------------

    /// <summary>The fd's status flags (<c>fcntl(F_GETFL)</c>), or -1 with <paramref name="err"/> (EBADF: not open).</summary>
    public static int GetStatusFlags(int fd, out Errno err)
    {
        int flags = fcntl(fd, F_GETFL);
        err = flags < 0 ? LastErrno() : default;
        return flags;
    }

    public static bool IsNonBlocking(int statusFlags) => (statusFlags & O_NONBLOCK) != 0;

    public static bool Close(int fd) => close(fd) == 0;

    public static long Write(int fd, byte* buffer, int length, out Errno err)
    {
        long n = write(fd, buffer, length);
        err = n < 0 ? LastErrno() : default;
        return n;
    }

    /// <summary>The calling thread's kernel thread id (what <c>/proc/self/task/&lt;tid&gt;</c> is named by).</summary>
    public static int GetThreadId()
    {
        // Tmds.LibC 0.5.0 has no gettid() and no SYS_gettid constant; the syscall numbers are fixed per architecture.
        int nr = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 186,
            Architecture.Arm64 => 178,
            Architecture.Arm => 224,
            _ => -1,
        };
        return nr < 0 ? -1 : (int)syscall(nr);
    }

    // ---- sockets -----------------------------------------------------------------------------------------------

    public static int SocketTcp(AddressFamily family, out Errno err)
    {
        int domain = family == AddressFamily.InterNetworkV6 ? (int)AF_INET6 : (int)AF_INET;
        int fd = socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        err = fd < 0 ? LastErrno() : default;
        return fd;
    }

    public enum SockOpt { ReuseAddress, ReusePort, ReceiveBuffer, SendBuffer, NoDelay, Error }

    private static (int Level, int Name) Resolve(SockOpt opt) => opt switch
    {
        SockOpt.ReuseAddress => (SOL_SOCKET, SO_REUSEADDR),
        SockOpt.ReusePort => (SOL_SOCKET, SO_REUSEPORT),
        SockOpt.ReceiveBuffer => (SOL_SOCKET, SO_RCVBUF),
        SockOpt.SendBuffer => (SOL_SOCKET, SO_SNDBUF),
        SockOpt.NoDelay => (IPPROTO_TCP, TCP_NODELAY),
        _ => (SOL_SOCKET, SO_ERROR),
    };

    public static bool SetSockOpt(int fd, SockOpt opt, int value, out Errno err)
    {
        var (level, name) = Resolve(opt);
        int rc = setsockopt(fd, level, name, &value, sizeof(int));
        err = rc < 0 ? LastErrno() : default;
        return rc == 0;
    }

    public static bool GetSockOpt(int fd, SockOpt opt, out int value, out Errno err)
    {
        var (level, name) = Resolve(opt);
        int v = 0;
        socklen_t len = sizeof(int);
        int rc = getsockopt(fd, level, name, &v, &len);
        err = rc < 0 ? LastErrno() : default;
        value = v;
        return rc == 0;
    }

    /// <summary>Bytes received and not yet read (<c>FIONREAD</c>, the Recv-Q of <c>ss -tn</c>).</summary>
    public static bool ReceiveQueue(int fd, out int bytes, out Errno err)
    {
        int v = 0;
        int rc = ioctl(fd, FIONREAD, &v);
        err = rc < 0 ? LastErrno() : default;
        bytes = v;
        return rc == 0;
    }

    /// <summary>Bytes sent and not yet acknowledged by the peer (<c>SIOCOUTQ</c>, the Send-Q of <c>ss -tn</c>).</summary>
    public static bool SendQueue(int fd, out int bytes, out Errno err)
    {
        int v = 0;
        int rc = ioctl(fd, TIOCOUTQ, &v); // SIOCOUTQ has the value of TIOCOUTQ (linux/sockios.h)
        err = rc < 0 ? LastErrno() : default;
        bytes = v;
        return rc == 0;
    }

    /// <summary>
    /// Bytes of <c>struct tcp_info</c> read for <see cref="ListenQueue"/>. 104 covers every field up to
    /// <c>tcpi_rcv_space</c> (kernels since 2.6); we only need the two u32 at offsets 24 and 28, and a shorter
    /// buffer is fine: the kernel copies min(len, sizeof) bytes.
    /// </summary>
    private const int TcpInfoBytes = 104;

    /// <summary>Offsets of <c>tcpi_unacked</c> and <c>tcpi_sacked</c> in <c>struct tcp_info</c> (linux/tcp.h: 8 bytes of u8 fields, then u32s).</summary>
    private const int TcpInfoUnackedOffset = 24, TcpInfoSackedOffset = 28;

    /// <summary>
    /// A listening socket's accept queue (<c>getsockopt(TCP_INFO)</c>): on a socket in LISTEN state the kernel
    /// reports the current accept-queue length in <c>tcpi_unacked</c> and the backlog in <c>tcpi_sacked</c> —
    /// the Recv-Q and Send-Q that <c>ss -tln</c> shows for it.
    /// </summary>
    public static bool ListenQueue(int fd, out int queued, out int backlog, out Errno err)
    {
        byte* info = stackalloc byte[TcpInfoBytes];
        new Span<byte>(info, TcpInfoBytes).Clear();
        socklen_t len = TcpInfoBytes;
        int rc = getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, &len);
        err = rc < 0 ? LastErrno() : default;
        queued = rc == 0 ? (int)*(uint*)(info + TcpInfoUnackedOffset) : 0;
        backlog = rc == 0 ? (int)*(uint*)(info + TcpInfoSackedOffset) : 0;
        return rc == 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SockAddrStorage
    {
        public ushort Family;
        public ushort Port;        // network byte order
        public uint FlowOrAddr4;   // IPv4: address; IPv6: flow info
        public fixed byte Addr6[16];
        public uint ScopeId;
        public fixed byte Padding[100];
    }

    private static int Fill(IPEndPoint ep, SockAddrStorage* sa)
    {
        *sa = default;
        sa->Port = (ushort)IPAddress.HostToNetworkOrder((short)ep.Port);
        if (ep.AddressFamily == AddressFamily.InterNetworkV6)
        {
            sa->Family = (ushort)AF_INET6;
            ep.Address.TryWriteBytes(new Span<byte>(sa->Addr6, 16), out _);
            sa->ScopeId = (uint)ep.Address.ScopeId;
            return 28; // sizeof(struct sockaddr_in6)
        }
        sa->Family = (ushort)AF_INET;
        uint addr = 0;
        ep.Address.TryWriteBytes(new Span<byte>(&addr, 4), out _);
        sa->FlowOrAddr4 = addr;
        return 16; // sizeof(struct sockaddr_in)
    }

    private static IPEndPoint? Read(SockAddrStorage* sa)
    {
        int port = (ushort)IPAddress.NetworkToHostOrder((short)sa->Port);
        if (sa->Family == (ushort)AF_INET)
        {
            uint a = sa->FlowOrAddr4;
            return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(&a, 4)), port);
        }
        if (sa->Family == (ushort)AF_INET6)
        {
            return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(sa->Addr6, 16), sa->ScopeId), port);
        }
        return null;
    }

    public static bool Bind(int fd, IPEndPoint ep, out Errno err)
    {
        SockAddrStorage sa;
        int len = Fill(ep, &sa);
        int rc = bind(fd, (sockaddr*)&sa, len);
        err = rc < 0 ? LastErrno() : default;
        return rc == 0;
    }

    public static bool Listen(int fd, int backlog, out Errno err)
    {
        int rc = listen(fd, backlog);
        err = rc < 0 ? LastErrno() : default;
        return rc == 0;
    }

    public static IPEndPoint? GetLocalEndPoint(int fd)
    {
        SockAddrStorage sa;
        socklen_t len = (uint)sizeof(SockAddrStorage);
        return getsockname(fd, (sockaddr*)&sa, &len) == 0 ? Read(&sa) : null;
    }

    /// <summary>Accepts one connection as a non-blocking, close-on-exec socket; -1 with <paramref name="err"/> (EAGAIN: none left).</summary>
    public static int Accept(int listenFd, out Errno err)
    {
        int fd = accept4(listenFd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
        err = fd < 0 ? LastErrno() : default;
        return fd;
    }

    public static long Recv(int fd, byte* buffer, int length, out Errno err)
    {
        long n = recv(fd, buffer, length, 0);
        err = n < 0 ? LastErrno() : default;
        return n;
    }

    /// <summary>send with <c>MSG_NOSIGNAL</c>: a closed peer is EPIPE, never a SIGPIPE that kills the process.</summary>
    public static long Send(int fd, byte* buffer, int length, out Errno err)
    {
        long n = send(fd, buffer, length, MSG_NOSIGNAL);
        err = n < 0 ? LastErrno() : default;
        return n;
    }

    public static bool ShutdownWrite(int fd, out Errno err)
    {
        int rc = shutdown(fd, SHUT_WR);
        err = rc < 0 ? LastErrno() : default;
        return rc == 0;
    }
}
