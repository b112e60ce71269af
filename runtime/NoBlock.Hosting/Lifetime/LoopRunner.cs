namespace NoBlock.Hosting.Lifetime;

/// <summary>
/// Runs one <see cref="EventLoop"/> on a thread of its own (named after the loop; a background thread, so a loop stuck
/// in a handler cannot keep the process alive once the host gave up on it).
/// </summary>
internal sealed class LoopRunner
{
    private readonly TaskCompletionSource _running = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private LoopRunner(EventLoop loop, Action<Exception> onFault)
    {
        Loop = loop;
        // Posted before Run: it runs on the loop's first turn, so Running completes once the loop really turns.
        loop.Post(() => _running.TrySetResult());
        var thread = new Thread(() =>
        {
            try
            {
                loop.Run();
                _running.TrySetException(new InvalidOperationException($"EventLoop '{loop.Name}' stopped before its first turn."));
                _completion.TrySetResult();
            }
            catch (Exception ex)
            {
                _running.TrySetException(ex);
                _completion.TrySetException(ex);
                onFault(ex);
            }
        })
        {
            Name = loop.Name,
            IsBackground = true,
        };
        thread.Start();
    }

    public EventLoop Loop { get; }

    /// <summary>Completes when the loop has turned once; faults if <see cref="EventLoop.Run"/> failed first.</summary>
    public Task Running => _running.Task;

    /// <summary>Completes when <see cref="EventLoop.Run"/> returned; faulted with what it threw.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Starts the loop's thread; <paramref name="onFault"/> runs on it if <see cref="EventLoop.Run"/> throws.</summary>
    public static LoopRunner Start(EventLoop loop, Action<Exception> onFault) => new(loop, onFault);
}
