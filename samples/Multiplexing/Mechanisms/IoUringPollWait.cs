using NoBlock.Interop;
using NoBlock.IoUring;

namespace NoBlock.Samples.Multiplexing.Mechanisms;

/// <summary>
/// io_uring, the way NoBlock's io_uring backend waits for level-triggered readiness: one one-shot
/// <c>IORING_OP_POLL_ADD</c> per fd, armed once (not timed, like <c>epoll_ctl</c>). A poll on a ready fd completes;
/// <see cref="Rearm"/> queues a new one-shot poll for each fd that completed (writing SQEs in memory shared with the
/// kernel: no syscall), and the timed call is the one <c>io_uring_enter</c> that submits them (the kernel checks each
/// fd as it arms its poll, and a ready one completes at once) and the copy of their completions out of the ring.
/// So the kernel's work is proportional to the ready fds, as with epoll; the polls on idle fds sit on their wait
/// queues untouched.
/// </summary>
internal sealed unsafe class IoUringPollWait : IWaitMechanism
{
    private const uint PollIn = 0x001;

    private readonly IoUringRing _ring;
    private readonly int[] _fds;
    private readonly IoUringCqe[] _completions;
    private readonly List<int> _fired = new();   // indices whose one-shot poll completed in the last wait
    private int _lastCount;

    public IoUringPollWait(RegisteredFds fds, Action<int, int>? progress, CancellationToken cancellation)
    {
        _fds = fds.Fds.ToArray();
        _completions = new IoUringCqe[fds.ReadyCount + 1]; // one more than should be ready, as EpollWait does
        // The SQ needs room for one wait's re-arms; the CQ for every armed poll (IORING_SETUP_CQSIZE, clamped).
        uint sq = (uint)Math.Max(256, fds.ReadyCount * 2);
        _ring = IoUringRing.Create(sq, 1024, 0, out var err)
            ?? throw new InvalidOperationException($"io_uring: {IoUringSupport.DescribeSetupFailure(err)}");
        try
        {
            Span<IoUringCqe> initial = stackalloc IoUringCqe[64];
            for (int i = 0; i < _fds.Length; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                var sqe = _ring.GetSqeOrSubmit(out err);
                if (sqe == null)
                {
                    throw new InvalidOperationException($"io_uring_enter: {err}");
                }
                IoUringPrep.PollAdd(sqe, _fds[i], PollIn, multishot: false, (ulong)i);
                progress?.Invoke(i + 1, _fds.Length);
            }
            if (_ring.SubmitAndWait(0, 0, out err) < 0)
            {
                throw new InvalidOperationException($"io_uring_enter: {err}");
            }
            // The ready fds completed as they were armed; those are the first wait's re-arms.
            int n;
            while ((n = _ring.TakeCompletions(initial)) > 0)
            {
                for (int k = 0; k < n; k++)
                {
                    _fired.Add((int)initial[k].UserData);
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Name => "io_uring";

    public void Rearm()
    {
        foreach (int i in _fired)
        {
            IoUringPrep.PollAdd(_ring.GetSqe(), _fds[i], PollIn, multishot: false, (ulong)i);
        }
        _fired.Clear();
    }

    public int WaitOnce()
    {
        if (_ring.SubmitAndWait(0, 0, out var err) < 0)
        {
            throw new InvalidOperationException($"io_uring_enter: {err}");
        }
        _lastCount = _ring.TakeCompletions(_completions);
        for (int k = 0; k < _lastCount; k++)
        {
            _fired.Add((int)_completions[k].UserData);
        }
        return _lastCount;
    }

    public string? CheckReported(RegisteredFds fds)
    {
        var expected = new HashSet<int>();
        for (int i = 0; i < _fds.Length; i++)
        {
            if (fds.IsReadyAt(i))
            {
                expected.Add(i);
            }
        }
        for (int k = 0; k < _lastCount; k++)
        {
            var cqe = _completions[k];
            int i = (int)cqe.UserData;
            if (cqe.Res != PollIn)
            {
                return $"io_uring reported res {cqe.Res} for fd {_fds[i]}, expected POLLIN only";
            }
            if (!expected.Remove(i))
            {
                return $"io_uring reported fd {_fds[i]}, which is not one of the ready fds (or was reported twice)";
            }
        }
        return expected.Count == 0 ? null : $"io_uring did not report {expected.Count} ready fds, e.g. fd {_fds[expected.First()]}";
    }

    public void Dispose()
    {
        // Closing the ring drops its polls; the fds belong to RegisteredFds and close with it.
        _ring?.Dispose();
    }
}
