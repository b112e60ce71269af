using System.Net;
using System.Net.Sockets;
using NoBlock.Sockets;
using NoBlock.Tests.Diagnostics;
using Xunit;

namespace NoBlock.Tests.Runtime;

/// <summary>
/// The loop's own UDP sockets in the socket diagnostics: their lines of /proc/net/udp (by inode), on real loopback
/// sockets whose small receive buffers overflow. Each test floods a bounded number of datagrams.
/// </summary>
public sealed class UdpDiagnosticsTests
{
    /// <summary>Enough 1 KB datagrams to overflow a receive buffer set to 4 KB (the kernel doubles it, and counts overhead).</summary>
    private const int Flood = 200;

    private static Socket BoundUdp()
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { Blocking = false, ReceiveBufferSize = 4096 };
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return s;
    }

    private static void FloodTo(Socket target)
    {
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var payload = new byte[1000];
        for (int i = 0; i < Flood; i++)
        {
            sender.SendTo(payload, target.LocalEndPoint!);
        }
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void A_registered_UDP_socket_shows_its_own_queue_and_drops_and_an_unregistered_one_does_not(EventLoopBackend backend)
    {
        using var mine = BoundUdp();
        using var other = BoundUdp();
        using var lt = new LoopThread(Backends.Loop(backend));
        // Edge-triggered and never read: the datagrams stay queued and the rest are dropped, with no busy loop.
        var reg = lt.Invoke(() => lt.Loop.Register((int)mine.Handle, IoEvents.Readable | IoEvents.EdgeTriggered, _ => { }));
        FloodTo(mine);
        FloodTo(other);

        var d = lt.Loop.GetSocketDiagnostics();
        var udp = Assert.Single(d.UdpSockets);
        Assert.Equal((int)mine.Handle, udp.Fd);
        Assert.Equal(((IPEndPoint)mine.LocalEndPoint!).Port, udp.LocalEndPoint!.Port);
        Assert.Equal(IPAddress.Loopback, udp.LocalEndPoint.Address);
        Assert.True(udp.ReceiveQueueBytes > 0, d.ToString());
        Assert.True(udp.Drops > 0, d.ToString());
        Assert.Equal(udp.Drops, d.UdpDrops);
        Assert.Contains("UDP: ", d.ToString());
        Assert.Contains(" datagrams dropped since opened", d.ToString());

        lt.Invoke(reg.Dispose);
        Assert.Empty(lt.Loop.GetSocketDiagnostics().UdpSockets);
    }

    [Theory, InlineData(EventLoopBackend.Epoll), IoUringRow]
    public void The_stall_ended_report_counts_the_datagrams_dropped_on_the_loops_sockets_during_the_stall(EventLoopBackend backend)
    {
        using var mine = BoundUdp();
        var reports = new ReportCollector();
        using var lt = new LoopThread(Backends.Loop(backend, reports.Options("udp-stall", TimeSpan.FromMilliseconds(50))));
        lt.Invoke(() => lt.Loop.Register((int)mine.Handle, IoEvents.Readable | IoEvents.EdgeTriggered, _ => { }));
        using var flooded = new ManualResetEventSlim();
        lt.Loop.Post(() => flooded.Wait(Waits.Long)); // the stall lasts until the flood is in
        reports.WaitFor(StallPhase.StillStalled); // the first report's look at the sockets is over by then
        FloodTo(mine);
        flooded.Set();

        var ended = reports.WaitFor(StallPhase.Ended);
        Assert.True(ended.UdpDropsGrowth > 0, ended.ToString());
        Assert.Contains("UDP drops on this loop's sockets +", ended.ToString());
    }

    [Fact]
    public void Lines_of_proc_net_udp_give_the_inode_queue_drops_and_address()
    {
        const string v4 = "  123: 0100007F:A1B2 00000000:0000 07 00000000:00000A00 00:00000000 00000000     0        0 45678 2 0000000000000000 17";
        Assert.True(ProcNetUdp.TryParseLine(v4, ipv6: false, out ulong inode, out var local, out int rx, out long drops));
        Assert.Equal(45678UL, inode);
        Assert.Equal(0xA00, rx);
        Assert.Equal(17, drops);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 0xA1B2), local);

        const string v6 = "  7: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   100        0 999 2 0000000000000000 0";
        Assert.True(ProcNetUdp.TryParseLine(v6, ipv6: true, out inode, out local, out _, out _));
        Assert.Equal(999UL, inode);
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 53), local);

        Assert.False(ProcNetUdp.TryParseLine("   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops", false, out _, out _, out _, out _));
    }
}
