using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NoBlock.Tcp;

namespace NoBlock.Hosting.Lifetime;

/// <summary>
/// Runs a hosted <see cref="EventLoopGroup"/> from host start to host stop, the twin of
/// <see cref="EventLoopHostedService"/>: started in the host's starting phase (so hosted services can
/// <see cref="EventLoopGroup.Listen"/> on it), stopped and released in its stopped phase, within the shutdown timeout.
/// </summary>
internal sealed class EventLoopGroupHostedService(string name, EventLoopGroup group, LoopFaults faults, ILogger logger) : IHostedLifecycleService, IDisposable
{
    private readonly TaskCompletionSource<Exception> _firstFault = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _started;
    private int _released;

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        group.LoopFaulted += OnLoopFaulted;
        group.Start();
        _started = true;
        // Each loop completes its task on its first turn; a loop that faults first fails the start instead of hanging it.
        var running = group.Loops.Select(loop =>
        {
            var turned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            loop.Post(() => turned.TrySetResult());
            return turned.Task;
        }).ToArray();
        var all = Task.WhenAll(running);
        if (await Task.WhenAny(all, _firstFault.Task).WaitAsync(cancellationToken).ConfigureAwait(false) != all)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(await _firstFault.Task.ConfigureAwait(false));
        }
        foreach (var loop in group.Loops)
        {
            Log.LoopStarted(logger, loop.Name);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        if (!_started)
        {
            Release();
            return;
        }
        // EventLoopGroup.Stop asks every loop to stop and joins their threads: on a pool thread, so the wait can end
        // at the shutdown timeout.
        var started = DateTime.UtcNow;
        try
        {
            await Task.Run(group.Stop, CancellationToken.None).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Log.LoopStopTimedOut(logger, name, (DateTime.UtcNow - started).TotalMilliseconds);
            return;
        }
        Release();
    }

    /// <summary>After a failed host start (StoppedAsync never runs): stop the loops before the container releases the group.</summary>
    public void Dispose()
    {
        if (Volatile.Read(ref _released) != 0)
        {
            return;
        }
        if (_started && !Task.Run(group.Stop).Wait(HostedLoops.DisposeWait))
        {
            Log.LoopStopTimedOut(logger, name, HostedLoops.DisposeWait.TotalMilliseconds);
            return;
        }
        Release();
    }

    private void OnLoopFaulted(EventLoop loop, Exception exception)
    {
        _firstFault.TrySetResult(exception);
        faults.OnFault(loop.Name, exception);
    }

    private void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            group.LoopFaulted -= OnLoopFaulted;
            group.Dispose();
            foreach (var loop in group.Loops)
            {
                Log.LoopStopped(logger, loop.Name);
            }
        }
    }
}
