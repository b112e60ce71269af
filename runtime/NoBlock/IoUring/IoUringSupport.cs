using System.Runtime.InteropServices;
using NoBlock.Interop;

namespace NoBlock.IoUring;

/// <summary>
/// Can this process run the io_uring backend, and if not, why. Two kinds of answer: whether a ring can be created
/// at all (a property of the calling thread and process: the kernel, <c>kernel.io_uring_disabled</c>, a seccomp
/// filter, the locked-memory limit) and whether the kernel has every op and feature the backend uses (a property of
/// the kernel, probed once per process on a ring of its own and cached).
/// </summary>
internal static unsafe class IoUringSupport
{
    /// <summary>One op the backend submits, and the Linux release that first has it as the backend uses it.</summary>
    private readonly record struct Required(IoUringOp Op, string Name, string Since);

    private static readonly Required[] RequiredOps =
    [
        new(IoUringOp.PollAdd, "IORING_OP_POLL_ADD", "5.13 (multishot)"),
        new(IoUringOp.PollRemove, "IORING_OP_POLL_REMOVE", "5.1"),
        new(IoUringOp.Accept, "IORING_OP_ACCEPT", "5.19 (multishot)"),
        new(IoUringOp.AsyncCancel, "IORING_OP_ASYNC_CANCEL", "5.19 (by fd)"),
        new(IoUringOp.Read, "IORING_OP_READ", "5.6"),
        new(IoUringOp.Send, "IORING_OP_SEND", "5.6"),
        new(IoUringOp.Recv, "IORING_OP_RECV", "6.0 (multishot)"),
    ];

    private static readonly (uint Feature, string Name, string Since)[] RequiredFeatures =
    [
        (IoUringFeatures.NoDrop, "IORING_FEAT_NODROP", "5.5"),
        (IoUringFeatures.FastPoll, "IORING_FEAT_FAST_POLL", "5.7"),
        (IoUringFeatures.Poll32Bits, "IORING_FEAT_POLL_32BITS", "5.9"),
        (IoUringFeatures.ExtArg, "IORING_FEAT_EXT_ARG", "5.11"),
    ];

    private static readonly object Gate = new();
    private static string? _kernelVerdict;   // null: not probed yet; "": everything is there; else why not
    private static uint _kernelFeatures;

    private static string? _simulated;       // tests: the reason io_uring "is unavailable" while a simulation is on
    private static string? _processVerdict;  // null: not probed yet; "": a backend can be created; else why not

    /// <summary>
    /// Tests: until the returned scope is disposed, every backend creation fails with <paramref name="reason"/>, as
    /// on a machine without io_uring (the fallback path runs for real; only the kernel's answer is simulated).
    /// Process-wide: the test assembly runs its tests one at a time.
    /// </summary>
    internal static IDisposable SimulateUnavailable(string reason)
    {
        Volatile.Write(ref _simulated, reason);
        return new SimulationScope();
    }

    /// <summary>The simulated reason, if a test set one (<see cref="SimulateUnavailable"/>).</summary>
    internal static string? Simulated => Volatile.Read(ref _simulated);

    /// <summary>
    /// Null when this process can run the io_uring backend, else why not (the same reason the loop's fallback
    /// notice or exception gives). Probed once by creating and disposing a backend; the simulation wins.
    /// </summary>
    public static string? WhyUnavailable()
    {
        if (Simulated is { } simulated)
        {
            return simulated;
        }
        lock (Gate)
        {
            if (_processVerdict is null)
            {
                using var backend = IoUringBackend.TryCreate(1, out var why);
                _processVerdict = why ?? "";
            }
            return _processVerdict.Length == 0 ? null : _processVerdict;
        }
    }

    private sealed class SimulationScope : IDisposable
    {
        public void Dispose() => Volatile.Write(ref _simulated, null);
    }

    /// <summary>The running kernel's release (<c>uname -r</c>), for messages.</summary>
    public static string KernelRelease
    {
        get
        {
            try
            {
                return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
            }
            catch (IOException)
            {
                return RuntimeInformation.OSDescription;
            }
        }
    }

    /// <summary>
    /// Why io_uring_setup failed with <paramref name="err"/>, in words an operator can act on. ENOSYS and EPERM
    /// are the usual ones: a kernel without io_uring, the <c>kernel.io_uring_disabled</c> switch, or a container's
    /// seccomp profile (Docker's default profile blocks the io_uring calls with EPERM since Docker 25).
    /// </summary>
    public static string DescribeSetupFailure(Errno err)
    {
        string kernel = KernelRelease;
        if (err.IsNotImplemented)
        {
            return $"io_uring_setup failed with ENOSYS: this kernel ({kernel}) has no io_uring (older than 5.1, or built without CONFIG_IO_URING), or a seccomp filter answers ENOSYS for it";
        }
        if (err.IsPermissionDenied)
        {
            return IoUringSys.ReadDisabledSysctl() switch
            {
                2 => "io_uring is disabled on this machine (kernel.io_uring_disabled = 2; io_uring_setup fails with EPERM)",
                1 => "io_uring is restricted on this machine (kernel.io_uring_disabled = 1: only processes with CAP_SYS_ADMIN or in the group kernel.io_uring_group may create rings; io_uring_setup failed with EPERM)",
                _ => "io_uring_setup was refused with EPERM: a seccomp filter blocks it (container runtimes' default profiles do, Docker's since 25.0; allow io_uring_setup, io_uring_enter and io_uring_register), or a security module does",
            };
        }
        if (err.Value == 12 /* ENOMEM */)
        {
            return $"io_uring_setup failed with ENOMEM: the ring does not fit in the locked-memory limit (RLIMIT_MEMLOCK, `ulimit -l`; kernels before 5.12 charge ring memory to it) or memory is short";
        }
        if (err.IsOutOfFds)
        {
            return $"io_uring_setup failed: the process is out of file descriptors ({err})";
        }
        return $"io_uring_setup failed: {err} on kernel {kernel}";
    }

