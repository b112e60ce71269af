using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace NoBlock.Hosting.Lifetime;

/// <summary>
/// What a hosted loop's fault does to the application: a loop whose <see cref="EventLoop.Run"/> ended with an
/// exception (a handler fault under <see cref="HandlerExceptionPolicy.StopLoop"/>, or a failure of the loop itself)
/// is logged, sets a non-zero exit code and stops the application — the host then stops the other loops and services
/// cleanly — instead of leaving the application running without its loop, or tearing the process down.
/// </summary>
internal sealed class LoopFaults(IHostApplicationLifetime lifetime, ILogger logger)
{
    /// <summary>
    /// The process's exit code after a loop fault (through <see cref="Environment.ExitCode"/>, which a Generic Host
    /// application returns when its Main ends after <c>Run</c>): 1, any failure to a supervisor such as systemd or
    /// Kubernetes. An exit code the application already set is kept.
    /// </summary>
    public const int ExitCode = 1;

    public void OnFault(string loopName, Exception exception)
    {
        Log.LoopFaulted(logger, exception, loopName, ExitCode);
        if (Environment.ExitCode == 0)
        {
            Environment.ExitCode = ExitCode;
        }
        lifetime.StopApplication();
    }
}
