using System.Runtime.InteropServices;

namespace NoBlock.Interop;

// The io_uring kernel ABI, as NoBlock uses it. Every struct, field and flag below is declared in the kernel's
// include/uapi/linux/io_uring.h (installed as /usr/include/linux/io_uring.h); the comment on each says which
// kernel added it, because that decides what IoUringSupport has to probe. Names are the header's, in C# case.
// Layouts are fixed by the ABI (little-endian, natural alignment); IoUringAbiTests checks every size and offset.

/// <summary><c>struct io_uring_sqe</c>: one submission queue entry (64 bytes; 128 with IORING_SETUP_SQE128, unused here).</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct IoUringSqe
{
    /// <summary><c>opcode</c>: an <see cref="IoUringOp"/>.</summary>
    [FieldOffset(0)] public byte Opcode;

    /// <summary><c>flags</c>: <see cref="IoUringSqeFlags"/> (IOSQE_*).</summary>
    [FieldOffset(1)] public byte Flags;

    /// <summary><c>ioprio</c>: for socket ops, the op's own flags (IORING_RECV_MULTISHOT, IORING_ACCEPT_MULTISHOT…).</summary>
    [FieldOffset(2)] public ushort IoPrio;

    /// <summary><c>fd</c>: the file the op works on (for MSG_RING: the target ring's fd).</summary>
    [FieldOffset(4)] public int Fd;

    /// <summary><c>off</c> / <c>addr2</c>: file offset; accept's addrlen pointer; a timeout's count; MSG_RING's target user_data.</summary>
    [FieldOffset(8)] public ulong Off;

    /// <summary><c>addr</c>: buffer pointer; a timeout's <c>__kernel_timespec*</c>; the user_data an ASYNC_CANCEL or POLL_REMOVE targets; MSG_RING's command.</summary>
    [FieldOffset(16)] public ulong Addr;

    /// <summary><c>len</c>: buffer length; POLL_REMOVE/POLL_ADD's IORING_POLL_* flags; MSG_RING's result for the target.</summary>
    [FieldOffset(24)] public uint Len;

    /// <summary>
    /// The op-specific 32-bit flags union: <c>poll32_events</c> (EPOLL* bits), <c>msg_flags</c> (MSG_* for send/recv),
    /// <c>timeout_flags</c>, <c>accept_flags</c> (SOCK_NONBLOCK…), <c>cancel_flags</c>, <c>msg_ring_flags</c>.
    /// </summary>
    [FieldOffset(28)] public uint OpFlags;

    /// <summary><c>user_data</c>: returned unchanged in the completion.</summary>
    [FieldOffset(32)] public ulong UserData;

    /// <summary><c>buf_index</c> / <c>buf_group</c>: with IOSQE_BUFFER_SELECT, the provided-buffer group to pick from.</summary>
    [FieldOffset(40)] public ushort BufGroup;

    /// <summary><c>personality</c>: credentials registered with IORING_REGISTER_PERSONALITY (0: the submitter's).</summary>
    [FieldOffset(42)] public ushort Personality;

    /// <summary><c>splice_fd_in</c> / <c>file_index</c> / <c>addr_len</c>.</summary>
    [FieldOffset(44)] public int FileIndex;

    /// <summary><c>addr3</c>.</summary>
    [FieldOffset(48)] public ulong Addr3;

    /// <summary><c>__pad2[0]</c>.</summary>
    [FieldOffset(56)] public ulong Pad2;
}

/// <summary><c>struct io_uring_cqe</c>: one completion queue entry (16 bytes; 32 with IORING_SETUP_CQE32, unused here).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringCqe
{
    /// <summary><c>user_data</c>: the submission's.</summary>
    public ulong UserData;

    /// <summary><c>res</c>: the op's result: bytes, an fd, a poll mask, or a negated errno.</summary>
    public int Res;

    /// <summary><c>flags</c>: <see cref="IoUringCqeFlags"/> (IORING_CQE_F_*), and the buffer id in the upper 16 bits.</summary>
    public uint Flags;

    /// <summary>True when the request stays armed and will post more completions (IORING_CQE_F_MORE).</summary>
    public readonly bool HasMore => (Flags & IoUringCqeFlags.More) != 0;

    /// <summary>True when the kernel picked a provided buffer for this completion (IORING_CQE_F_BUFFER).</summary>
    public readonly bool HasBuffer => (Flags & IoUringCqeFlags.Buffer) != 0;

    /// <summary>The provided buffer's id (<c>flags &gt;&gt; IORING_CQE_BUFFER_SHIFT</c>); meaningful only with <see cref="HasBuffer"/>.</summary>
    public readonly ushort BufferId => (ushort)(Flags >> IoUringCqeFlags.BufferShift);
}

