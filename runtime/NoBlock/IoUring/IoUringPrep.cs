using NoBlock.Interop;

namespace NoBlock.IoUring;

/// <summary>
/// Fills SQEs (zeroed by <see cref="IoUringRing.GetSqe"/>) for the ops NoBlock uses, the way io_uring_enter(2) and
/// the kernel's io_uring/*.c prep functions read them. One method per op; fields an op does not read stay zero,
/// which the kernel requires for most of them (EINVAL otherwise).
/// </summary>
internal static unsafe class IoUringPrep
{
    public static void Nop(IoUringSqe* sqe, ulong userData)
    {
        sqe->Opcode = (byte)IoUringOp.Nop;
        sqe->UserData = userData;
    }

    /// <summary>
    /// IORING_OP_POLL_ADD: a completion with <c>res</c> = the EPOLL* mask when <paramref name="fd"/> is ready for
    /// <paramref name="events"/> (errors and hang-ups always). Multishot (5.13) stays armed and posts one
    /// completion per wake-up of the fd's wait queue (like EPOLLET); one-shot completes once, checking readiness
    /// when it is armed (so re-arming after each event behaves like level-triggered epoll).
    /// </summary>
    public static void PollAdd(IoUringSqe* sqe, int fd, uint events, bool multishot, ulong userData)
    {
        sqe->Opcode = (byte)IoUringOp.PollAdd;
        sqe->Fd = fd;
        sqe->OpFlags = events; // poll32_events (little-endian hosts only; NoBlock runs on x64/arm64 little-endian)
        sqe->Len = multishot ? IoUringPollFlags.AddMulti : 0;
        sqe->UserData = userData;
    }

    /// <summary>IORING_OP_POLL_REMOVE: removes the poll request submitted with <paramref name="targetUserData"/> (its completion: -ECANCELED).</summary>
    public static void PollRemove(IoUringSqe* sqe, ulong targetUserData, ulong userData)
    {
        sqe->Opcode = (byte)IoUringOp.PollRemove;
        sqe->Fd = -1;
        sqe->Addr = targetUserData;
        sqe->UserData = userData;
    }

    /// <summary>
    /// IORING_OP_ACCEPT, single-shot: one completion, one accepted connection (<c>res</c> = the new fd, opened with
    /// <paramref name="socketFlags"/> such as SOCK_NONBLOCK | SOCK_CLOEXEC), or an error.
    /// </summary>
    public static void Accept(IoUringSqe* sqe, int listenFd, uint socketFlags, ulong userData)
    {
        sqe->Opcode = (byte)IoUringOp.Accept;
        sqe->Fd = listenFd;
        sqe->OpFlags = socketFlags; // accept_flags
        sqe->UserData = userData;
    }

    /// <summary>
    /// IORING_OP_ACCEPT with IORING_ACCEPT_MULTISHOT (5.19): one completion per accepted connection (<c>res</c> =
    /// the new fd, opened with <paramref name="socketFlags"/>), armed until an error ends it or it is cancelled.
    /// </summary>
    public static void AcceptMultishot(IoUringSqe* sqe, int listenFd, uint socketFlags, ulong userData)
    {
        sqe->Opcode = (byte)IoUringOp.Accept;
        sqe->Fd = listenFd;
        sqe->OpFlags = socketFlags; // accept_flags
        sqe->IoPrio = IoUringSocketFlags.AcceptMultishot;
        sqe->UserData = userData;
    }

    /// <summary>
    /// IORING_OP_RECV with IORING_RECV_MULTISHOT and IOSQE_BUFFER_SELECT (6.0): one completion per chunk received,
    /// each into a buffer the kernel picks from provided-buffer group <paramref name="bufferGroup"/> (its id in
    /// <c>cqe-&gt;flags</c>); <c>res</c> 0 is end of stream. Ends on an error, at EOF, or with -ENOBUFS when the group is empty.
    /// </summary>
    public static void RecvMultishot(IoUringSqe* sqe, int fd, ushort bufferGroup, ulong userData)
    {
        sqe->Opcode = (byte)IoUringOp.Recv;
        sqe->Fd = fd;
        sqe->IoPrio = IoUringSocketFlags.RecvMultishot;
        sqe->Flags = IoUringSqeFlags.BufferSelect;
        sqe->BufGroup = bufferGroup;
        sqe->UserData = userData;
    }

    /// <summary>IORING_OP_RECV into our own buffer (one-shot).</summary>
    public static void Recv(IoUringSqe* sqe, int fd, byte* buffer, uint length, uint msgFlags, ulong userData)
    {
        sqe->Opcode = (byte)IoUringOp.Recv;
        sqe->Fd = fd;
        sqe->Addr = (ulong)buffer;
        sqe->Len = length;
        sqe->OpFlags = msgFlags;
        sqe->UserData = userData;
    }

    /// <summary>IORING_OP_SEND: <c>res</c> = bytes the kernel took (may be short on a stream socket), or -errno. The bytes must stay put until it completes.</summary>
    public static void Send(IoUringSqe* sqe, int fd, byte* data, uint length, uint msgFlags, ulong userData)
    {
        sqe->Opcode = (byte)IoUringOp.Send;
        sqe->Fd = fd;
        sqe->Addr = (ulong)data;
        sqe->Len = length;
        sqe->OpFlags = msgFlags;
        sqe->UserData = userData;
    }

