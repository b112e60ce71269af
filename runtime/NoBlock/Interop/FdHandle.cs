using System.Runtime.InteropServices;

namespace NoBlock.Interop;

/// <summary>
/// Owns one file descriptor the runtime created (epoll fd, eventfd, listening or accepted socket): releasing the
/// handle closes the fd, exactly once, even if the owner is never disposed. fds passed in by users to
/// <see cref="EventLoop.Register"/> are not owned: the user closes them.
/// </summary>
internal sealed class FdHandle : SafeHandle
{
    public FdHandle(int fd)
        : base(invalidHandleValue: new IntPtr(-1), ownsHandle: true)
    {
        SetHandle(new IntPtr(fd));
    }

    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>The fd number. Valid until the handle is disposed; the runtime only disposes on the loop thread.</summary>
    public int Fd => (int)handle.ToInt64();

    /// <summary>
    /// Adds one to this eventfd's counter from any thread; nothing when the handle is already closed. A reference on
    /// the handle is held for the length of the write, so a Dispose racing the caller cannot close the eventfd (and let
    /// its number be reused by another open) between the caller's check and the write.
    /// </summary>
    public void SignalEventFd()
    {
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
            Sys.EventFdSignal(Fd);
        }
        catch (ObjectDisposedException)
        {
            // closed meanwhile: nothing to wake
        }
        finally
        {
            if (added)
            {
                DangerousRelease();
            }
        }
    }

    protected override bool ReleaseHandle() => Sys.Close((int)handle.ToInt64());
}
