using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Xunit;

namespace NoBlock.Hosting.Tests;

/// <summary>EventLoopOptions.MeterFactory: the loop's instruments on the factory's meter NoBlock (same names), not the process-wide one.</summary>
public sealed class MeterTests
{
    [Fact]
    public async Task A_hosted_loop_records_on_the_hosts_meter_factory()
    {
        using var host = TestHost.Build(b => b.Services.AddEventLoop("main"));
        var factory = host.Services.GetRequiredService<IMeterFactory>();
        using var hosted = new MetricCollector<double>(factory, "NoBlock", "noblock.loop.handler.duration");
        using var global = new MetricCollector<double>((object?)null, "NoBlock", "noblock.loop.handler.duration");
        await host.StartAsync().Within("host start");
        var loop = host.Services.GetRequiredKeyedService<EventLoop>("main");
        await loop.OnLoop(() => 0).Within("posted work");
        await host.StopAsync().Within("host stop");

        Assert.Contains(hosted.GetMeasurementSnapshot(), m => Equals(m.Tags["noblock.loop.name"], "main"));
        Assert.Same(factory, hosted.Instrument!.Meter.Scope);
        Assert.DoesNotContain(global.GetMeasurementSnapshot(), m => Equals(m.Tags["noblock.loop.name"], "main"));
    }

    [Fact]
    public async Task Loops_on_one_factory_share_its_meter_and_instruments()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        using var events = new MetricCollector<long>(factory, "NoBlock", "noblock.loop.events");
        using var a = new EventLoop(new EventLoopOptions { Name = "a", MeterFactory = factory });
        using var b = new EventLoop(new EventLoopOptions { Name = "b", MeterFactory = factory });
        foreach (var loop in new[] { a, b })
        {
            var thread = new Thread(loop.Run);
            thread.Start();
            // An eventfd holding a count is readable: the loop dispatches a readiness event to its handler (a wake-up
            // of the loop itself is the selector's own business and is not counted as a dispatched event).
            int fd = Tmds.Linux.LibC.eventfd(1, Tmds.Linux.LibC.EFD_NONBLOCK | Tmds.Linux.LibC.EFD_CLOEXEC);
            Assert.True(fd >= 0, "eventfd");
            var dispatched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var registration = await loop.OnLoop(() => loop.Register(fd, IoEvents.Readable, _ => dispatched.TrySetResult())).Within("register");
            await dispatched.Task.Within("readiness event");
            await loop.OnLoop(() => { registration.Dispose(); return 0; }).Within("unregister");
            Tmds.Linux.LibC.close(fd);
            loop.Stop();
            thread.Join();
        }
        Assert.Contains(events.GetMeasurementSnapshot(), m => Equals(m.Tags["noblock.loop.name"], "a"));
        Assert.Contains(events.GetMeasurementSnapshot(), m => Equals(m.Tags["noblock.loop.name"], "b"));
        Assert.Equal(["noblock.loop.events"], events.GetMeasurementSnapshot().Select(_ => events.Instrument!.Name).Distinct());
    }
}
