using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NoBlock.Interop;

/// <summary>
/// An <c>errno</c> value, captured by <see cref="Sys"/> immediately after the failing call. This is the one file
/// that knows errno numbers and turns them into exceptions; the loop and the TCP layer ask questions
/// (<see cref="IsWouldBlock"/>, <see cref="IsConnectionGone"/>) instead of comparing numbers.
/// </summary>
internal readonly struct Errno
{
    // Linux generic errno values (asm-generic/errno-base.h, errno.h): identical on x64, arm64 and arm.
    private const int EPERM = 1, ENOENT = 2, EINTR = 4, EBADF = 9, EAGAIN = 11, ENOMEM = 12, EEXIST = 17,
        ENFILE = 23, EMFILE = 24, EPIPE = 32, ENOBUFS = 105, ECONNABORTED = 103, ECONNRESET = 104, ENOTCONN = 107,
        ETIMEDOUT = 110, EHOSTUNREACH = 113, EPROTO = 71, ENOTSOCK = 88,
        EINVAL = 22, ENOSYS = 38, ETIME = 62, ECANCELED = 125, EALREADY = 114, EBUSY = 16, EOPNOTSUPP = 95, EADDRINUSE = 98;

    public Errno(int value) => Value = value;

    public int Value { get; }

    public bool IsWouldBlock => Value == EAGAIN;
    public bool IsInterrupted => Value == EINTR;
    public bool IsBadFd => Value == EBADF;
    public bool IsAlreadyExists => Value == EEXIST;
    public bool IsNotFound => Value == ENOENT;
    public bool IsAddressInUse => Value == EADDRINUSE;
    public bool IsOutOfFds => Value is EMFILE or ENFILE or ENOBUFS or ENOMEM;

    // ---- io_uring: completions carry -errno in cqe->res (FromCompletion); setup and enter set errno ----------------

    /// <summary>The errno of a completion whose <c>res</c> is negative.</summary>
    public static Errno FromCompletion(int res) => new(-res);

    /// <summary>EBUSY: what a selector reports when the submission queue had no slot and submitting it failed too.</summary>
    public static Errno SubmissionQueueFull => new(EBUSY);

    public bool IsNotImplemented => Value == ENOSYS;
    public bool IsPermissionDenied => Value == EPERM;
    public bool IsInvalidArgument => Value is EINVAL or EOPNOTSUPP;

    /// <summary>io_uring_enter's wait, or a timeout request, expired (ETIME).</summary>
    public bool IsTimerExpired => Value == ETIME;

    /// <summary>The request was cancelled (ECANCELED), by ASYNC_CANCEL, POLL_REMOVE or ring teardown.</summary>
    public bool IsCanceled => Value == ECANCELED;

    /// <summary>A cancel found its target already running or done (EALREADY/ENOENT): its own completion follows or came.</summary>
    public bool IsCancelTooLate => Value is EALREADY or ENOENT;

    /// <summary>A buffer-select op found its provided-buffer ring empty (ENOBUFS): the multishot request ended.</summary>
    public bool IsNoBuffers => Value == ENOBUFS;

    /// <summary>io_uring_enter: the completion queue is full and overflowing (EBUSY); reap completions, then enter again.</summary>
    public bool IsBusy => Value is EBUSY or EAGAIN;

    /// <summary>The peer reset the connection or it broke: close it, it is not the loop's fault.</summary>
    public bool IsConnectionGone => Value is ECONNRESET or EPIPE or ENOTCONN or ETIMEDOUT or EHOSTUNREACH;

    public bool IsReset => Value == ECONNRESET;
    public bool IsBrokenPipe => Value == EPIPE;

    /// <summary>accept4 failures that concern only the connection being accepted (accept(2) "Error handling").</summary>
    public bool IsTransientAcceptError => Value is ECONNABORTED or EPROTO or EPERM or EINTR;

    public string Message => Marshal.GetPInvokeErrorMessage(Value);

    public override string ToString() => $"errno {Value} ({Message})";

    /// <summary>The exception for a failed call. Socket calls throw <see cref="SocketException"/> (its error code is the errno).</summary>
    public Exception ToException(string call, int fd = -1)
    {
        var where = fd >= 0 ? $"{call} on fd {fd}" : call;
        var syscall = call.Split(' ', '(')[0];
        if (syscall is "socket" or "bind" or "listen" or "accept4" or "recv" or "send" or "setsockopt" or "getsockopt" or "shutdown")
        {
            return new SocketException((int)SocketErrorFromErrno(), $"{where} failed: {Message} (errno {Value})");
        }
        return new IOException($"{where} failed: {Message} (errno {Value})", Value);
    }

    private SocketError SocketErrorFromErrno() => Value switch
    {
        EAGAIN => SocketError.WouldBlock,
        ECONNRESET => SocketError.ConnectionReset,
        EPIPE => SocketError.Shutdown,
        ECONNABORTED => SocketError.ConnectionAborted,
        ENOTCONN => SocketError.NotConnected,
        EINTR => SocketError.Interrupted,
        EADDRINUSE => SocketError.AddressAlreadyInUse,
        99 => SocketError.AddressNotAvailable,
        13 => SocketError.AccessDenied,
        EMFILE or ENFILE => SocketError.TooManyOpenSockets,
        ENOBUFS or ENOMEM => SocketError.NoBufferSpaceAvailable,
        ENOTSOCK => SocketError.NotSocket,
        _ => SocketError.SocketError,
    };
}
