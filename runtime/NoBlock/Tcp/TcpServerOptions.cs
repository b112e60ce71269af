namespace NoBlock.Tcp;

/// <summary>Settings for a <see cref="TcpAcceptor"/> and the connections it accepts.</summary>
public sealed class TcpServerOptions
{
    /// <summary>
    /// listen(2) backlog. Default 511, nginx's: the kernel caps it at <c>net.core.somaxconn</c>; large enough
    /// that a burst of connects waits in the queue rather than being refused.
    /// </summary>
    public int Backlog { get; set; } = 511;

    /// <summary>
    /// Set <c>SO_REUSEPORT</c> so several listeners share the port, and the kernel spreads new connections over them.
    /// Default false: a port already in use is an error naming it. <see cref="EventLoopGroup.Listen"/> shares the
    /// port among its own loops either way; this says whether it may also join listeners that were there first (any
    /// process of the same user that sets <c>SO_REUSEPORT</c> can, and then takes part of the traffic).
    /// </summary>
    public bool ReusePort { get; set; }

    /// <summary>Register the listener and connections edge-triggered (<c>EPOLLET</c>). Default false (level).</summary>
    public bool EdgeTriggered { get; set; }

    /// <summary>
    /// <c>SO_RCVBUF</c> for accepted sockets, set on the listener so the TCP window is negotiated with it
    /// (null: the kernel's autotuning, <c>net.ipv4.tcp_rmem</c>). The kernel doubles the value for bookkeeping.
    /// </summary>
    public int? ReceiveBufferSize { get; set; }

    /// <summary><c>SO_SNDBUF</c> for accepted sockets (null: autotuning, <c>net.ipv4.tcp_wmem</c>).</summary>
    public int? SendBufferSize { get; set; }

    /// <summary>Disable Nagle (<c>TCP_NODELAY</c>) on accepted sockets. Default true: request/response protocols need it.</summary>
    public bool NoDelay { get; set; } = true;

    /// <summary>
    /// Pending output above which a connection stops reading (back-pressure). Default 64 KiB: a peer that never
    /// reads can pin at most this much (plus one read) of our memory per connection.
    /// </summary>
    public int HighWaterMark { get; set; } = 64 * 1024;

    /// <summary>
    /// Pending output below which a paused connection reads again. Default 16 KiB: far enough under the high
    /// mark that a connection does not flap between paused and reading on every send.
    /// </summary>
    public int LowWaterMark { get; set; } = 16 * 1024;

    /// <summary>
    /// Most connections accepted per readiness event. Default 64: a connect storm yields to established
    /// connections every 64 accepts (the rest are accepted on later turns). On io_uring, the accept requests kept in
    /// the kernel per listener: as many per turn, and the most the kernel accepts for a stalled loop (the rest wait
    /// in the listen backlog, as on epoll).
    /// </summary>
    public int MaxAcceptsPerEvent { get; set; } = 64;

    /// <summary>A copy of every setting.</summary>
    internal TcpServerOptions Copy() => (TcpServerOptions)MemberwiseClone();

    internal void Validate()
    {
        if (Backlog <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Backlog), Backlog, "Backlog must be positive.");
        }
        if (MaxAcceptsPerEvent <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAcceptsPerEvent), MaxAcceptsPerEvent, "MaxAcceptsPerEvent must be positive.");
        }
        if (LowWaterMark < 0 || HighWaterMark <= 0 || LowWaterMark > HighWaterMark)
        {
            throw new ArgumentOutOfRangeException(nameof(LowWaterMark), $"Need 0 <= LowWaterMark ({LowWaterMark}) <= HighWaterMark ({HighWaterMark}), HighWaterMark > 0.");
        }
        if (ReceiveBufferSize is <= 0 || SendBufferSize is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ReceiveBufferSize), "Socket buffer sizes must be positive.");
        }
    }
}
