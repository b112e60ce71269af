using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NoBlock.Tcp;
using Xunit;

namespace NoBlock.Hosting.Tests;

/// <summary>AddEventLoop on a real host: a keyed singleton loop on its own thread, from host start to host stop.</summary>
public sealed class HostedLoopTests
{
    [Fact]
    public async Task The_keyed_loop_runs_on_its_own_thread_from_start_to_stop_then_is_released()
    {
        using var host = TestHost.Build(b => b.Services.AddEventLoop("main"));
        var loop = host.Services.GetRequiredKeyedService<EventLoop>("main");
        Assert.Same(loop, host.Services.GetRequiredKeyedService<EventLoop>("main"));
        Assert.Equal("main", loop.Name);
        Assert.False(loop.IsRunning);

        await host.StartAsync().Within("host start");
        Assert.True(loop.IsRunning);
        var (threadName, threadId) = await loop.OnLoop(() => (Thread.CurrentThread.Name, Environment.CurrentManagedThreadId)).Within("posted work");
        Assert.Equal("main", threadName);
        Assert.NotEqual(Environment.CurrentManagedThreadId, threadId);

        await host.StopAsync().Within("host stop");
        Assert.False(loop.IsRunning);
        Assert.Throws<ObjectDisposedException>(() => loop.Post(() => { })); // released by the stop, not left to the container
        Assert.Contains(host.Logs().GetSnapshot(), r => r.Id.Id == 2002 && r.Message.Contains("main"));
    }

    [Fact]
    public async Task Hosted_services_see_the_loop_running_in_StartAsync_and_StopAsync_whatever_the_registration_order()
    {
        var seen = new List<(string Phase, bool Running)>();
        using var host = TestHost.Build(b =>
        {
            // Registered before the loop: a plain hosted service would start before it and stop after it.
            b.Services.AddHostedService(sp => new Probe(sp.GetRequiredKeyedService<EventLoop>("main"), seen));
            b.Services.AddEventLoop("main");
        });
        await host.StartAsync().Within("host start");
        await host.StopAsync().Within("host stop");
        Assert.Equal([("start", true), ("stop", true)], seen);
    }

    [Fact]
    public async Task Host_stop_closes_the_loops_connections()
    {
        lock (EchoConnection.Closes)
        {
            EchoConnection.Closes.Clear();
        }
        using var host = TestHost.Build(b => b.Services.AddEventLoop("main"));
        await host.StartAsync().Within("host start");
        var loop = host.Services.GetRequiredKeyedService<EventLoop>("main");
        var acceptor = await loop.OnLoop(() => TcpAcceptor.Listen(loop, TestHost.AnyLoopbackPort, () => new EchoConnection())).Within("listen on the loop");
        using var client = TestHost.Connect(acceptor.LocalEndPoint);
        Assert.Equal([1, 2, 3], TestHost.Echo(client, [1, 2, 3]));

        await host.StopAsync().Within("host stop");
        Assert.True(TestHost.SeesClose(client), "the client's connection was not closed by the host's stop");
        lock (EchoConnection.Closes)
        {
            Assert.Equal([CloseReason.LoopDisposed], EchoConnection.Closes);
        }
    }

