using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NoBlock;
using NoBlock.Hosting;
using NoBlock.Hosting.Configuration;
using NoBlock.Hosting.Lifetime;
using NoBlock.Tcp;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers NoBlock event loops with a Generic Host (docs/hosting.md).</summary>
public static class EventLoopServiceCollectionExtensions
{
    /// <summary>
    /// Registers an <see cref="EventLoop"/> named <paramref name="name"/>: a keyed singleton
    /// (<c>GetRequiredKeyedService&lt;EventLoop&gt;(name)</c>, <c>[FromKeyedServices(name)]</c>) that runs on a thread of
    /// its own from host start to host stop. Its options bind from configuration section
    /// <c>NoBlock:Loops:&lt;name&gt;</c> (e.g. <c>StallThreshold</c>), then <paramref name="configure"/> runs; a loop
    /// without a logger or meter factory gets the host's <see cref="ILoggerFactory"/> and <see cref="IMeterFactory"/>.
    /// Bad settings fail the host's start with the key and the value. On host stop the loop is stopped, its Run
    /// returns, it is disposed (its connections closed) within the shutdown timeout; if Run ends with an exception (a
    /// handler fault under <see cref="HandlerExceptionPolicy.StopLoop"/>), the fault is logged, the exit code set to 1
    /// and the application stopped.
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="name">The loop's name: its service key, configuration section, thread name, log and metric tag.</param>
    /// <param name="configure">Runs after the configuration is bound; may set anything, including callbacks.</param>
    /// <returns>The same services, for chaining.</returns>
    /// <exception cref="ArgumentException">The name is empty or contains ':' (the configuration path separator).</exception>
    /// <exception cref="InvalidOperationException">A loop or group of that name is already registered.</exception>
    public static IServiceCollection AddEventLoop(this IServiceCollection services, string name, Action<EventLoopOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        Claim(services, name, typeof(EventLoop));
        services.AddOptions();
        services.AddSingleton<IConfigureOptions<EventLoopOptions>>(sp => new ConfigureNamedOptions<EventLoopOptions>(name, o =>
        {
            o.Name = name;
            LoopSection.Bind(sp.GetService<IConfiguration>(), name, o, isGroup: false);
        }));
        if (configure is not null)
        {
            services.Configure(name, configure);
        }
        services.AddSingleton<IPostConfigureOptions<EventLoopOptions>>(sp => Defaults(sp, name));
        services.AddSingleton<IValidateOptions<EventLoopOptions>>(new LoopOptionsValidator(name));
        services.AddOptions<EventLoopOptions>(name).ValidateOnStart();
        services.AddKeyedSingleton(name, (sp, _) => new EventLoop(sp.GetRequiredService<IOptionsMonitor<EventLoopOptions>>().Get(name)));
        services.AddSingleton<IHostedService>(sp => new EventLoopHostedService(sp.GetRequiredKeyedService<EventLoop>(name), Faults(sp), HostingLogger(sp)));
        return services;
    }

    /// <summary>
    /// Registers an <see cref="EventLoopGroup"/> named <paramref name="name"/> — N loops on N threads (one per core by
    /// default), each named <c>&lt;name&gt;-&lt;index&gt;</c> — as a keyed singleton
    /// (<c>GetRequiredKeyedService&lt;EventLoopGroup&gt;(name)</c>), the twin of <see cref="AddEventLoop"/>: started
    /// before the hosted services start (so they can <see cref="EventLoopGroup.Listen"/> on it), options from
    /// <c>NoBlock:Loops:&lt;name&gt;</c> (<c>LoopCount</c> beside the loop settings) then <paramref name="configure"/>,
    /// the host's logger and meter factory, and the same stop and fault handling.
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="name">The group's name: its service key, configuration section and the prefix of its loops' names.</param>
    /// <param name="configure">Runs after the configuration is bound.</param>
    /// <returns>The same services, for chaining.</returns>
    /// <exception cref="ArgumentException">The name is empty or contains ':'.</exception>
    /// <exception cref="InvalidOperationException">A loop or group of that name is already registered.</exception>
    public static IServiceCollection AddEventLoopGroup(this IServiceCollection services, string name, Action<EventLoopGroupOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        Claim(services, name, typeof(EventLoopGroup));
        services.AddOptions();
        services.AddSingleton<IConfigureOptions<EventLoopGroupOptions>>(sp => new ConfigureNamedOptions<EventLoopGroupOptions>(name, o =>
        {
            o.Loop.Name = name;
            if (LoopSection.Bind(sp.GetService<IConfiguration>(), name, o.Loop, isGroup: true) is int count)
            {
                o.LoopCount = count;
            }
        }));
        if (configure is not null)
        {
            services.Configure(name, configure);
        }
        services.AddSingleton<IPostConfigureOptions<EventLoopGroupOptions>>(sp => Defaults(sp, name));
        services.AddSingleton<IValidateOptions<EventLoopGroupOptions>>(new LoopOptionsValidator(name));
        services.AddOptions<EventLoopGroupOptions>(name).ValidateOnStart();
        services.AddKeyedSingleton(name, (sp, _) =>
        {
            var options = sp.GetRequiredService<IOptionsMonitor<EventLoopGroupOptions>>().Get(name);
            return new EventLoopGroup(options.LoopCount, options.Loop);
        });
        services.AddSingleton<IHostedService>(sp => new EventLoopGroupHostedService(name, sp.GetRequiredKeyedService<EventLoopGroup>(name), Faults(sp), HostingLogger(sp)));
        return services;
    }

    /// <summary>One name, one loop or group, one configuration section: refuse a second registration of it.</summary>
    private static void Claim(IServiceCollection services, string name, Type kind)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name.Contains(':', StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"'{name}' cannot name an event loop: ':' separates configuration sections, and the loop's settings live under {LoopSection.PathOf("<name>")}. Use letters, digits, '-' or '_'.",
                nameof(name));
        }
        foreach (var d in services)
        {
            if (d.IsKeyedService && (d.ServiceType == typeof(EventLoop) || d.ServiceType == typeof(EventLoopGroup))
                && d.ServiceKey is string key && string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
            {
                string existing = d.ServiceType == typeof(EventLoop) ? "an event loop" : "an event-loop group";
                throw new InvalidOperationException(
                    $"{existing} named '{key}' is already registered, so {(kind == typeof(EventLoop) ? "AddEventLoop" : "AddEventLoopGroup")}(\"{name}\") cannot register another: " +
                    $"each name is one loop or group with one configuration section ({LoopSection.PathOf(name)}, names compared ignoring case). Give it another name.");
            }
        }
    }

    private static LoopHostDefaults Defaults(IServiceProvider sp, string name) =>
        new(name, sp.GetService<ILoggerFactory>(), sp.GetService<IMeterFactory>());

    private static LoopFaults Faults(IServiceProvider sp) =>
        new(sp.GetRequiredService<IHostApplicationLifetime>(), HostingLogger(sp));

    private static ILogger HostingLogger(IServiceProvider sp) =>
        sp.GetService<ILoggerFactory>()?.CreateLogger(Log.Category) ?? (ILogger)Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
}
