using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using NoBlock.Samples;

namespace HostedEcho;

/// <summary>
/// The echo server as a Generic Host application: <c>dotnet run --project samples/HostedEcho [-- --port 5000]</c>.
/// Settings come from appsettings.json (beside the program), environment variables (<c>Echo__Port</c>,
/// <c>NoBlock__Loops__echo__StallThreshold</c>) and these options, in that order; Ctrl+C or SIGTERM stops it.
/// </summary>
internal static class Program
{
    /// <summary>The hosted loop group's name: its service key and configuration section NoBlock:Loops:echo.</summary>
    public const string GroupName = "echo";

    /// <summary>Exit codes: 0 stopped by Ctrl+C/SIGTERM; 1 a loop fault (StopLoop) or a failed start; 2 bad arguments.</summary>
    private const int StartFailed = 1;

    private static int Main(string[] args)
    {
        var port = CommandLines.Number("--port", 0, 65535, "TCP port to listen on (Echo:Port, default 5000; 0 picks a free port)");
        var address = CommandLines.Address("--address", "address to bind (Echo:Address, default 127.0.0.1)");
        var loops = CommandLines.Number("--loops", 1, 1024, "event loops, one thread and one SO_REUSEPORT listener each (NoBlock:Loops:echo:LoopCount; default one per core)");
        var edgeTriggered = new Option<bool>("--edge-triggered") { Description = "register sockets with EPOLLET instead of level-triggered (Echo:EdgeTriggered)" };
        var faultOn = new Option<string?>("--fault-on")
        {
            HelpName = "TEXT",
            Description = "demonstrate the handler fault policies: a connection that sends TEXT makes its handler throw; under " +
                "NoBlock:Loops:echo:HandlerExceptionPolicy=StopLoop the application stops with exit code 1 (Echo:FaultOn)",
        };
        var root = new RootCommand(
            "A TCP echo server on NoBlock's EventLoop, run by a Generic Host (NoBlock.Hosting's AddEventLoopGroup). " +
            "Settings: appsettings.json beside the program, then environment variables (Echo__Port=5001, " +
            "NoBlock__Loops__echo__StallThreshold=00:00:00.250), then these options. Ctrl+C or SIGTERM stops it. " +
            "Exit codes: 0 stopped; 1 a loop fault under StopLoop, or a failed start (port in use, bad setting); 2 bad arguments.")
        {
            port, address, loops, edgeTriggered, faultOn,
        };
        root.SetAction(parsed =>
        {
            // Only the options given override the configuration files.
            var overrides = new Dictionary<string, string?>();
            if (parsed.GetValue(port) is int p)
            {
                overrides["Echo:Port"] = p.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            if (parsed.GetValue(address) is { } a)
            {
                overrides["Echo:Address"] = a.ToString();
            }
            if (parsed.GetValue(loops) is int n)
            {
                overrides[$"NoBlock:Loops:{GroupName}:LoopCount"] = n.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            if (parsed.GetValue(edgeTriggered))
            {
                overrides["Echo:EdgeTriggered"] = "true";
            }
            if (parsed.GetValue(faultOn) is { } text)
            {
                overrides["Echo:FaultOn"] = text;
            }
            return Run(overrides);
        });
        return CommandLines.Run(root, args);
    }

    private static int Run(Dictionary<string, string?> overrides)
    {
        // Args stay with System.CommandLine; appsettings.json is read from beside the program, wherever it is run from.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(overrides);
        builder.Services.AddOptions<EchoOptions>()
            .Bind(builder.Configuration.GetSection(EchoOptions.Section))
            .Validate(o => IPAddress.TryParse(o.Address, out _), "Echo:Address is not an IP address such as 127.0.0.1")
            .Validate(o => o.Port is >= 0 and <= 65535, "Echo:Port must be 0 to 65535 (0 picks a free port)")
            .ValidateOnStart();
        builder.Services.AddEventLoopGroup(GroupName);
        builder.Services.AddHostedService<EchoService>();
        using var host = builder.Build();
        try
        {
            host.Run();
        }
        catch (SocketException ex)
        {
            var o = builder.Configuration.GetSection(EchoOptions.Section).Get<EchoOptions>() ?? new EchoOptions();
            Console.Error.WriteLine($"HostedEcho: cannot listen on {o.Address}:{o.Port}: {ex.Message}");
            return StartFailed;
        }
        catch (OptionsValidationException ex)
        {
            Console.Error.WriteLine($"HostedEcho: bad settings: {ex.Message}");
            return StartFailed;
        }
        return Environment.ExitCode; // 1 after a loop fault (NoBlock.Hosting sets it), else 0
    }
}