    [Fact]
    public async Task A_failed_host_start_still_stops_and_releases_the_loop_and_keeps_the_start_error()
    {
        EventLoop? loop = null;
        var host = TestHost.Build(b =>
        {
            b.Services.AddEventLoop("main");
            b.Services.AddHostedService<FailingStart>();
        });
        loop = host.Services.GetRequiredKeyedService<EventLoop>("main");
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());
        Assert.Equal(FailingStart.Message, ex.Message);
        host.Dispose(); // what Host.Run's finally does: must neither throw nor leave the loop running
        Assert.False(loop.IsRunning);
        Assert.Throws<ObjectDisposedException>(() => loop.Post(() => { }));
    }

    [Fact]
    public async Task A_loop_stuck_in_a_handler_past_the_shutdown_timeout_is_reported_and_left_running()
    {
        using var release = new ManualResetEventSlim();
        using var host = TestHost.Build(b =>
        {
            b.Services.AddEventLoop("main", o => o.Watchdog.Enabled = false);
            b.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromMilliseconds(200));
        });
        await host.StartAsync().Within("host start");
        var loop = host.Services.GetRequiredKeyedService<EventLoop>("main");
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Post(() =>
        {
            entered.SetResult();
            release.Wait(TestHost.Long); // a blocked handler, the thing the host cannot interrupt
        });
        await entered.Task.Within("the blocking handler");
        try
        {
            await host.StopAsync().Within("host stop (ends at its shutdown timeout)");
            Assert.True(loop.IsRunning, "the loop stopped although its handler was still blocked");
            Assert.Contains(host.Logs().GetSnapshot(), r => r.Id.Id == 2004 && r.Level == LogLevel.Error && r.Message.Contains("main"));
        }
        finally
        {
            release.Set();
        }
        // Once the handler returns the loop honours the stop; the host's disposal then releases it.
        SpinWait.SpinUntil(() => !loop.IsRunning, TestHost.Long);
        Assert.False(loop.IsRunning);
    }

    [Fact]
    public async Task Without_a_logger_or_meter_factory_the_loop_gets_the_hosts()
    {
        using var host = TestHost.Build(b => b.Services.AddEventLoop("main"));
        await host.StartAsync().Within("host start");
        var loop = host.Services.GetRequiredKeyedService<EventLoop>("main");
        Assert.Same(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), loop.Options.MeterFactory);
        loop.Post(() => throw new InvalidOperationException("handler bug")); // CloseRegistration: logged, the loop goes on
        Assert.Equal(5, await loop.OnLoop(() => 5).Within("the loop after the fault"));
        var record = Assert.Single(host.Logs().GetSnapshot(), r => r.Category == "NoBlock.EventLoop" && r.Level == LogLevel.Error);
        Assert.Equal("handler bug", record.Exception?.Message);
        await host.StopAsync().Within("host stop");
        Assert.Equal(0, Environment.ExitCode);
    }

    [Fact]
    public async Task A_logger_set_in_configure_is_kept()
    {
        var own = new Microsoft.Extensions.Logging.Testing.FakeLogger();
        using var host = TestHost.Build(b => b.Services.AddEventLoop("main", o => o.Logger = own));
        await host.StartAsync().Within("host start");
        var loop = host.Services.GetRequiredKeyedService<EventLoop>("main");
        loop.Post(() => throw new InvalidOperationException("handler bug"));
        await loop.OnLoop(() => 0).Within("the loop after the fault");
        await host.StopAsync().Within("host stop");
        Assert.Contains(own.Collector.GetSnapshot(), r => r.Exception?.Message == "handler bug");
        Assert.DoesNotContain(host.Logs().GetSnapshot(), r => r.Category == "NoBlock.EventLoop");
    }

    [Fact]
    public async Task Start_and_stop_hold_over_many_cycles()
    {
        // Races between the loop thread's first turn, the host's start, a post and the stop: bounded in count and time.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        int cycles = 0;
        for (; cycles < 300 && DateTime.UtcNow < deadline; cycles++)
        {
            using var host = TestHost.Build(b => b.Services.AddEventLoop("main"));
            await host.StartAsync().Within("host start");
            var loop = host.Services.GetRequiredKeyedService<EventLoop>("main");
            Assert.True(loop.IsRunning);
            if (cycles % 2 == 0)
            {
                Assert.Equal(cycles, await loop.OnLoop(() => cycles).Within("posted work"));
            }
            await host.StopAsync().Within("host stop");
            Assert.False(loop.IsRunning);
        }
        Assert.True(cycles >= 20, $"only {cycles} cycles ran");
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("a:b")]
    public void A_name_that_cannot_be_a_configuration_section_is_refused(string name)
    {
        var services = new ServiceCollection();
        var ex = Assert.ThrowsAny<ArgumentException>(() => services.AddEventLoop(name));
        Assert.Equal("name", ex.ParamName);
    }

    [Fact]
    public void A_name_is_one_loop_or_group_ignoring_case()
    {
        var services = new ServiceCollection().AddEventLoop("main");
        Assert.Contains("already registered", Assert.Throws<InvalidOperationException>(() => services.AddEventLoop("main")).Message);
        Assert.Contains("already registered", Assert.Throws<InvalidOperationException>(() => services.AddEventLoopGroup("Main")).Message);
        services.AddEventLoop("other"); // a different name is fine
    }

    private sealed class Probe(EventLoop loop, List<(string, bool)> seen) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            seen.Add(("start", loop.IsRunning));
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            seen.Add(("stop", loop.IsRunning));
            return Task.CompletedTask;
        }
    }

    private sealed class FailingStart : IHostedService
    {
        public const string Message = "this service cannot start";

        public Task StartAsync(CancellationToken cancellationToken) => throw new InvalidOperationException(Message);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
