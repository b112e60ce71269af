using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using NoBlock;
using NoBlock.Tcp;

namespace NoBlock.Benchmarks;

/// <summary>
/// One 64-byte request/response over loopback to an echo server on EventLoop (level- or edge-triggered), with
/// MemoryDiagnoser: BenchmarkDotNet counts every byte the process allocates (GC.GetTotalAllocatedBytes), so the
/// loop thread's allocations are included. Zero is the target.
/// </summary>
[MemoryDiagnoser]
public class PingPongBenchmark
{
    private EventLoop _loop = null!;
    private Thread _thread = null!;
    private Socket _client = null!;
    private readonly byte[] _request = new byte[64];
    private readonly byte[] _response = new byte[64];

    [Params(false, true)]
    public bool EdgeTriggered { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _loop = new EventLoop(new EventLoopOptions { Name = "bench" });
        var acceptor = TcpAcceptor.Listen(_loop, new IPEndPoint(IPAddress.Loopback, 0), () => new Echo(), new TcpServerOptions { EdgeTriggered = EdgeTriggered });
        _thread = new Thread(_loop.Run) { IsBackground = true, Name = "bench-loop" };
        _thread.Start();
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _client.Connect(acceptor.LocalEndPoint);
    }

    [Benchmark(Description = "64-byte echo round trip")]
    public int RoundTrip()
    {
        _client.Send(_request);
        int got = 0;
        while (got < _response.Length)
        {
            got += _client.Receive(_response, got, _response.Length - got, SocketFlags.None);
        }
        return got;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Dispose();
        _loop.Stop();
        _thread.Join();
        _loop.Dispose();
    }

    private sealed class Echo : TcpConnection
    {
        protected override void OnData(ReadOnlySpan<byte> data) => Send(data);
    }
}
