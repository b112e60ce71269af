using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NoBlock;

// A hosted loop from the packed NoBlock.Hosting package: it runs on its own thread, work posted to it runs there, and the
// host's stop releases it (exit 0). With "fault", a handler throws under HandlerExceptionPolicy.StopLoop: the application
// stops with exit code 1 and the fault logged.
bool fault = args.Contains("fault");
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
builder.Services.AddEventLoop("main", o =>
{
    if (fault)
    {
        o.HandlerExceptionPolicy = HandlerExceptionPolicy.StopLoop;
    }
});
builder.Services.AddHostedService<Probe>();
builder.Build().Run();
Console.WriteLine($"consumer: exit code {Environment.ExitCode}");
return Environment.ExitCode;

internal sealed class Probe([FromKeyedServices("main")] EventLoop loop, IHostApplicationLifetime lifetime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        bool fault = Environment.GetCommandLineArgs().Contains("fault");
        loop.Post(() =>
        {
            Console.WriteLine($"consumer: loop '{loop.Name}' runs on thread '{Thread.CurrentThread.Name}', logger {loop.Options.Logger?.GetType().Name ?? "none"}, meter factory {(loop.Options.MeterFactory is null ? "none" : "the host's")}");
            if (fault)
            {
                throw new InvalidOperationException("a handler bug");
            }
            lifetime.StopApplication();
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
