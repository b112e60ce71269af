namespace NoBlock.Tcp;

/// <summary>Why a <see cref="TcpConnection"/> closed; passed once to <see cref="TcpConnection.OnClosed"/>.</summary>
public enum CloseReason
{
    /// <summary>This side closed it (<see cref="TcpConnection.Close"/> or <see cref="TcpConnection.Abort"/>).</summary>
    LocalClose,

    /// <summary>The peer finished sending (end of stream, a half-close); output still pending was flushed first.</summary>
    PeerClosed,

    /// <summary>The peer reset the connection (<c>ECONNRESET</c>).</summary>
    Reset,

    /// <summary>A send found the connection already closed by the peer (<c>EPIPE</c>, sent with <c>MSG_NOSIGNAL</c> so no SIGPIPE).</summary>
    BrokenPipe,

    /// <summary>Another socket error (see <see cref="TcpConnection.CloseError"/>).</summary>
    Error,

    /// <summary>A handler of this connection threw, and the loop's policy closed it.</summary>
    HandlerFault,

    /// <summary>The loop was disposed while the connection was open.</summary>
    LoopDisposed,
}
