using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NoBlock.Tcp;

namespace HostedEcho;

/// <summary>
/// Listens on the hosted group "echo" when the host starts (the group is already running: NoBlock.Hosting starts loops
/// before hosted services) and says what it served when the host stops. The host closes the connections itself when
/// it stops the group.
/// </summary>
internal sealed partial class EchoService(
    [FromKeyedServices(Program.GroupName)] EventLoopGroup group,
    IOptions<EchoOptions> options,
    ILogger<EchoService> logger) : IHostedService
{
    private readonly EchoTotals _totals = new();

    public IPEndPoint? EndPoint { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        byte[]? faultOn = string.IsNullOrEmpty(o.FaultOn) ? null : Encoding.UTF8.GetBytes(o.FaultOn);
        EndPoint = group.Listen(o.EndPoint(), () =>
        {
            Interlocked.Increment(ref _totals.Accepted);
            Interlocked.Increment(ref _totals.Open);
            return new EchoConnection(_totals, faultOn);
        }, new TcpServerOptions { EdgeTriggered = o.EdgeTriggered, Backlog = 4096 });
        Listening(logger, EndPoint, group.Loops.Count, o.EdgeTriggered ? "edge" : "level");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Served(logger, Interlocked.Read(ref _totals.Accepted), Interlocked.Read(ref _totals.Bytes), Interlocked.Read(ref _totals.Open));
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "HostedEcho listening on {EndPoint} ({LoopCount} loops, {Trigger}-triggered)")]
    private static partial void Listening(ILogger logger, IPEndPoint endPoint, int loopCount, string trigger);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "HostedEcho stopping: {Accepted} connections, {Bytes} bytes echoed, {Open} still open (the host closes them)")]
    private static partial void Served(ILogger logger, long accepted, long bytes, long open);
}
