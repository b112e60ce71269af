using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace NoBlock.Interop;

/// <summary>
/// The io_uring system calls, declared over <c>syscall(2)</c> (Tmds.LibC 0.5.0 has no io_uring wrappers, and
/// NoBlock asks users to install no native library such as liburing), and the ring memory (<c>mmap</c>). Same rules
/// as <see cref="Sys"/>: nothing here throws for a failed call; each returns the result and the <see cref="Errno"/>
/// read immediately after it.
/// </summary>
internal static unsafe class IoUringSys
{
    // Syscall numbers: io_uring came after the table unification, so these are the same on every architecture
    // (arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h: __NR_io_uring_setup 425...).
    private const int SysIoUringSetup = 425, SysIoUringEnter = 426, SysIoUringRegister = 427;

    /// <summary>Where the administrator's switch is (Linux 6.6+; absent before): 0 allowed, 1 only io_uring_group, 2 nobody.</summary>
    internal const string DisabledSysctlPath = "/proc/sys/kernel/io_uring_disabled";

    private static Errno LastErrno() => new(errno);

    /// <summary><c>io_uring_setup(entries, params)</c>: the ring's fd, or -1 with <paramref name="err"/>.</summary>
    public static int Setup(uint entries, IoUringParams* p, out Errno err)
    {
        int fd = (int)syscall(SysIoUringSetup, entries, p);
        err = fd < 0 ? LastErrno() : default;
        return fd;
    }

    /// <summary>
    /// <c>io_uring_enter(fd, to_submit, min_complete, flags, arg, argsz)</c>: submissions consumed, or -1 with
    /// <paramref name="err"/> (ETIME: the wait's timeout passed; EINTR: a signal).
    /// </summary>
    public static int Enter(int ringFd, uint toSubmit, uint minComplete, uint flags, void* arg, nuint argSize, out Errno err)
    {
        int n = (int)syscall(SysIoUringEnter, ringFd, toSubmit, minComplete, flags, arg, (size_t)argSize);
        err = n < 0 ? LastErrno() : default;
        return n;
    }

    /// <summary><c>io_uring_register(fd, opcode, arg, nr_args)</c>: ≥ 0, or -1 with <paramref name="err"/>.</summary>
    public static int Register(int ringFd, uint opcode, void* arg, uint nrArgs, out Errno err)
    {
        int rc = (int)syscall(SysIoUringRegister, ringFd, opcode, arg, nrArgs);
        err = rc < 0 ? LastErrno() : default;
        return rc;
    }

    /// <summary>
    /// Maps one of the ring's regions (<c>MAP_SHARED | MAP_POPULATE</c>, read/write) at an IORING_OFF_* offset:
    /// the kernel and we then read and write the same pages. Null with <paramref name="err"/> on failure.
    /// </summary>
    public static void* MapRing(int ringFd, nuint length, long offset, out Errno err)
    {
        void* p = mmap(null, (size_t)length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ringFd, offset);
        if (p == MAP_FAILED)
        {
            err = LastErrno();
            return null;
        }
        err = default;
        return p;
    }

    /// <summary>Anonymous, page-aligned, zeroed memory (a provided-buffer ring must start on a page).</summary>
    public static void* MapAnonymous(nuint length, out Errno err)
    {
        void* p = mmap(null, (size_t)length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
        {
            err = LastErrno();
            return null;
        }
        err = default;
        return p;
    }

    public static void Unmap(void* address, nuint length)
    {
        if (address != null)
        {
            munmap(address, (size_t)length);
        }
    }

    /// <summary>A connected pair of non-blocking AF_UNIX stream sockets (for the multishot-receive probe).</summary>
    public static bool SocketPair(int* fds, out Errno err)
    {
        int rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds);
        err = rc < 0 ? LastErrno() : default;
        return rc == 0;
    }

    /// <summary>accept_flags of the backend's multishot accept: like the epoll path's accept4.</summary>
    public static uint AcceptFlags => (uint)(SOCK_NONBLOCK | SOCK_CLOEXEC);

    /// <summary>msg_flags of the backend's sends: a closed peer is EPIPE, never a SIGPIPE.</summary>
    public static uint SendFlags => (uint)MSG_NOSIGNAL;

    /// <summary>
    /// An eventfd <em>without</em> O_NONBLOCK, for the backend's waker: a pending IORING_OP_READ on it waits for a
    /// write on every kernel (on an O_NONBLOCK file whose driver cannot wait without blocking, some kernels answer
    /// -EAGAIN instead). Writes never block: the loop's read resets the counter long before it could overflow.
    /// </summary>
    public static int BlockingEventFd(out Errno err)
    {
        int fd = eventfd(0, EFD_CLOEXEC);
        err = fd < 0 ? LastErrno() : default;
        return fd;
    }

    public enum FdKind { NotOpen, RegularFile, Directory, Other }

    /// <summary>What an fd is (<c>fstat</c>): the checks epoll_ctl ADD makes itself (EBADF, EPERM for files), made for a poll request.</summary>
    public static FdKind FileKind(int fd, out Errno err) => FileKind(fd, out _, out err);

    /// <summary>
    /// As above, plus which open file the number names now (<c>st_dev</c>, <c>st_ino</c>): a poll request holds its
    /// file, so a closed-and-reused fd number is only recognisable by comparing identities.
    /// </summary>
    public static FdKind FileKind(int fd, out (ulong Device, ulong Inode) identity, out Errno err)
    {
        stat st;
        identity = default;
        if (fstat(fd, &st) < 0)
        {
            err = LastErrno();
            return err.IsBadFd ? FdKind.NotOpen : FdKind.Other;
        }
        err = default;
        identity = ((ulong)st.st_dev, (ulong)st.st_ino);
        uint format = (uint)st.st_mode & (uint)S_IFMT;
        return format == (uint)S_IFREG ? FdKind.RegularFile : format == (uint)S_IFDIR ? FdKind.Directory : FdKind.Other;
    }

    public static nuint PageSize => (nuint)Environment.SystemPageSize;

    /// <summary>The value of <c>kernel.io_uring_disabled</c>, or -1 when the kernel has no such switch (before 6.6) or it cannot be read.</summary>
    public static int ReadDisabledSysctl()
    {
        try
        {
            return int.TryParse(File.ReadAllText(DisabledSysctlPath).Trim(), out int v) ? v : -1;
        }
        catch (IOException)
        {
            return -1;
        }
        catch (UnauthorizedAccessException)
        {
            return -1;
        }
    }
}
