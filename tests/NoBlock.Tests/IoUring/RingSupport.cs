using System.Diagnostics;
using System.Runtime.InteropServices;
using NoBlock.Interop;
using NoBlock.IoUring;
using NoBlock.Tests.Runtime;
using Xunit;

namespace NoBlock.Tests.IoUring;

/// <summary>Helpers for tests that drive an <see cref="IoUringRing"/> directly on real fds.</summary>
internal static unsafe class Rings
{
    /// <summary>A ring, or a test failure that says why this machine cannot make one (the tests need io_uring).</summary>
    public static IoUringRing Create(uint sq = 16, uint cq = 64, uint flags = 0)
    {
        var ring = IoUringRing.Create(sq, cq, flags, out var err);
        Assert.True(ring is not null, $"io_uring is unavailable here: {IoUringSupport.DescribeSetupFailure(err)}");
        return ring!;
    }

    public static IoUringSqe* Sqe(IoUringRing ring)
    {
        var sqe = ring.GetSqe();
        Assert.True(sqe != null, "the SQ is full");
        return sqe;
    }

    /// <summary>Submits and reaps until <paramref name="count"/> completions arrived (bounded: 10 s), returning them in order.</summary>
    public static List<IoUringCqe> Wait(IoUringRing ring, int count, Func<IoUringCqe, bool>? keep = null)
    {
        var got = new List<IoUringCqe>();
        var deadline = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency);
        Span<IoUringCqe> batch = stackalloc IoUringCqe[32];
        while (got.Count < count)
        {
            Assert.True(Stopwatch.GetTimestamp() < deadline, $"timed out waiting for {count} completions; got {got.Count}: {Describe(got)}");
            int rc = ring.SubmitAndWait(1, 100_000_000, out var err);
            Assert.True(rc >= 0 || err.IsInterrupted, $"io_uring_enter failed: {err}");
            int n = ring.TakeCompletions(batch);
            for (int i = 0; i < n; i++)
            {
                if (keep is null || keep(batch[i]))
                {
                    got.Add(batch[i]);
                }
            }
        }
        return got;
    }

    /// <summary>After submitting and letting the kernel run, no completion is ready (a bounded look, never a timing assertion).</summary>
    public static void ExpectNone(IoUringRing ring)
    {
        Assert.True(ring.SubmitAndWait(0, 0, out var err) >= 0, err.ToString());
        Thread.Sleep(20); // a completion that was going to be posted for work already done would be posted by now
        Assert.True(ring.SubmitAndWait(0, 0, out err) >= 0, err.ToString());
        Span<IoUringCqe> batch = stackalloc IoUringCqe[8];
        int n = ring.TakeCompletions(batch);
        Assert.True(n == 0, $"expected no completion, got {Describe(batch[..n].ToArray())}");
    }

    public static string Describe(IEnumerable<IoUringCqe> cqes) =>
        string.Join("; ", cqes.Select(c => $"ud={c.UserData} res={c.Res} flags=0x{c.Flags:x}"));

    /// <summary>Adds 1 to an eventfd's counter (an eventfd takes exactly 8 bytes).</summary>
    public static void Signal(int eventFd)
    {
        ulong one = 1;
        Assert.Equal(8, (int)Sys.Write(eventFd, (byte*)&one, 8, out var err));
    }

    /// <summary>One recv: bytes read, 0 at end of stream, -1 on EAGAIN or an error.</summary>
    public static int Recv(int fd, byte[] into)
    {
        fixed (byte* p = into)
        {
            return (int)Sys.Recv(fd, p, into.Length, out _);
        }
    }

    /// <summary>
    /// True when nobody holds the read end of the pipe whose write end is <paramref name="writeFd"/> any more
    /// (<c>poll</c> reports POLLERR), without writing into it.
    /// </summary>
    public static bool PipeHasNoReaders(int writeFd)
    {
        Tmds.Linux.pollfd p = default;
        p.fd = writeFd;
        p.events = (short)Tmds.Linux.LibC.POLLOUT;
        return Tmds.Linux.LibC.poll(&p, 1, 0) == 1 && (p.revents & Tmds.Linux.LibC.POLLERR) != 0;
    }

    public static (bool Ok, Errno Error) Write(int fd, byte[] data)
    {
        fixed (byte* p = data)
        {
            bool ok = Sys.Write(fd, p, data.Length, out var err) >= 0;
            return (ok, err);
        }
    }

    public static (int Client, int Server) TcpPair()
    {
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        var server = listener.Accept();
        client.Blocking = false;
        server.Blocking = false;
        // Hand the fds over: duplicate them so the Socket objects can be disposed without closing ours.
        int c = Tmds.Linux.LibC.dup((int)client.Handle);
        int s = Tmds.Linux.LibC.dup((int)server.Handle);
        client.Dispose();
        server.Dispose();
        return (c, s);
    }

    public static void Send(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            Assert.Equal(data.Length, (int)Sys.Send(fd, p, data.Length, out var err));
        }
    }
}

/// <summary>
/// Runs code on a fresh thread that a seccomp filter forbids one syscall (answered with an errno), the way a
/// container's profile does; the filter binds that thread only and dies with it. Real kernel denial, not a mock.
/// </summary>
internal static unsafe class Seccomp
{
    [StructLayout(LayoutKind.Sequential)]
    private struct SockFilter
    {
        public ushort Code;
        public byte Jt, Jf;
        public uint K;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SockFprog
    {
        public ushort Len;
        public SockFilter* Filter;
    }

    // linux/prctl.h, linux/seccomp.h, linux/filter.h
    private const int PR_SET_NO_NEW_PRIVS = 38, PR_SET_SECCOMP = 22, SECCOMP_MODE_FILTER = 2;
    private const ushort BPF_LD_W_ABS = 0x20, BPF_JMP_JEQ_K = 0x15, BPF_RET_K = 0x06;
    private const uint SECCOMP_RET_ERRNO = 0x00050000, SECCOMP_RET_ALLOW = 0x7fff0000;
    public const int IoUringSetup = 425;
    public const int EPERM = 1, ENOSYS = 38;

    [DllImport("libc", SetLastError = true)]
    private static extern int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    public static T RunDenying<T>(int syscallNr, int errno, Func<T> body)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                Deny(syscallNr, errno);
                result = body();
            }
            catch (Exception ex)
            {
                error = ex;
            }
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "the seccomp thread did not finish");
        if (error is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
        }
        return result;
    }

    private static void Deny(int syscallNr, int errno)
    {
        // seccomp_data.nr is at offset 0; syscall numbers of io_uring are the same on x86-64 and arm64.
        SockFilter* prog = stackalloc SockFilter[4];
        prog[0] = new SockFilter { Code = BPF_LD_W_ABS, K = 0 };
        prog[1] = new SockFilter { Code = BPF_JMP_JEQ_K, Jt = 0, Jf = 1, K = (uint)syscallNr };
        prog[2] = new SockFilter { Code = BPF_RET_K, K = SECCOMP_RET_ERRNO | (uint)errno };
        prog[3] = new SockFilter { Code = BPF_RET_K, K = SECCOMP_RET_ALLOW };
        var fprog = new SockFprog { Len = 4, Filter = prog };
        Assert.Equal(0, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
        Assert.True(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, (nuint)(&fprog), 0, 0) == 0, $"seccomp filter refused: errno {Marshal.GetLastPInvokeError()}");
    }
}
