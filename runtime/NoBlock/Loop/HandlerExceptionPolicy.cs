namespace NoBlock;

/// <summary>What the loop does when a handler, posted action or timer throws.</summary>
public enum HandlerExceptionPolicy
{
    /// <summary>
    /// The default. The exception is logged (with the handler and fd) and passed to
    /// <see cref="EventLoopOptions.OnHandlerException"/>; if it came from an fd handler, that registration is
    /// closed (for a <see cref="Tcp.TcpConnection"/>: the connection is closed with
    /// <see cref="Tcp.CloseReason.HandlerFault"/>). The loop keeps serving everything else.
    /// </summary>
    CloseRegistration,

    /// <summary>The exception is reported as above, then the loop stops and <see cref="EventLoop.Run"/> rethrows it.</summary>
    StopLoop,
}

/// <summary>A handler failure, as passed to <see cref="EventLoopOptions.OnHandlerException"/>.</summary>
public sealed class HandlerFault
{
    internal HandlerFault(string loopName, string handler, int fd, Exception exception)
    {
        LoopName = loopName;
        Handler = handler;
        Fd = fd;
        Exception = exception;
    }

    /// <summary>The loop's name.</summary>
    public string LoopName { get; }

    /// <summary>The handler that threw: declaring type and method.</summary>
    public string Handler { get; }

    /// <summary>The handler's fd, or -1 for posted work and timers.</summary>
    public int Fd { get; }

    /// <summary>What it threw.</summary>
    public Exception Exception { get; }

    /// <inheritdoc />
    public override string ToString()
        => $"loop '{LoopName}': handler {Handler}{(Fd >= 0 ? $" on fd {Fd}" : "")} threw {Exception.GetType().Name}: {Exception.Message}";
}
