using NoBlock.Interop;

namespace NoBlock.Diagnostics;

/// <summary>
/// The runtime twin of NB0003/NB0004: after an edge-triggered handler returns, asks the kernel whether it left
/// anything behind — bytes unread (<c>FIONREAD</c>, for stream sockets and pipes) or, where FIONREAD does not apply
/// (a listening socket, an eventfd), readiness left (a zero-timeout <c>poll</c>). Epoll reports an edge-triggered
/// fd again only when new data arrives, so what is left may wait forever.
/// </summary>
/// <remarks>
/// A peer that sends again between the handler's last read and this check makes a false alarm (that data brings
/// its own edge). The check is one syscall per edge-triggered dispatch, hence on by default only in Debug builds.
/// </remarks>
internal static class EdgeTriggeredGuard
{
    /// <summary>Called on the loop thread right after an edge-triggered handler returned normally.</summary>
    public static void Check(object handler, int fd, Registration registration)
    {
        if (registration.IsDisposed || (registration.Interest & IoEvents.Readable) == 0 || (registration.Interest & IoEvents.OneShot) != 0)
        {
            return; // unregistered, not reading, or one-shot (re-armed with Modify, which re-checks readiness)
        }
        var watch = StallWatchdog.Current;
        if (watch is null)
        {
            return;
        }
        long unread;
        if (Sys.ReceiveQueue(fd, out int bytes, out var err))
        {
            if (bytes <= 0)
            {
                return;
            }
            unread = bytes;
        }
        else if (err.IsBadFd || !SysDiagnostics.IsReadableNow(fd))
        {
            return; // closed by the handler, or nothing left
        }
        else
        {
            unread = -1;
        }
        StallWatchdog.Report(watch, new GuardReport(LoopGuard.EdgeTriggeredLeftover, watch.Name, HandlerNames.Describe(handler), fd, unread, null));
    }
}
