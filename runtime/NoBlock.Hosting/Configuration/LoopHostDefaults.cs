using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace NoBlock.Hosting.Configuration;

/// <summary>
/// After configuration and the configure callback: the host's logger and meter factory for a loop that has none set
/// explicitly. A post-configure step, so that whatever the application set wins.
/// </summary>
internal sealed class LoopHostDefaults(string name, ILoggerFactory? loggerFactory, IMeterFactory? meterFactory)
    : IPostConfigureOptions<EventLoopOptions>, IPostConfigureOptions<EventLoopGroupOptions>
{
    public void PostConfigure(string? optionsName, EventLoopOptions options)
    {
        if (optionsName == name)
        {
            Apply(options);
        }
    }

    public void PostConfigure(string? optionsName, EventLoopGroupOptions options)
    {
        if (optionsName == name && options.Loop is not null)
        {
            Apply(options.Loop);
        }
    }

    private void Apply(EventLoopOptions options)
    {
        options.Logger ??= loggerFactory?.CreateLogger<EventLoop>();
        options.MeterFactory ??= meterFactory;
    }
}
