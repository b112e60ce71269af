using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace NoBlock.Interop;

/// <summary>
/// The few syscalls the runtime guards and socket diagnostics make besides <see cref="Sys"/>'s (kept apart so the guards can change
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

    /// <summary>SO_PROTOCOL and SO_DOMAIN (asm-generic/socket.h: the same on x86-64 and arm64).</summary>
    private const int SoProtocol = 38, SoDomain = 39;

    /// <summary>
    /// When <paramref name="fd"/> is an IPv4 or IPv6 UDP socket: its inode (what <c>/proc/net/udp</c> lists it by)
    /// and whether it is IPv6 (<c>/proc/net/udp6</c>). One <c>fstat</c>, plus two <c>getsockopt</c>s for a socket.
    /// </summary>
    public static bool TryGetUdpSocket(int fd, out ulong inode, out bool ipv6)
    {
        inode = 0;
        ipv6 = false;
        stat st;
        if (fstat(fd, &st) != 0 || ((uint)st.st_mode & (uint)S_IFMT) != (uint)S_IFSOCK)
        {
            return false;
        }
        int protocol = 0, domain = 0;
        socklen_t len = sizeof(int);
        if (getsockopt(fd, SOL_SOCKET, SoProtocol, &protocol, &len) != 0 || protocol != IPPROTO_UDP)
        {
            return false;
        }
        len = sizeof(int);
        if (getsockopt(fd, SOL_SOCKET, SoDomain, &domain, &len) != 0 || (domain != AF_INET && domain != AF_INET6))
        {
            return false;
        }
        inode = (ulong)st.st_ino;
        ipv6 = domain == AF_INET6;
        return true;
    }
}