/// <summary><c>struct io_sqring_offsets</c>: where the SQ ring's fields are in its mapping (40 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoSqringOffsets
{
    public uint Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1;

    /// <summary><c>user_addr</c> (6.5, IORING_SETUP_NO_MMAP; <c>resv2</c> before).</summary>
    public ulong UserAddr;
}

/// <summary><c>struct io_cqring_offsets</c>: where the CQ ring's fields are in its mapping (40 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoCqringOffsets
{
    public uint Head, Tail, RingMask, RingEntries, Overflow, Cqes, Flags, Resv1;

    /// <summary><c>user_addr</c> (6.5, IORING_SETUP_NO_MMAP; <c>resv2</c> before).</summary>
    public ulong UserAddr;
}

/// <summary><c>struct io_uring_params</c>: io_uring_setup's argument, filled in by the kernel (120 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoUringParams
{
    public uint SqEntries;
    public uint CqEntries;

    /// <summary><c>flags</c>: <see cref="IoUringSetupFlags"/>.</summary>
    public uint Flags;
    public uint SqThreadCpu;
    public uint SqThreadIdle;

    /// <summary><c>features</c>: <see cref="IoUringFeatures"/>, set by the kernel.</summary>
    public uint Features;
    public uint WqFd;
    public fixed uint Resv[3];
    public IoSqringOffsets SqOff;
    public IoCqringOffsets CqOff;
}

/// <summary><c>struct io_uring_probe</c> header (16 bytes), followed by <c>ops_len</c> <see cref="IoUringProbeOp"/>s.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoUringProbe
{
    /// <summary><c>last_op</c>: the highest opcode this kernel knows.</summary>
    public byte LastOp;

    /// <summary><c>ops_len</c>: entries the kernel filled in.</summary>
    public byte OpsLen;
    public ushort Resv;
    public fixed uint Resv2[3];
}

/// <summary><c>struct io_uring_probe_op</c> (8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringProbeOp
{
    public byte Op;
    public byte Resv;

    /// <summary><c>flags</c>: <see cref="IoUringProbeOpFlags.Supported"/> when the kernel implements the op.</summary>
    public ushort Flags;
    public uint Resv2;
}

/// <summary><c>struct io_uring_buf</c>: one entry of a provided-buffer ring (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringBuf
{
    public ulong Addr;
    public uint Len;
    public ushort Bid;

    /// <summary><c>resv</c>; in entry 0 this is the ring's <c>tail</c> (<c>struct io_uring_buf_ring</c> overlays it).</summary>
    public ushort Resv;
}

/// <summary><c>struct io_uring_buf_reg</c>: IORING_REGISTER_PBUF_RING's argument (40 bytes; 5.19).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoUringBufReg
{
    public ulong RingAddr;
    public uint RingEntries;
    public ushort Bgid;

    /// <summary><c>flags</c> (6.4; <c>pad</c> before): IOU_PBUF_RING_MMAP, IOU_PBUF_RING_INC. Zero here: we own the ring memory.</summary>
    public ushort Flags;
    public fixed ulong Resv[3];
}

/// <summary><c>struct __kernel_timespec</c> (include/uapi/linux/time_types.h): 64-bit seconds on every architecture.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KernelTimespec
{
    public long TvSec;
    public long TvNsec;
}

/// <summary><c>struct io_uring_getevents_arg</c>: io_uring_enter's argument with IORING_ENTER_EXT_ARG (24 bytes; 5.11).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringGeteventsArg
{
    public ulong Sigmask;
    public uint SigmaskSz;

    /// <summary><c>min_wait_usec</c> (6.12; <c>pad</c> before). Zero here.</summary>
    public uint MinWaitUsec;

    /// <summary><c>ts</c>: a <c>__kernel_timespec*</c>, the longest the call waits (relative), or 0 to wait without limit.</summary>
    public ulong Ts;
}

