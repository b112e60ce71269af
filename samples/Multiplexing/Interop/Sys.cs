using System.ComponentModel;
using System.Globalization;
using System.Runtime.InteropServices;
using Tmds.Linux;

namespace NoBlock.Samples.Multiplexing.Interop;

/// <summary>
/// The only caller of the kernel in this sample: every syscall the measurement makes goes through here, and
/// this is the one place that reads <c>errno</c> (immediately after the call) and turns it into an exception.
/// Tmds.LibC 0.5.0 binds <c>poll</c>, <c>epoll_*</c> and <c>socketpair</c> but not <c>select</c>,
/// <c>getrlimit</c>/<c>setrlimit</c> or <c>clock_gettime</c>; those few are declared below with our own <see cref="DllImportAttribute"/>.
/// </summary>
internal static unsafe class Sys
{
    /// <summary>
    /// glibc's <c>FD_SETSIZE</c>: an <c>fd_set</c> is a fixed bitmap of this many bits, so <c>select</c> can
    /// only watch fds 0..1023. Writing bit 1024 or above would write past the end of the struct.
    /// </summary>
    public const int FdSetSize = 1024;

    /// <summary><c>CLOCK_THREAD_CPUTIME_ID</c> on Linux.</summary>
    private const int ClockThreadCpuTimeId = 3;

    /// <summary><c>RLIMIT_NOFILE</c> on Linux (the same number on x64, arm64 and arm).</summary>
    private const int RlimitNofile = 7;

    /// <summary>
    /// Every wait in this sample polls with a zero timeout: the measured fds are always ready, so a zero
    /// timeout costs the same single scan a blocking wait would, and a bug that leaves nothing ready shows
    /// up as a wrong count instead of a process that hangs forever.
    /// </summary>
    private const int NoWait = 0;

    // The fds are non-blocking (nothing here may ever sleep) and close-on-exec (a child process must not
    // inherit twenty thousand of them).
    private static readonly int SocketPairFlags = LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC;

    /// <summary>Opens a connected pair of AF_UNIX stream sockets.</summary>
    public static (int First, int Second) SocketPair()
    {
        int* fds = stackalloc int[2];
        if (LibC.socketpair(LibC.AF_UNIX, SocketPairFlags, 0, fds) == -1)
        {
            throw ErrnoException(LibC.errno, "socketpair");
        }
        return (fds[0], fds[1]);
    }

    /// <summary>
    /// Writes one byte into <paramref name="fd"/>, which makes its peer readable until someone reads that
    /// byte. Nobody does: level-triggered readiness then holds for every wait that follows.
    /// </summary>
    public static void WriteOneByte(int fd)
    {
        byte b = (byte)'x';
        long written = LibC.write(fd, &b, 1);
        if (written != 1)
        {
            throw written == -1
                ? ErrnoException(LibC.errno, $"write(fd {fd})")
                : new IOException($"write(fd {fd}) wrote {written} bytes instead of 1");
        }
    }

    /// <summary>Closes <paramref name="fd"/>; returns the errno on failure, 0 on success. Never throws (used in cleanup).</summary>
    public static int TryClose(int fd)
    {
        // Linux releases the fd even when close fails (EINTR included), so a failure is reported, not retried.
        return LibC.close(fd) == 0 ? 0 : LibC.errno;
    }

    /// <summary>One <c>poll</c> call over <paramref name="count"/> entries; returns how many have events.</summary>
    public static int Poll(pollfd* fds, int count)
    {
        int n = LibC.poll(fds, (ulong_t)(uint)count, NoWait);
        return n == -1 ? throw ErrnoException(LibC.errno, "poll") : n;
    }

    /// <summary>Creates an epoll instance (close-on-exec).</summary>
    public static int EpollCreate()
    {
        int epfd = LibC.epoll_create1(LibC.EPOLL_CLOEXEC);
        return epfd == -1 ? throw ErrnoException(LibC.errno, "epoll_create1") : epfd;
    }

    /// <summary>Registers <paramref name="fd"/> for level-triggered readability; the event carries the fd back.</summary>
    public static void EpollAddReadable(int epfd, int fd)
    {
        epoll_event ev = default;
        ev.events = LibC.EPOLLIN; // level-triggered: no EPOLLET, a ready fd is reported by every wait
        ev.data.fd = fd;
        if (LibC.epoll_ctl(epfd, LibC.EPOLL_CTL_ADD, fd, &ev) == -1)
        {
            throw ErrnoException(LibC.errno, $"epoll_ctl(ADD, fd {fd})");
        }
    }

    /// <summary>One <c>epoll_wait</c> call; returns how many events it wrote into <paramref name="events"/>.</summary>
    public static int EpollWait(int epfd, epoll_event* events, int maxEvents)
    {
        int n = LibC.epoll_wait(epfd, events, maxEvents, NoWait);
        return n == -1 ? throw ErrnoException(LibC.errno, "epoll_wait") : n;
    }

