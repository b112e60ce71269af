using NoBlock.Tcp;

namespace EchoServer;

/// <summary>Sends back every byte it receives. Counters are per loop (no sharing between loop threads).</summary>
internal sealed class EchoConnection : TcpConnection
{
    private readonly LoopStats _stats;

    public EchoConnection(LoopStats stats)
    {
        _stats = stats;
        stats.Accepted++;
        stats.Open++;
    }

    protected override void OnData(ReadOnlySpan<byte> data)
    {
        _stats.BytesIn += data.Length;
        _stats.Reads++;
        Send(data);
    }

    protected override void OnClosed(CloseReason reason)
    {
        _stats.Open--;
        if (reason is not (CloseReason.PeerClosed or CloseReason.LocalClose or CloseReason.LoopDisposed))
        {
            _stats.Errors++;
        }
    }
}

/// <summary>One loop's counters, written only by its loop thread.</summary>
internal sealed class LoopStats
{
    public long Accepted;
    public long Open;
    public long Reads;
    public long BytesIn;
    public long Errors;
}