/// <summary>IORING_OP_* (the enum after <c>struct io_uring_sqe</c>), with the kernel that added each one NoBlock uses.</summary>
internal enum IoUringOp : byte
{
    Nop = 0,            // 5.1
    PollAdd = 6,        // 5.1; multishot (IORING_POLL_ADD_MULTI) 5.13
    PollRemove = 7,     // 5.1; update in place (IORING_POLL_UPDATE_*) 5.13
    Timeout = 11,       // 5.4
    TimeoutRemove = 12, // 5.5
    Accept = 13,        // 5.5; multishot (IORING_ACCEPT_MULTISHOT) 5.19
    AsyncCancel = 14,   // 5.5; by fd / any / all (IORING_ASYNC_CANCEL_*) 5.19
    Read = 22,          // 5.6
    Write = 23,         // 5.6
    Send = 26,          // 5.6
    Recv = 27,          // 5.6; multishot (IORING_RECV_MULTISHOT) 6.0
    MsgRing = 40,       // 5.18
}

/// <summary>IOSQE_* (<c>sqe-&gt;flags</c>).</summary>
internal static class IoUringSqeFlags
{
    public const byte FixedFile = 1 << 0;      // IOSQE_FIXED_FILE
    public const byte IoDrain = 1 << 1;        // IOSQE_IO_DRAIN
    public const byte IoLink = 1 << 2;         // IOSQE_IO_LINK
    public const byte IoHardLink = 1 << 3;     // IOSQE_IO_HARDLINK
    public const byte Async = 1 << 4;          // IOSQE_ASYNC
    public const byte BufferSelect = 1 << 5;   // IOSQE_BUFFER_SELECT (5.7)
    public const byte CqeSkipSuccess = 1 << 6; // IOSQE_CQE_SKIP_SUCCESS (5.17)
}

/// <summary>IORING_SETUP_* (<c>io_uring_params.flags</c>).</summary>
internal static class IoUringSetupFlags
{
    public const uint IoPoll = 1u << 0;         // IORING_SETUP_IOPOLL
    public const uint SqPoll = 1u << 1;         // IORING_SETUP_SQPOLL
    public const uint SqAff = 1u << 2;          // IORING_SETUP_SQ_AFF
    public const uint CqSize = 1u << 3;         // IORING_SETUP_CQSIZE (5.5)
    public const uint Clamp = 1u << 4;          // IORING_SETUP_CLAMP (5.6)
    public const uint AttachWq = 1u << 5;       // IORING_SETUP_ATTACH_WQ
    public const uint RDisabled = 1u << 6;      // IORING_SETUP_R_DISABLED (5.10)
    public const uint SubmitAll = 1u << 7;      // IORING_SETUP_SUBMIT_ALL (5.18)
    public const uint CoopTaskrun = 1u << 8;    // IORING_SETUP_COOP_TASKRUN (5.19)
    public const uint TaskrunFlag = 1u << 9;    // IORING_SETUP_TASKRUN_FLAG (5.19)
    public const uint Sqe128 = 1u << 10;        // IORING_SETUP_SQE128
    public const uint Cqe32 = 1u << 11;         // IORING_SETUP_CQE32
    public const uint SingleIssuer = 1u << 12;  // IORING_SETUP_SINGLE_ISSUER (6.0)
    public const uint DeferTaskrun = 1u << 13;  // IORING_SETUP_DEFER_TASKRUN (6.1)
}

