using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NoBlock.Tcp;
using Xunit;

namespace NoBlock.Hosting.Tests;

/// <summary>Options from configuration section NoBlock:Loops:&lt;name&gt;, then the configure callback; bad values fail the start clearly.</summary>
public sealed class ConfigurationTests
{
    [Fact]
    public async Task Options_bind_from_the_loops_section_then_configure_runs()
    {
        TimeSpan thresholdSeenByConfigure = default;
        using var host = TestHost.Build(
            b => b.Services.AddEventLoop("main", o =>
            {
                thresholdSeenByConfigure = o.StallThreshold;
                o.MaxEventsPerPoll = 64; // the callback wins over the configuration
            }),
            new Dictionary<string, string?>
            {
                ["NoBlock:Loops:main:StallThreshold"] = "00:00:00.250",
                ["NoBlock:Loops:main:MaxEventsPerPoll"] = "32",
                ["NoBlock:Loops:main:HandlerExceptionPolicy"] = "StopLoop",
                ["NoBlock:Loops:main:Watchdog:MaxReportsPerMinute"] = "2",
                ["NoBlock:Loops:main:Guards:EdgeTriggeredLeftovers"] = "true",
                ["NoBlock:Loops:other:StallThreshold"] = "00:00:05", // another loop's section: not this one's
            });
        var options = host.Services.GetRequiredKeyedService<EventLoop>("main").Options;
        Assert.Equal(TimeSpan.FromMilliseconds(250), thresholdSeenByConfigure);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.StallThreshold);
        Assert.Equal(64, options.MaxEventsPerPoll);
        Assert.Equal(HandlerExceptionPolicy.StopLoop, options.HandlerExceptionPolicy);
        Assert.Equal(2, options.Watchdog.MaxReportsPerMinute);
        Assert.True(options.Guards.EdgeTriggeredLeftovers);
        Assert.Equal("main", options.Name);
        await host.StartAsync().Within("host start");
        await host.StopAsync().Within("host stop");
    }

    [Fact]
    public void A_group_binds_LoopCount_beside_the_loop_settings()
    {
        using var host = TestHost.Build(
            b => b.Services.AddEventLoopGroup("echo"),
            new Dictionary<string, string?>
            {
                ["NoBlock:Loops:echo:LoopCount"] = "3",
                ["NoBlock:Loops:echo:StallThreshold"] = "00:00:00.200",
            });
        var group = host.Services.GetRequiredKeyedService<EventLoopGroup>("echo");
        Assert.Equal(["echo-0", "echo-1", "echo-2"], group.Loops.Select(l => l.Name));
        Assert.All(group.Loops, l => Assert.Equal(TimeSpan.FromMilliseconds(200), l.Options.StallThreshold));
        group.Dispose();
    }

    [Theory]
    [InlineData("StalThreshold", "1", "NoBlock:Loops:main:StalThreshold is not a setting of an event loop. Settings: StallThreshold")]
    [InlineData("StallThreshold", "fast", "NoBlock:Loops:main:StallThreshold = 'fast' is not a duration (hh:mm:ss.fff, e.g. 00:00:00.250 for 250 ms)")]
    [InlineData("StallThreshold", "-00:00:01", "NoBlock:Loops:main:StallThreshold = -00:00:01: the stall threshold must be positive")]
    [InlineData("StallThreshold", "00:00:00", "NoBlock:Loops:main:StallThreshold = 00:00:00: the stall threshold must be positive")]
    [InlineData("HandlerExceptionPolicy", "Crash", "NoBlock:Loops:main:HandlerExceptionPolicy = 'Crash' is not one of CloseRegistration, StopLoop")]
    [InlineData("HandlerExceptionPolicy", "7", "NoBlock:Loops:main:HandlerExceptionPolicy = '7' is not one of CloseRegistration, StopLoop")]
    [InlineData("MaxEventsPerPoll", "0", "NoBlock:Loops:main:MaxEventsPerPoll = 0: must be positive")]
    [InlineData("MaxPostedPerTurn", "lots", "NoBlock:Loops:main:MaxPostedPerTurn = 'lots' is not a whole number")]
    [InlineData("Watchdog:Enabled", "maybe", "NoBlock:Loops:main:Watchdog:Enabled = 'maybe' is not true or false")]
    [InlineData("Watchdog:MaxReportsPerMinute", "-1", "NoBlock:Loops:main:Watchdog:MaxReportsPerMinute = -1: must be 0 (count only) or more")]
    [InlineData("Watchdog:Volume", "11", "NoBlock:Loops:main:Watchdog:Volume is not a setting of StallWatchdogOptions")]
    [InlineData("Watchdog", "off", "NoBlock:Loops:main:Watchdog is a group of settings")]
    [InlineData("Name", "other", "NoBlock:Loops:main:Name: a loop's name is its key under NoBlock:Loops")]
    [InlineData("OnStall", "Console.WriteLine", "NoBlock:Loops:main:OnStall cannot be set from configuration")]
    [InlineData("LoopCount", "2", "NoBlock:Loops:main:LoopCount is not a setting of an event loop")]
    public async Task A_bad_setting_fails_the_start_with_its_key_and_value(string key, string value, string expected)
    {
        using var host = TestHost.Build(b => b.Services.AddEventLoop("main"), new Dictionary<string, string?> { [$"NoBlock:Loops:main:{key}"] = value });
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(expected, ex.Message);
        Assert.Equal("main", ex.OptionsName);
    }

    [Fact]
    public async Task Every_bad_setting_is_reported_at_once()
    {
        using var host = TestHost.Build(b => b.Services.AddEventLoop("main"), new Dictionary<string, string?>
        {
            ["NoBlock:Loops:main:StallThreshold"] = "fast",
            ["NoBlock:Loops:main:MaxEventsPerPol"] = "8",
        });
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Equal(2, ex.Failures.Count());
    }

    [Fact]
    public async Task A_bad_value_set_in_configure_is_reported_too()
    {
        using var host = TestHost.Build(b => b.Services.AddEventLoop("main", o => o.StallThreshold = TimeSpan.FromSeconds(-1)));
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("NoBlock:Loops:main:StallThreshold = -00:00:01: the stall threshold must be positive", ex.Message);
    }

    [Theory]
    [InlineData("-1", "NoBlock:Loops:echo:LoopCount = -1: use 1 to 1024 loops, or 0 for one per core")]
    [InlineData("5000", "NoBlock:Loops:echo:LoopCount = 5000: use 1 to 1024 loops")]
    [InlineData("many", "NoBlock:Loops:echo:LoopCount = 'many' is not a whole number")]
    public async Task A_bad_group_LoopCount_fails_the_start(string value, string expected)
    {
        using var host = TestHost.Build(b => b.Services.AddEventLoopGroup("echo"), new Dictionary<string, string?> { ["NoBlock:Loops:echo:LoopCount"] = value });
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public async Task Infinite_threshold_is_allowed_and_turns_the_watchdog_off()
    {
        using var host = TestHost.Build(b => b.Services.AddEventLoop("main", o => o.StallThreshold = Timeout.InfiniteTimeSpan));
        await host.StartAsync().Within("host start");
        await host.StopAsync().Within("host stop");
    }
}
