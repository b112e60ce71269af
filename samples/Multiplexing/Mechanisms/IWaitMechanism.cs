namespace NoBlock.Samples.Multiplexing.Mechanisms;

/// <summary>
/// One way of asking the kernel "which of these fds are readable?", set up over one row's
/// <see cref="RegisteredFds"/>. The timer calls <see cref="Rearm"/> (untimed), then <see cref="WaitOnce"/>
/// (timed), and checks the count it returns.
/// </summary>
internal interface IWaitMechanism : IDisposable
{
    /// <summary>The syscall's name, as the table prints it.</summary>
    string Name { get; }

    /// <summary>Restores whatever the previous wait overwrote (select rewrites its fd_set in place). Not timed.</summary>
    void Rearm();

    /// <summary>One wait call with a zero timeout; returns the number of ready fds the kernel reported.</summary>
    int WaitOnce();

    /// <summary>
    /// After a <see cref="WaitOnce"/>, checks the kernel reported exactly the ready fds (not just the right
    /// number of them) and nothing else. Returns null when it did, otherwise what was wrong.
    /// </summary>
    string? CheckReported(RegisteredFds fds);
}
