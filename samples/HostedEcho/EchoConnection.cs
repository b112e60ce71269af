using System.Text;
using NoBlock.Tcp;

namespace HostedEcho;

/// <summary>Sends back every byte it receives; counts into the service's totals.</summary>
internal sealed class EchoConnection(EchoTotals totals, byte[]? faultOn) : TcpConnection
{
    protected override void OnData(ReadOnlySpan<byte> data)
    {
        if (faultOn is not null && data.IndexOf(faultOn) >= 0)
        {
            throw new InvalidOperationException($"received the Echo:FaultOn text '{Encoding.UTF8.GetString(faultOn)}' (a demonstration of the handler fault policies)");
        }
        Interlocked.Add(ref totals.Bytes, data.Length);
        Send(data);
    }

    protected override void OnClosed(CloseReason reason) => Interlocked.Decrement(ref totals.Open);
}

/// <summary>What the service reports at stop. Shared by the loops: Interlocked, a handful of atomic adds per read.</summary>
internal sealed class EchoTotals
{
    public long Accepted;
    public long Open;
    public long Bytes;
}
