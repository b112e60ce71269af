using System.Linq;
using System.Globalization;
using System.Net;

namespace NoBlock
{
    /// <summary>
    /// One UDP socket registered with the loop, as <c>/proc/net/udp</c> (or <c>udp6</c>) shows it: what <c>ss -uan</c>
    /// and <c>ss -uane</c> say about that socket alone.
    /// </summary>
    /// <param name="Fd">The socket's fd.</param>
    /// <param name="Inode">The socket's inode (<c>ss -e</c> "ino"), the key of its line in <c>/proc/net/udp</c>.</param>
    /// <param name="LocalEndPoint">The address it is bound to (null when the line could not say).</param>
    /// <param name="ReceiveQueueBytes">Bytes of datagrams received and not yet read (the line's rx_queue, Recv-Q).</param>
    /// <param name="Drops">Datagrams the kernel dropped on this socket since it was opened (the line's <c>drops</c>: a full receive buffer, mostly).</param>
    public readonly record struct UdpSocketQueue(int Fd, ulong Inode, IPEndPoint? LocalEndPoint, int ReceiveQueueBytes, long Drops);
}

namespace NoBlock.Sockets
{
    /// <summary>
    /// A UDP socket the user registered with <see cref="EventLoop.Register"/>: tracked by inode, found by
    /// <c>fstat</c> when it was registered. The diagnostics read its line in <c>/proc/net/udp</c> by that inode and never
    /// touch the fd itself, so a socket closed (and its fd number reused) meanwhile is simply no longer listed.
    /// </summary>
    internal sealed class RegisteredUdpSocket(int fd, ulong inode, bool ipv6) : ITrackedSocket
    {
        public int Fd { get; } = fd;

        public ulong Inode { get; } = inode;

        public bool IsIpv6 { get; } = ipv6;

        Interop.FdHandle? ITrackedSocket.TrackedHandle => null;

        bool ITrackedSocket.IsListener => false;

        IPEndPoint? ITrackedSocket.ListenEndPoint => null;

        public int TrackedIndex { get; set; } = -1;
    }

    /// <summary>
    /// Reads <c>/proc/net/udp</c> and <c>/proc/net/udp6</c>: one line per UDP socket of the network namespace,
    /// <c>sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops</c>.
    /// </summary>
    internal static class ProcNetUdp
    {
        /// <summary>The lines of the sockets whose inodes are in <paramref name="wanted"/>, by inode. Missing files give nothing.</summary>
        public static Dictionary<ulong, (IPEndPoint? Local, int ReceiveQueue, long Drops)> Read(HashSet<ulong> wanted, bool ipv4, bool ipv6)
        {
            var found = new Dictionary<ulong, (IPEndPoint?, int, long)>();
            if (ipv4)
            {
                ReadFile("/proc/net/udp", ipv6: false, wanted, found);
            }
            if (ipv6)
            {
                ReadFile("/proc/net/udp6", ipv6: true, wanted, found);
            }
            return found;
        }

        private static void ReadFile(string path, bool ipv6, HashSet<ulong> wanted, Dictionary<ulong, (IPEndPoint?, int, long)> found)
        {
            try
            {
                foreach (var line in File.ReadLines(path).Skip(1))
                {
                    if (TryParseLine(line, ipv6, out ulong inode, out var local, out int rx, out long drops) && wanted.Contains(inode))
                    {
                        found[inode] = (local, rx, drops);
                    }
                }
            }
            catch (IOException)
            {
                // no procfs, or no IPv6 in this namespace
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        /// <summary>Parses one line; false for the header or a malformed line.</summary>
        internal static bool TryParseLine(string line, bool ipv6, out ulong inode, out IPEndPoint? local, out int receiveQueue, out long drops)
        {
            inode = 0;
            local = null;
            receiveQueue = 0;
            drops = 0;
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 13 || !f[0].EndsWith(':'))
            {
                return false;
            }
            int colon = f[4].IndexOf(':');
            if (colon < 0
                || !int.TryParse(f[4].AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out receiveQueue)
                || !ulong.TryParse(f[9], NumberStyles.None, CultureInfo.InvariantCulture, out inode)
                || !long.TryParse(f[12], NumberStyles.None, CultureInfo.InvariantCulture, out drops))
            {
                return false;
            }
            local = ParseAddress(f[1], ipv6);
            return true;
        }

        /// <summary>
        /// "0100007F:0035" (IPv4) or 32 hex digits ":port" (IPv6). The kernel prints each 32-bit word of the address as a
        /// number in host byte order; the port is in plain hex.
        /// </summary>
        internal static IPEndPoint? ParseAddress(string text, bool ipv6)
        {
            int colon = text.IndexOf(':');
            if (colon < 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int port))
            {
                return null;
            }
            var hex = text.AsSpan(0, colon);
            int words = ipv6 ? 4 : 1;
            if (hex.Length != words * 8)
            {
                return null;
            }
            var bytes = new byte[words * 4];
            for (int w = 0; w < words; w++)
            {
                if (!uint.TryParse(hex.Slice(w * 8, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint word))
                {
                    return null;
                }
                // The kernel loaded the word from the address (network byte order) and printed it as a host-order
                // number; writing it back in host order gives the address's bytes again, on any endianness.
                BitConverter.TryWriteBytes(bytes.AsSpan(w * 4, 4), word);
            }
            return new IPEndPoint(new IPAddress(bytes), port);
        }
    }
}