    /// <summary>
    /// Whether the kernel has everything the backend uses, probed on <paramref name="ring"/> (ops and features)
    /// and, the first time in this process, on a scratch ring (provided-buffer rings and multishot receive, which
    /// no probe bit reports). Null when it does; otherwise the reason.
    /// </summary>
    public static string? CheckKernel(IoUringRing ring)
    {
        lock (Gate)
        {
            if (_kernelVerdict is null || _kernelFeatures != ring.Features)
            {
                _kernelVerdict = ProbeKernel(ring) ?? "";
                _kernelFeatures = ring.Features;
            }
            return _kernelVerdict.Length == 0 ? null : _kernelVerdict;
        }
    }

    /// <summary>The verdict for a given probe result (pure: also what the tests check for kernels we do not have).</summary>
    internal static string? Judge(bool[]? ops, uint features, string kernel)
    {
        if (ops is null)
        {
            return $"this kernel ({kernel}) cannot report its io_uring ops (IORING_REGISTER_PROBE needs Linux 5.6); the io_uring backend needs Linux 6.0 or later";
        }
        var missing = new List<string>();
        foreach (var r in RequiredOps)
        {
            if (!ops[(int)r.Op])
            {
                missing.Add($"{r.Name} (Linux {r.Since})");
            }
        }
        foreach (var (feature, name, since) in RequiredFeatures)
        {
            if ((features & feature) != feature)
            {
                missing.Add($"{name} (Linux {since})");
            }
        }
        return missing.Count == 0
            ? null
            : $"this kernel ({kernel}) lacks {string.Join(", ", missing)}; the io_uring backend needs Linux 6.0 or later";
    }

    private static string? ProbeKernel(IoUringRing ring)
    {
        string kernel = KernelRelease;
        var ops = ring.ProbeOps(out _);
        if (Judge(ops, ring.Features, kernel) is { } verdict)
        {
            return verdict;
        }
        return ProbeMultishotReceive(kernel);
    }

    /// <summary>
    /// Registers a provided-buffer ring and arms a multishot receive on a socket pair, then sends one byte: on 6.0+
    /// the receive completes with the byte in a provided buffer and stays armed (IORING_CQE_F_MORE); earlier
    /// kernels reject the registration or the flag with EINVAL.
    /// </summary>
    private static string? ProbeMultishotReceive(string kernel)
    {
        using var scratch = IoUringRing.Create(8, 16, 0, out var err);
        if (scratch is null)
        {
            return DescribeSetupFailure(err);
        }
        using var buffers = IoUringBufferRing.Create(scratch, 0, 2, 64, out err);
        if (buffers is null)
        {
            return $"this kernel ({kernel}) refuses provided-buffer rings (IORING_REGISTER_PBUF_RING, Linux 5.19: {err}); the io_uring backend needs Linux 6.0 or later";
        }
        int* pair = stackalloc int[2];
        if (!IoUringSys.SocketPair(pair, out err))
        {
            return $"probing io_uring: socketpair failed: {err}";
        }
        try
        {
            IoUringPrep.RecvMultishot(scratch.GetSqe(), pair[0], 0, 1);
            byte one = 1;
            Sys.Write(pair[1], &one, 1, out _);
            Span<IoUringCqe> cqe = stackalloc IoUringCqe[4];
            for (int attempt = 0; attempt < 100; attempt++)
            {
                if (scratch.SubmitAndWait(1, 10_000_000, out err) < 0 && !err.IsInterrupted)
                {
                    return $"probing io_uring: io_uring_enter failed: {err}";
                }
                if (scratch.TakeCompletions(cqe) > 0)
                {
                    if (cqe[0].Res == 1 && cqe[0].HasBuffer && cqe[0].HasMore)
                    {
                        scratch.CancelAllAndDrain(TimeSpan.FromSeconds(1), null);
                        return null;
                    }
                    var e = Errno.FromCompletion(cqe[0].Res);
                    return $"this kernel ({kernel}) has no multishot receive (IORING_RECV_MULTISHOT, Linux 6.0: the probe got res {cqe[0].Res}{(cqe[0].Res < 0 ? $", {e}" : "")}); the io_uring backend needs Linux 6.0 or later";
                }
            }
            return $"probing io_uring: a multishot receive on a socket pair did not complete within 1 s on kernel {kernel}";
        }
        finally
        {
            Sys.Close(pair[0]);
            Sys.Close(pair[1]);
        }
    }
}
