using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace NoBlock.Hosting.Lifetime;

/// <summary>
/// Runs one hosted <see cref="EventLoop"/> from host start to host stop. It starts the loop in the host's
/// <em>starting</em> phase and stops it in the <em>stopped</em> phase, so the loop runs before every hosted service's
/// StartAsync and after every StopAsync, whatever the registration order: services may Post to it, listen on it and
/// say goodbye on it. Stop: <see cref="EventLoop.Stop"/>, wait (within the host's shutdown timeout) for
/// <see cref="EventLoop.Run"/> to return, then <see cref="EventLoop.Dispose"/>, which closes its connections.
/// </summary>
internal sealed class EventLoopHostedService(EventLoop loop, LoopFaults faults, ILogger logger) : IHostedLifecycleService, IDisposable
{
    private LoopRunner? _runner;
    private int _released;

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        _runner = LoopRunner.Start(loop, ex => faults.OnFault(loop.Name, ex));
        await _runner.Running.WaitAsync(cancellationToken).ConfigureAwait(false);
        Log.LoopStarted(logger, loop.Name);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        if (_runner is null)
        {
            Release();
            return;
        }
        loop.Stop();
        if (await StoppedWithin(_runner.Completion, cancellationToken).ConfigureAwait(false))
        {
            Release();
        }
    }

    /// <summary>
    /// The container disposes this service before the loop (it was made after it). After a normal stop there is nothing
    /// left to do; after a failed host start (StoppedAsync never runs) this stops the loop so the container's own
    /// Dispose of it does not find it running.
    /// </summary>
    public void Dispose()
    {
        if (Volatile.Read(ref _released) != 0)
        {
            return;
        }
        if (_runner is { } runner && !runner.Completion.IsCompleted)
        {
            loop.Stop();
            if (!((IAsyncResult)runner.Completion).AsyncWaitHandle.WaitOne(HostedLoops.DisposeWait))
            {
                Log.LoopStopTimedOut(logger, loop.Name, HostedLoops.DisposeWait.TotalMilliseconds);
                return;
            }
        }
        Release();
    }

    /// <summary>Waits for a loop's Run to end; false (and logged) if the host's shutdown timeout came first.</summary>
    private async Task<bool> StoppedWithin(Task completion, CancellationToken cancellationToken)
    {
        var started = DateTime.UtcNow;
        try
        {
            await completion.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Log.LoopStopTimedOut(logger, loop.Name, (DateTime.UtcNow - started).TotalMilliseconds);
            return false;
        }
        catch (Exception)
        {
            // Run ended with a fault: LoopFaults has logged it and stopped the application; the loop is stopped.
        }
        return true;
    }

    private void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            loop.Dispose();
            Log.LoopStopped(logger, loop.Name);
        }
    }
}
