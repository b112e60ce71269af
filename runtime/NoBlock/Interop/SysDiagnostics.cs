using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace NoBlock.Interop;

/// <summary>
/// The few syscalls the runtime guards make besides <see cref="Sys"/>'s (kept apart so the guards can change
/// without touching the loop's interop file). Same rules: nothing throws, errno is read right after the call.
/// </summary>
internal static unsafe class SysDiagnostics
{
    /// <summary>True when <paramref name="fd"/> is readable right now (a zero-timeout <c>poll</c>: never blocks).</summary>
    public static bool IsReadableNow(int fd)
    {
        pollfd p = default;
        p.fd = fd;
        p.events = (short)POLLIN;
        int n = poll(&p, 1, 0);
        return n == 1 && (p.revents & POLLIN) != 0;
    }
}