/// <summary>IORING_FEAT_* (<c>io_uring_params.features</c>, set by the kernel).</summary>
internal static class IoUringFeatures
{
    public const uint SingleMmap = 1u << 0;     // IORING_FEAT_SINGLE_MMAP (5.4): SQ and CQ rings share one mapping
    public const uint NoDrop = 1u << 1;         // IORING_FEAT_NODROP (5.5): CQ overflow is kept, not dropped
    public const uint SubmitStable = 1u << 2;   // IORING_FEAT_SUBMIT_STABLE (5.5)
    public const uint RwCurPos = 1u << 3;       // IORING_FEAT_RW_CUR_POS
    public const uint CurPersonality = 1u << 4; // IORING_FEAT_CUR_PERSONALITY
    public const uint FastPoll = 1u << 5;       // IORING_FEAT_FAST_POLL (5.7): socket ops wait on poll, not a worker thread
    public const uint Poll32Bits = 1u << 6;     // IORING_FEAT_POLL_32BITS (5.9): EPOLLEXCLUSIVE/EPOLLRDHUP in poll masks
    public const uint SqPollNonFixed = 1u << 7; // IORING_FEAT_SQPOLL_NONFIXED
    public const uint ExtArg = 1u << 8;         // IORING_FEAT_EXT_ARG (5.11): io_uring_enter takes a timeout
    public const uint NativeWorkers = 1u << 9;  // IORING_FEAT_NATIVE_WORKERS (5.12)
    public const uint RsrcTags = 1u << 10;      // IORING_FEAT_RSRC_TAGS
    public const uint CqeSkip = 1u << 11;       // IORING_FEAT_CQE_SKIP (5.17)
    public const uint LinkedFile = 1u << 12;    // IORING_FEAT_LINKED_FILE
    public const uint RegRegRing = 1u << 13;    // IORING_FEAT_REG_REG_RING (6.3)
    public const uint RecvSendBundle = 1u << 14; // IORING_FEAT_RECVSEND_BUNDLE (6.10)
    public const uint MinTimeout = 1u << 15;    // IORING_FEAT_MIN_TIMEOUT (6.12)
    public const uint RwAttr = 1u << 16;        // IORING_FEAT_RW_ATTR (6.13)
    public const uint NoIowait = 1u << 17;      // IORING_FEAT_NO_IOWAIT (6.15)
}

/// <summary>IORING_ENTER_* (io_uring_enter's <c>flags</c>).</summary>
internal static class IoUringEnterFlags
{
    public const uint GetEvents = 1u << 0;      // IORING_ENTER_GETEVENTS: wait for min_complete completions
    public const uint SqWakeup = 1u << 1;       // IORING_ENTER_SQ_WAKEUP
    public const uint SqWait = 1u << 2;         // IORING_ENTER_SQ_WAIT
    public const uint ExtArg = 1u << 3;         // IORING_ENTER_EXT_ARG (5.11): arg is io_uring_getevents_arg
    public const uint RegisteredRing = 1u << 4; // IORING_ENTER_REGISTERED_RING (5.18)
}

/// <summary>IORING_SQ_* (the SQ ring's <c>flags</c> word, written by the kernel).</summary>
internal static class IoUringSqRingFlags
{
    public const uint NeedWakeup = 1u << 0; // IORING_SQ_NEED_WAKEUP (SQPOLL only)
    public const uint CqOverflow = 1u << 1; // IORING_SQ_CQ_OVERFLOW: completions wait in the kernel's overflow list
    public const uint Taskrun = 1u << 2;    // IORING_SQ_TASKRUN: completions wait for us to enter the kernel
}

/// <summary>IORING_CQE_F_* (<c>cqe-&gt;flags</c>).</summary>
internal static class IoUringCqeFlags
{
    public const uint Buffer = 1u << 0;      // IORING_CQE_F_BUFFER: the upper 16 bits are the provided buffer's id
    public const uint More = 1u << 1;        // IORING_CQE_F_MORE: the (multishot) request stays armed
    public const uint SockNonEmpty = 1u << 2; // IORING_CQE_F_SOCK_NONEMPTY: more data is waiting after this recv
    public const uint Notif = 1u << 3;       // IORING_CQE_F_NOTIF: a zero-copy send's notification
    public const uint BufMore = 1u << 4;     // IORING_CQE_F_BUF_MORE (6.12): an incremental buffer stays the kernel's
    public const int BufferShift = 16;       // IORING_CQE_BUFFER_SHIFT
}

/// <summary>IOU_PBUF_RING_* (<c>io_uring_buf_reg.flags</c>).</summary>
internal static class IoUringPbufRingFlags
{
    public const ushort Mmap = 1 << 0;        // IOU_PBUF_RING_MMAP (6.4): the kernel allocates the ring
    public const ushort Incremental = 1 << 1; // IOU_PBUF_RING_INC (6.12): receives consume buffers a part at a time
}

