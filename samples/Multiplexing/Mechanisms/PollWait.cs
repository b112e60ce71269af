using System.Runtime.InteropServices;
using NoBlock.Samples.Multiplexing.Interop;
using Tmds.Linux;

namespace NoBlock.Samples.Multiplexing.Mechanisms;

/// <summary>
/// <c>poll</c>: an array of <c>pollfd</c> (8 bytes each) passed in on every call; the kernel writes only the
/// <c>revents</c> fields, so the array is reused as is.
/// </summary>
internal sealed unsafe class PollWait : IWaitMechanism
{
    private pollfd* _entries;
    private readonly int _count;

    public PollWait(RegisteredFds fds)
    {
        _count = fds.Count;
        // Native memory: the kernel writes revents, and a managed array could move under it.
        _entries = (pollfd*)NativeMemory.AllocZeroed((nuint)_count, (nuint)sizeof(pollfd));
        ReadOnlySpan<int> all = fds.Fds;
        for (int i = 0; i < _count; i++)
        {
            _entries[i].fd = all[i];
            _entries[i].events = LibC.POLLIN;
        }
    }

    public string Name => "poll";

    public void Rearm()
    {
        // Nothing to restore: poll leaves fd and events alone and overwrites every revents.
    }

    public int WaitOnce() => Sys.Poll(_entries, _count);

    public string? CheckReported(RegisteredFds fds)
    {
        for (int i = 0; i < _count; i++)
        {
            short expected = fds.IsReadyAt(i) ? LibC.POLLIN : (short)0;
            if (_entries[i].revents != expected)
            {
                return $"poll reported revents 0x{_entries[i].revents:x} for fd {_entries[i].fd}, expected 0x{expected:x}";
            }
        }
        return null;
    }

    public void Dispose()
    {
        NativeMemory.Free(_entries); // Free(null) does nothing, so a second Dispose is harmless
        _entries = null;
    }
}