    /// <summary>
    /// One <c>select</c> call watching <paramref name="readFds"/> for readability; the kernel rewrites the set
    /// in place to the ready ones. Returns the number of ready fds.
    /// </summary>
    public static int Select(int highestFd, FdSet* readFds)
    {
        if ((uint)highestFd >= FdSetSize)
        {
            // nfds above FD_SETSIZE makes the kernel read and write bits past the end of our 128-byte struct.
            throw new ArgumentOutOfRangeException(nameof(highestFd), highestFd, $"select cannot watch fd {highestFd}: FD_SETSIZE = {FdSetSize}");
        }
        Timeval timeout = default; // zero: see NoWait
        int n = select(highestFd + 1, readFds, null, null, &timeout);
        return n == -1 ? throw ErrnoException(Marshal.GetLastPInvokeError(), "select") : n;
    }

    /// <summary>The process's fd limit (<c>RLIMIT_NOFILE</c>): soft and hard.</summary>
    public static (ulong Soft, ulong Hard) GetFdLimit()
    {
        Rlimit limit;
        if (getrlimit(RlimitNofile, &limit) == -1)
        {
            throw ErrnoException(Marshal.GetLastPInvokeError(), "getrlimit(RLIMIT_NOFILE)");
        }
        return (limit.Current, limit.Max);
    }

    /// <summary>Raises the soft fd limit to the hard one (an unprivileged process may always do that).</summary>
    public static void RaiseFdSoftLimitToHard()
    {
        (ulong soft, ulong hard) = GetFdLimit();
        if (soft >= hard)
        {
            return;
        }
        Rlimit limit = new() { Current = hard, Max = hard };
        if (setrlimit(RlimitNofile, &limit) == -1)
        {
            throw ErrnoException(Marshal.GetLastPInvokeError(), "setrlimit(RLIMIT_NOFILE)");
        }
    }

    /// <summary>
    /// CPU time the calling thread has used, in nanoseconds (<c>CLOCK_THREAD_CPUTIME_ID</c>). Compared with wall
    /// time over a cell, it says how much of that time the thread actually had a CPU on a shared machine.
    /// </summary>
    public static long ThreadCpuNanoseconds()
    {
        Timespec now;
        if (clock_gettime(ClockThreadCpuTimeId, &now) == -1)
        {
            throw ErrnoException(Marshal.GetLastPInvokeError(), "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
        }
        return (long)now.Seconds * 1_000_000_000 + now.Nanoseconds;
    }

    /// <summary>The fd numbers this process holds right now, as the kernel lists them in /proc/self/fd.</summary>
    public static List<int> OpenFds()
    {
        // Listing the directory opens an fd of its own, which shows up in the listing: it is left out, since
        // it is closed again when the enumeration ends. It is the entry that links back to the directory.
        string listing = $"/proc/{Environment.ProcessId}/fd";
        var fds = new List<int>();
        foreach (string entry in Directory.EnumerateFileSystemEntries(listing))
        {
            if (int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out int fd)
                && LinkTarget(entry) != listing)
            {
                fds.Add(fd);
            }
        }
        return fds;
    }

    private static string? LinkTarget(string fdEntry)
    {
        try
        {
            return new FileInfo(fdEntry).LinkTarget;
        }
        catch (IOException)
        {
            return null; // closed by another thread since the listing: gone either way
        }
    }

    private static Win32Exception ErrnoException(int errno, string call)
    {
        // Win32Exception(errno) carries strerror's text on Unix.
        return new Win32Exception(errno, $"{call} failed: {new Win32Exception(errno).Message} (errno {errno})");
    }

    /// <summary>glibc's <c>fd_set</c>: <see cref="FdSetSize"/> bits. Every bit access is bounds-checked.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct FdSet
    {
        private const int BitsPerWord = 64;
        private fixed ulong _words[FdSetSize / BitsPerWord];

        /// <summary>FD_SET. Throws for fds select cannot hold instead of corrupting the memory after the set.</summary>
        public void Add(int fd)
        {
            CheckInRange(fd);
            _words[fd / BitsPerWord] |= 1UL << (fd % BitsPerWord);
        }

        /// <summary>FD_ISSET.</summary>
        public readonly bool Contains(int fd)
        {
            CheckInRange(fd);
            return (_words[fd / BitsPerWord] & (1UL << (fd % BitsPerWord))) != 0;
        }

        private static void CheckInRange(int fd)
        {
            if ((uint)fd >= FdSetSize)
            {
                throw new ArgumentOutOfRangeException(nameof(fd), fd, $"an fd_set holds fds 0..{FdSetSize - 1} only (FD_SETSIZE = {FdSetSize})");
            }
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timeval
    {
        public nint Seconds;       // time_t: a C long
        public nint Microseconds;  // suseconds_t: a C long
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public nint Seconds;     // time_t: a C long
        public nint Nanoseconds; // a C long
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Rlimit
    {
        public ulong Current; // rlim_cur; rlim_t is a C unsigned long, 64 bits on the 64-bit platforms measured here
        public ulong Max;     // rlim_max
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int select(int nfds, FdSet* readfds, FdSet* writefds, FdSet* exceptfds, Timeval* timeout);

    [DllImport("libc", SetLastError = true)]
    private static extern int clock_gettime(int clockId, Timespec* tp);

    [DllImport("libc", SetLastError = true)]
    private static extern int getrlimit(int resource, Rlimit* rlim);

    [DllImport("libc", SetLastError = true)]
    private static extern int setrlimit(int resource, Rlimit* rlim);
}
