using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NoBlock.Tcp;
using Xunit;

namespace NoBlock.Hosting.Tests;

/// <summary>A loop that stops on a fault (HandlerExceptionPolicy.StopLoop) stops the application: logged, exit code 1.</summary>
public sealed class FaultTests : IDisposable
{
    public void Dispose() => Environment.ExitCode = 0; // the test process's own exit code must stay 0

    [Fact]
    public async Task A_StopLoop_fault_logs_sets_exit_code_1_and_stops_the_application()
    {
        using var host = TestHost.Build(b => b.Services.AddEventLoop("main"), new Dictionary<string, string?>
        {
            ["NoBlock:Loops:main:HandlerExceptionPolicy"] = "StopLoop",
        });
        await host.StartAsync().Within("host start");
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        var loop = host.Services.GetRequiredKeyedService<EventLoop>("main");
        Assert.False(lifetime.ApplicationStopping.IsCancellationRequested);

        loop.Post(() => throw new InvalidOperationException("handler bug"));
        await host.WaitForShutdownAsync().Within("the application to stop after the fault");

        Assert.Equal(1, Environment.ExitCode);
        Assert.False(loop.IsRunning);
        var critical = Assert.Single(host.Logs().GetSnapshot(), r => r.Id.Id == 2003);
        Assert.Equal(LogLevel.Critical, critical.Level);
        Assert.Equal("handler bug", critical.Exception?.Message);
        Assert.Contains("Loop main stopped on an unhandled exception", critical.Message);
        Assert.Throws<ObjectDisposedException>(() => loop.Post(() => { }));
    }

    [Fact]
    public async Task An_exit_code_the_application_set_is_kept()
    {
        Environment.ExitCode = 3;
        using var host = TestHost.Build(b => b.Services.AddEventLoop("main", o => o.HandlerExceptionPolicy = HandlerExceptionPolicy.StopLoop));
        await host.StartAsync().Within("host start");
        host.Services.GetRequiredKeyedService<EventLoop>("main").Post(() => throw new InvalidOperationException("handler bug"));
        await host.WaitForShutdownAsync().Within("the application to stop after the fault");
        Assert.Equal(3, Environment.ExitCode);
    }

    [Fact]
    public async Task Under_the_default_policy_a_fault_closes_only_its_registration()
    {
        using var host = TestHost.Build(b => b.Services.AddEventLoop("main"));
        await host.StartAsync().Within("host start");
        var loop = host.Services.GetRequiredKeyedService<EventLoop>("main");
        loop.Post(() => throw new InvalidOperationException("handler bug"));
        Assert.Equal(1, await loop.OnLoop(() => 1).Within("the loop after the fault"));
        Assert.False(host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested);
        Assert.Equal(0, Environment.ExitCode);
        await host.StopAsync().Within("host stop");
    }

    [Fact]
    public async Task A_StopLoop_fault_in_a_group_loop_stops_the_application()
    {
        using var host = TestHost.Build(b => b.Services.AddEventLoopGroup("echo", o =>
        {
            o.LoopCount = 2;
            o.Loop.HandlerExceptionPolicy = HandlerExceptionPolicy.StopLoop;
        }));
        await host.StartAsync().Within("host start");
        var group = host.Services.GetRequiredKeyedService<EventLoopGroup>("echo");
        group.Loops[1].Post(() => throw new InvalidOperationException("handler bug"));
        await host.WaitForShutdownAsync().Within("the application to stop after the fault");
        Assert.Equal(1, Environment.ExitCode);
        Assert.All(group.Loops, l => Assert.False(l.IsRunning));
        var critical = Assert.Single(host.Logs().GetSnapshot(), r => r.Id.Id == 2003);
        Assert.Contains("echo-1", critical.Message);
    }
}
