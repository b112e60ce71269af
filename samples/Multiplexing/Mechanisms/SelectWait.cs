using System.Runtime.InteropServices;
using NoBlock.Samples.Multiplexing.Interop;

namespace NoBlock.Samples.Multiplexing.Mechanisms;

/// <summary>
/// <c>select</c>: the interest set is an fd_set bitmap passed in on every call and overwritten with the
/// ready set, so it is copied from a template before each call (outside the timed region: only the syscall is
/// timed). Only fds below FD_SETSIZE fit; <see cref="CanWatch"/> says whether a row's fds do, and the set
/// itself refuses any other fd.
/// </summary>
internal sealed unsafe class SelectWait : IWaitMechanism
{
    private Sys.FdSet* _template;
    private Sys.FdSet* _work;
    private readonly int _highestFd;

    public SelectWait(RegisteredFds fds)
    {
        if (!CanWatch(fds))
        {
            throw new ArgumentOutOfRangeException(nameof(fds), $"select cannot watch fd {fds.HighestFd}: FD_SETSIZE = {Sys.FdSetSize}");
        }
        // Native memory: the kernel writes into the set, and a managed object could move under it.
        _template = (Sys.FdSet*)NativeMemory.AllocZeroed((nuint)sizeof(Sys.FdSet));
        _work = (Sys.FdSet*)NativeMemory.AllocZeroed((nuint)sizeof(Sys.FdSet));
        foreach (int fd in fds.Fds)
        {
            _template->Add(fd);
        }
        _highestFd = fds.HighestFd;
    }

    public string Name => "select";

    /// <summary>Whether every registered fd is below FD_SETSIZE.</summary>
    public static bool CanWatch(RegisteredFds fds) => fds.HighestFd < Sys.FdSetSize;

    public void Rearm() => *_work = *_template;

    public int WaitOnce() => Sys.Select(_highestFd, _work);

    public string? CheckReported(RegisteredFds fds)
    {
        ReadOnlySpan<int> all = fds.Fds;
        for (int i = 0; i < all.Length; i++)
        {
            bool reported = _work->Contains(all[i]);
            if (reported != fds.IsReadyAt(i))
            {
                return $"select reported fd {all[i]} as {(reported ? "ready" : "not ready")}, expected the opposite";
            }
        }
        return null;
    }

    public void Dispose()
    {
        NativeMemory.Free(_template); // Free(null) does nothing, so a second Dispose is harmless
        NativeMemory.Free(_work);
        _template = null;
        _work = null;
    }
}