    /// <summary>IORING_OP_READ at the file's position (offset -1, as read(2) does; pipes and eventfds have no offset).</summary>
    public static void Read(IoUringSqe* sqe, int fd, byte* buffer, uint length, ulong userData)
    {
        sqe->Opcode = (byte)IoUringOp.Read;
        sqe->Fd = fd;
        sqe->Addr = (ulong)buffer;
        sqe->Len = length;
        sqe->Off = ulong.MaxValue; // (u64)-1: "use the current position"
        sqe->UserData = userData;
    }

    /// <summary>IORING_OP_WRITE at the file's position.</summary>
    public static void Write(IoUringSqe* sqe, int fd, byte* buffer, uint length, ulong userData)
    {
        sqe->Opcode = (byte)IoUringOp.Write;
        sqe->Fd = fd;
        sqe->Addr = (ulong)buffer;
        sqe->Len = length;
        sqe->Off = ulong.MaxValue;
        sqe->UserData = userData;
    }

    /// <summary>IORING_OP_ASYNC_CANCEL of the request submitted with <paramref name="targetUserData"/> (res 0, or -ENOENT/-EALREADY).</summary>
    public static void Cancel(IoUringSqe* sqe, ulong targetUserData, ulong userData)
    {
        sqe->Opcode = (byte)IoUringOp.AsyncCancel;
        sqe->Fd = -1;
        sqe->Addr = targetUserData;
        sqe->UserData = userData;
    }

    /// <summary>
    /// IORING_OP_ASYNC_CANCEL of every request submitted with <paramref name="targetUserData"/> (IORING_ASYNC_CANCEL_ALL,
    /// 5.19): res = how many were cancelled.
    /// </summary>
    public static void CancelAll(IoUringSqe* sqe, ulong targetUserData, ulong userData)
    {
        Cancel(sqe, targetUserData, userData);
        sqe->OpFlags = IoUringCancelFlags.All;
    }

    /// <summary>IORING_OP_ASYNC_CANCEL of every request on <paramref name="fd"/> (IORING_ASYNC_CANCEL_FD | ALL, 5.19): res = how many.</summary>
    public static void CancelFd(IoUringSqe* sqe, int fd, ulong userData)
    {
        sqe->Opcode = (byte)IoUringOp.AsyncCancel;
        sqe->Fd = fd;
        sqe->OpFlags = IoUringCancelFlags.Fd | IoUringCancelFlags.All;
        sqe->UserData = userData;
    }

    /// <summary>IORING_OP_ASYNC_CANCEL of every request on the ring (IORING_ASYNC_CANCEL_ANY | ALL, 5.19).</summary>
    public static void CancelAny(IoUringSqe* sqe, ulong userData)
    {
        sqe->Opcode = (byte)IoUringOp.AsyncCancel;
        sqe->Fd = -1;
        sqe->OpFlags = IoUringCancelFlags.Any | IoUringCancelFlags.All;
        sqe->UserData = userData;
    }

    /// <summary>
    /// IORING_OP_TIMEOUT: completes with -ETIME after <paramref name="timeout"/> (relative), or earlier with res 0
    /// once <paramref name="count"/> other completions were posted (0: time only). The timespec must stay put until
    /// the request is submitted.
    /// </summary>
    public static void Timeout(IoUringSqe* sqe, KernelTimespec* timeout, uint count, uint timeoutFlags, ulong userData)
    {
        sqe->Opcode = (byte)IoUringOp.Timeout;
        sqe->Fd = -1;
        sqe->Addr = (ulong)timeout;
        sqe->Len = 1; // one timespec
        sqe->Off = count;
        sqe->OpFlags = timeoutFlags;
        sqe->UserData = userData;
    }

    /// <summary>IORING_OP_TIMEOUT_REMOVE of the timeout submitted with <paramref name="targetUserData"/>.</summary>
    public static void TimeoutRemove(IoUringSqe* sqe, ulong targetUserData, ulong userData)
    {
        sqe->Opcode = (byte)IoUringOp.TimeoutRemove;
        sqe->Fd = -1;
        sqe->Addr = targetUserData;
        sqe->UserData = userData;
    }

    /// <summary>
    /// IORING_OP_MSG_RING with IORING_MSG_DATA (5.18): posts a completion (user_data <paramref name="targetUserData"/>,
    /// res <paramref name="result"/>) on the ring <paramref name="targetRingFd"/>, waking it if it waits.
    /// </summary>
    public static void MsgRing(IoUringSqe* sqe, int targetRingFd, uint result, ulong targetUserData, ulong userData)
    {
        sqe->Opcode = (byte)IoUringOp.MsgRing;
        sqe->Fd = targetRingFd;
        sqe->Addr = IoUringMsgRing.Data;
        sqe->Len = result;
        sqe->Off = targetUserData;
        sqe->UserData = userData;
    }
}
