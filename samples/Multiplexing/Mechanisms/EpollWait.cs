using System.Runtime.InteropServices;
using NoBlock.Samples.Multiplexing.Interop;
using Tmds.Linux;

namespace NoBlock.Samples.Multiplexing.Mechanisms;

/// <summary>
/// <c>epoll_wait</c>: the fds are registered once (level-triggered, with <c>epoll_ctl</c>, not timed), and each
/// wait copies out only the ready ones. The event buffer holds one more event than should be ready, so a
/// wait that finds an extra ready fd says so in its count instead of hiding it behind a full buffer.
/// </summary>
internal sealed unsafe class EpollWait : IWaitMechanism
{
    private readonly int _epfd = -1;
    private epoll_event* _events;
    private readonly int _maxEvents;
    private int _lastCount;

    public EpollWait(RegisteredFds fds, Action<int, int>? progress, CancellationToken cancellation)
    {
        _maxEvents = fds.ReadyCount + 1;
        _events = (epoll_event*)NativeMemory.AllocZeroed((nuint)_maxEvents, (nuint)sizeof(epoll_event));
        try
        {
            _epfd = Sys.EpollCreate();
            ReadOnlySpan<int> all = fds.Fds;
            for (int i = 0; i < all.Length; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                Sys.EpollAddReadable(_epfd, all[i]);
                progress?.Invoke(i + 1, all.Length);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Name => "epoll_wait";

    public void Rearm()
    {
        // Nothing to restore: the interest set lives in the kernel.
    }

    public int WaitOnce() => _lastCount = Sys.EpollWait(_epfd, _events, _maxEvents);

    public string? CheckReported(RegisteredFds fds)
    {
        var expected = new HashSet<int>();
        ReadOnlySpan<int> all = fds.Fds;
        for (int i = 0; i < all.Length; i++)
        {
            if (fds.IsReadyAt(i))
            {
                expected.Add(all[i]);
            }
        }
        for (int i = 0; i < _lastCount; i++)
        {
            int fd = _events[i].data.fd;
            if (_events[i].events != LibC.EPOLLIN)
            {
                return $"epoll_wait reported events 0x{_events[i].events:x} for fd {fd}, expected EPOLLIN only";
            }
            if (!expected.Remove(fd))
            {
                return $"epoll_wait reported fd {fd}, which is not one of the ready fds (or was reported twice)";
            }
        }
        return expected.Count == 0 ? null : $"epoll_wait did not report {expected.Count} ready fds, e.g. fd {expected.First()}";
    }

    public void Dispose()
    {
        // The epoll fd is ours alone; the registered fds belong to RegisteredFds and close with it.
        if (_events == null)
        {
            return; // disposed already
        }
        if (_epfd != -1)
        {
            Sys.TryClose(_epfd);
        }
        NativeMemory.Free(_events);
        _events = null;
    }
}
