using NoBlock.Interop;

namespace NoBlock.IoUring;

/// <summary>
/// The io_uring selector: the loop's <see cref="Selector"/> over <see cref="IoUringBackend"/>'s readiness sources
/// (one-shot and multishot poll requests with epoll's semantics; see the backend). A registration's key is its
/// source index; its token is checked on every <see cref="Modify"/> and <see cref="Remove"/>, so a call for a
/// registration whose index was freed and reused touches nothing (<see cref="SelectorStatus.NotRegistered"/>).
/// <para>
/// <see cref="Wait"/> is one io_uring_enter that submits what the turn queued (re-arms, removals) and waits: the
/// loop's poll bracket around it is the time spent waiting in the kernel, as with epoll_wait. The waker's read
/// completes inside it and is consumed there.
/// </para>
/// </summary>
internal sealed class IoUringSelector : Selector
{
    private readonly IoUringBackend _backend;

    private IoUringSelector(IoUringBackend backend) => _backend = backend;

    public override string Mechanism => "io_uring";

    /// <summary>The backend (tests: its ring and sources).</summary>
    internal IoUringBackend Backend => _backend;

    /// <summary>Creates the ring and its waker, or returns null with why io_uring cannot serve here.</summary>
    public static IoUringSelector? TryCreate(int maxEvents, out string? unavailable)
    {
        var backend = IoUringBackend.TryCreate(maxEvents, out unavailable);
        return backend is null ? null : new IoUringSelector(backend);
    }

    public override SelectorStatus Add(int fd, IoEvents interest, ulong token, out int key, out Errno error)
    {
        error = default;
        var status = _backend.AddPoll(fd, interest, token, out key);
        if (status == SelectorStatus.Failed)
        {
            error = Errno.SubmissionQueueFull;
        }
        return status;
    }

    public override SelectorStatus Modify(int fd, int key, IoEvents interest, ulong token, out Errno error)
    {
        error = default;
        if (_backend.ReadinessToken(key) != token)
        {
            return SelectorStatus.NotRegistered;
        }
        var status = _backend.ModifyPoll(key, interest);
        if (status == SelectorStatus.Failed)
        {
            error = Errno.SubmissionQueueFull;
        }
        return status;
    }

    public override SelectorStatus Remove(int fd, int key, ulong token, out Errno error)
    {
        error = default;
        if (_backend.CompletionToken(key) == token)
        {
            _backend.RemoveCompletionSource(key); // the TCP layer's: its owner removes it once nothing of it is in flight
            return SelectorStatus.Ok;
        }
        if (_backend.ReadinessToken(key) != token)
        {
            return SelectorStatus.NotRegistered;
        }
        return _backend.RemovePoll(key); // what epoll_ctl DEL would say for the same history (see RemovePoll)
    }

    public override SelectorStatus Wait(int timeoutMs, out ReadOnlySpan<ReadinessEvent> events, out Errno error)
    {
        // Completion events (the TCP layer's completion sources) stay in the backend (LastCompletions) for the loop,
        // which dispatches them after the readiness events.
        if (!_backend.Wait(timeoutMs, out events, out var completions, out error))
        {
            events = default;
            return SelectorStatus.Failed;
        }
        // EINTR with nothing taken is the loop's "turn again"; completions that were already there are reported
        // (a multishot poll's completion is an edge that would not come again).
        return error.IsInterrupted && events.IsEmpty && completions.IsEmpty ? SelectorStatus.Interrupted : SelectorStatus.Ok;
    }

    public override void Wake() => _backend.Wake();

    public override void Dispose() => _backend.Dispose();
}