/// <summary>IORING_POLL_* (POLL_ADD/POLL_REMOVE's <c>sqe-&gt;len</c>).</summary>
internal static class IoUringPollFlags
{
    public const uint AddMulti = 1u << 0;         // IORING_POLL_ADD_MULTI (5.13): post a CQE per wake-up, stay armed
    public const uint UpdateEvents = 1u << 1;     // IORING_POLL_UPDATE_EVENTS (5.13)
    public const uint UpdateUserData = 1u << 2;   // IORING_POLL_UPDATE_USER_DATA (5.13)
    public const uint AddLevel = 1u << 3;         // IORING_POLL_ADD_LEVEL (5.19)
}

/// <summary>IORING_TIMEOUT_* (<c>sqe-&gt;timeout_flags</c>).</summary>
internal static class IoUringTimeoutFlags
{
    public const uint Abs = 1u << 0;          // IORING_TIMEOUT_ABS
    public const uint Update = 1u << 1;       // IORING_TIMEOUT_UPDATE
    public const uint Boottime = 1u << 2;     // IORING_TIMEOUT_BOOTTIME
    public const uint Realtime = 1u << 3;     // IORING_TIMEOUT_REALTIME
    public const uint EtimeSuccess = 1u << 5; // IORING_TIMEOUT_ETIME_SUCCESS
    public const uint Multishot = 1u << 6;    // IORING_TIMEOUT_MULTISHOT (6.4)
}

/// <summary>IORING_ASYNC_CANCEL_* (<c>sqe-&gt;cancel_flags</c>; 5.19).</summary>
internal static class IoUringCancelFlags
{
    public const uint All = 1u << 0;      // IORING_ASYNC_CANCEL_ALL: every match, not the first
    public const uint Fd = 1u << 1;       // IORING_ASYNC_CANCEL_FD: match on sqe->fd instead of user_data
    public const uint Any = 1u << 2;      // IORING_ASYNC_CANCEL_ANY: match every request
    public const uint FdFixed = 1u << 3;  // IORING_ASYNC_CANCEL_FD_FIXED
    public const uint UserData = 1u << 4; // IORING_ASYNC_CANCEL_USERDATA (6.6)
    public const uint Op = 1u << 5;       // IORING_ASYNC_CANCEL_OP (6.6)
}

/// <summary>IORING_RECVSEND_* / IORING_RECV_* / IORING_ACCEPT_* (<c>sqe-&gt;ioprio</c> of socket ops).</summary>
internal static class IoUringSocketFlags
{
    public const ushort RecvSendPollFirst = 1 << 0; // IORING_RECVSEND_POLL_FIRST (5.19)
    public const ushort RecvMultishot = 1 << 1;     // IORING_RECV_MULTISHOT (6.0)
    public const ushort AcceptMultishot = 1 << 0;   // IORING_ACCEPT_MULTISHOT (5.19)
}

/// <summary>IORING_MSG_* (MSG_RING's <c>sqe-&gt;addr</c>; 5.18).</summary>
internal static class IoUringMsgRing
{
    public const ulong Data = 0;   // IORING_MSG_DATA: post a CQE with res = sqe->len, user_data = sqe->off to the target
    public const ulong SendFd = 1; // IORING_MSG_SEND_FD (6.0)
}

/// <summary>IORING_REGISTER_* (io_uring_register's <c>opcode</c>).</summary>
internal static class IoUringRegisterOp
{
    public const uint RegisterEventFd = 4;     // IORING_REGISTER_EVENTFD
    public const uint RegisterProbe = 8;       // IORING_REGISTER_PROBE (5.6)
    public const uint EnableRings = 12;        // IORING_REGISTER_ENABLE_RINGS (5.10)
    public const uint RegisterPbufRing = 22;   // IORING_REGISTER_PBUF_RING (5.19)
    public const uint UnregisterPbufRing = 23; // IORING_UNREGISTER_PBUF_RING (5.19)
}

/// <summary>IO_URING_OP_* (<c>io_uring_probe_op.flags</c>).</summary>
internal static class IoUringProbeOpFlags
{
    public const ushort Supported = 1 << 0; // IO_URING_OP_SUPPORTED
}

/// <summary>The magic <c>mmap</c> offsets (IORING_OFF_*).</summary>
internal static class IoUringMmapOffsets
{
    public const long SqRing = 0;          // IORING_OFF_SQ_RING (with IORING_FEAT_SINGLE_MMAP: both rings)
    public const long CqRing = 0x8000000;  // IORING_OFF_CQ_RING
    public const long Sqes = 0x10000000;   // IORING_OFF_SQES
}
