using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NoBlock.Tcp;
using Xunit;

namespace NoBlock.Hosting.Tests;

/// <summary>AddEventLoopGroup: the twin of AddEventLoop for several loops.</summary>
public sealed class GroupTests
{
    [Fact]
    public async Task A_hosted_service_listens_on_the_started_group_and_host_stop_closes_everything()
    {
        lock (EchoConnection.Closes)
        {
            EchoConnection.Closes.Clear();
        }
        using var host = TestHost.Build(b =>
        {
            b.Services.AddEventLoopGroup("echo", o => o.LoopCount = 2);
            b.Services.AddSingleton<Listener>();
            b.Services.AddHostedService(sp => sp.GetRequiredService<Listener>());
        });
        await host.StartAsync().Within("host start");
        var group = host.Services.GetRequiredKeyedService<EventLoopGroup>("echo");
        Assert.Equal(["echo-0", "echo-1"], group.Loops.Select(l => l.Name));
        Assert.All(group.Loops, l => Assert.True(l.IsRunning));
        Assert.Equal(2, group.Acceptors.Count);

        var endPoint = host.Services.GetRequiredService<Listener>().EndPoint!;
        var clients = Enumerable.Range(0, 8).Select(_ => TestHost.Connect(endPoint)).ToList();
        try
        {
            foreach (var c in clients)
            {
                Assert.Equal([7], TestHost.Echo(c, [7]));
            }
            await host.StopAsync().Within("host stop");
            Assert.All(clients, c => Assert.True(TestHost.SeesClose(c)));
            Assert.All(group.Loops, l => Assert.False(l.IsRunning));
            lock (EchoConnection.Closes)
            {
                Assert.Equal(8, EchoConnection.Closes.Count(r => r == CloseReason.LoopDisposed));
            }
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task Every_loop_of_a_hosted_group_gets_the_hosts_logger_and_meter_factory()
    {
        using var host = TestHost.Build(b => b.Services.AddEventLoopGroup("echo", o => o.LoopCount = 2));
        await host.StartAsync().Within("host start");
        var factory = host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        var group = host.Services.GetRequiredKeyedService<EventLoopGroup>("echo");
        Assert.All(group.Loops, l =>
        {
            Assert.Same(factory, l.Options.MeterFactory);
            Assert.NotNull(l.Options.Logger);
        });
        await host.StopAsync().Within("host stop");
    }

    private sealed class Listener(IServiceProvider services) : IHostedService
    {
        public IPEndPoint? EndPoint { get; private set; }

        public Task StartAsync(CancellationToken cancellationToken)
        {
            var group = services.GetRequiredKeyedService<EventLoopGroup>("echo");
            EndPoint = group.Listen(TestHost.AnyLoopbackPort, () => new EchoConnection());
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
