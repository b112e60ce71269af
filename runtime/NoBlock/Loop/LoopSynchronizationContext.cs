namespace NoBlock;

/// <summary>
/// Installed on the loop thread while <see cref="EventLoop.Run"/> runs, so that <c>await</c> inside a handler
/// resumes on the loop (through <see cref="EventLoop.Post"/>), just as a UI thread's context does.
/// </summary>
internal sealed class LoopSynchronizationContext : SynchronizationContext
{
    private readonly EventLoop _loop;

    public LoopSynchronizationContext(EventLoop loop) => _loop = loop;

    public override void Post(SendOrPostCallback d, object? state) => _loop.PostCore(d, state);

    public override void Send(SendOrPostCallback d, object? state)
    {
        if (_loop.IsOnLoopThread)
        {
            d(state);
            return;
        }
        // Sending from another thread would block it until the loop gets round to the work: refuse rather than
        // hide a blocking wait (use Post and a TaskCompletionSource instead).
        throw new NotSupportedException("Send to an EventLoop from another thread blocks; use Post.");
    }

    public override SynchronizationContext CreateCopy() => this;
}
