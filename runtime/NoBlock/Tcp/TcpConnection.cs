using System.Buffers;
using System.Net;
using NoBlock.Interop;
using NoBlock.IoUring;

namespace NoBlock.Tcp;

/// <summary>
/// One accepted TCP connection on an <see cref="EventLoop"/>. Derive from it, override <see cref="OnData"/> (and
/// optionally <see cref="OnOpened"/>, <see cref="OnClosed"/>), and hand a factory to a <see cref="TcpAcceptor"/>.
/// All members are called on the connection's loop thread.
/// </summary>
/// <remarks>
/// Memory: an idle connection holds no buffer. On epoll, received bytes are read into the loop's one shared buffer
/// and lent to <see cref="OnData"/> as a span (valid only during the call); <see cref="Send"/> writes immediately and
/// only what the kernel does not take is copied into a pooled buffer, returned to the pool when flushed. On io_uring
/// (<see cref="EventLoop.Backend"/>) the same state machine runs on completions: one multishot receive into the
/// loop's provided-buffer ring (the span points into the buffer, recycled after the call) and sends from the
/// connection's pinned send queue, submitted with the loop's next wait (docs/io_uring.md).
/// </remarks>
public abstract unsafe class TcpConnection : ICompletionOwner, Sockets.ITrackedSocket
{
    /// <summary>
    /// Size of the loop's shared receive buffer and so the largest <see cref="OnData"/> span. 64 KiB: a full
    /// default socket receive window is drained in a few reads; one buffer per loop, so its size costs nothing per
    /// connection.
    /// </summary>
    internal const int ReadBufferSize = 64 * 1024;

    /// <summary>
    /// Most bytes read from one connection per readiness event (edge-triggered mode, where we would otherwise drain
    /// until EAGAIN). 256 KiB: a fast sender cannot hold the loop for more than a few reads; the rest is read on a
    /// later turn (the connection remembers that more may be pending and posts itself).
    /// </summary>
    private const int MaxReadPerEvent = 256 * 1024;

    private EventLoop? _loop;
    private FdHandle? _handle;
    private Registration? _registration;
    private TcpServerOptions _options = null!;
    private int _fd = -1;
    private bool _edge;
    private bool _closed;
    private bool _readPaused;       // back-pressure: pending output above the high-water mark
    private bool _readClosed;       // the peer half-closed (EOF read)
    private bool _closeAfterFlush;  // Close() with output pending, or EOF with output pending
    private bool _resumePosted;     // edge mode: a "read more" continuation is queued
    private bool _hangUpSeen;       // edge mode: an event carried EPOLLRDHUP/EPOLLHUP, so a short read does not end the drain
    private byte[]? _pending;       // unsent output; null while nothing is pending (idle connections hold no buffer)
    private int _pendingStart, _pendingEnd;
    private CloseReason _closeReason;

    // io_uring strategy (null _uring: epoll). The state above is shared; these say which requests are in the kernel.
    private IoUringBackend? _uring;
    private int _source = -1;          // the completion source (the registration's selector key)
    private SendQueue? _sendQueue;     // output while the kernel sends it (replaces _pending on io_uring)
    private bool _recvArmed;           // a multishot receive is in the kernel (armed, or its last completion not seen)
    private bool _recvCancelling;      // ...and its cancel is queued
    private bool _released;            // the completion source is given back (nothing of ours left in the kernel)
    private byte[]? _held;             // received while reading was paused (completions already on their way)
    private int _heldStart, _heldEnd;
    private bool _heldEof;             // the peer's FIN came while paused: delivered after the held bytes

    /// <summary>The loop the connection runs on. Null before the connection is attached.</summary>
    public EventLoop? Loop => _loop;

    /// <summary>The socket fd; -1 once closed.</summary>
    public int Fd => _closed ? -1 : _fd;

    /// <summary>True once closed (and <see cref="OnClosed"/> was called).</summary>
    public bool IsClosed => _closed;

    /// <summary>The peer's address, if known.</summary>
    public IPEndPoint? RemoteEndPoint { get; private set; }

    /// <summary>Bytes accepted by <see cref="Send"/> that the kernel has not taken yet.</summary>
    public int PendingSendBytes => _uring is null ? _pendingEnd - _pendingStart : _sendQueue!.Length;

    /// <summary>True while reading is paused because pending output is above <see cref="TcpServerOptions.HighWaterMark"/>.</summary>
    public bool IsReadingPaused => _readPaused;

    /// <summary>True when the connection runs on io_uring completion I/O (its loop's backend), false on epoll readiness.</summary>
    internal bool UsesCompletionIo => _uring is not null;

    /// <summary>The socket error behind a <see cref="CloseReason.Error"/>, <see cref="CloseReason.Reset"/> or <see cref="CloseReason.BrokenPipe"/> close.</summary>
    public Exception? CloseError { get; private set; }

    /// <summary>Bytes received by the kernel and not read yet (<c>FIONREAD</c>; the Recv-Q of <c>ss -tn</c>).</summary>
    public int ReceiveQueueBytes => Query(static (int fd, out int v, out Errno e) => Sys.ReceiveQueue(fd, out v, out e), "ioctl(FIONREAD)");

    /// <summary>Bytes sent and not yet acknowledged by the peer (<c>SIOCOUTQ</c>; the Send-Q of <c>ss -tn</c>).</summary>
    public int SendQueueBytes => Query(static (int fd, out int v, out Errno e) => Sys.SendQueue(fd, out v, out e), "ioctl(SIOCOUTQ)");

    /// <summary>The socket's receive buffer (<c>SO_RCVBUF</c>; the kernel reports double what was set).</summary>
    public int ReceiveBufferSize
    {
        get => GetOpt(Sys.SockOpt.ReceiveBuffer);
        set => SetOpt(Sys.SockOpt.ReceiveBuffer, value);
    }

    /// <summary>The socket's send buffer (<c>SO_SNDBUF</c>; the kernel reports double what was set).</summary>
    public int SendBufferSize
    {
        get => GetOpt(Sys.SockOpt.SendBuffer);
        set => SetOpt(Sys.SockOpt.SendBuffer, value);
    }

    string IRegistrationOwner.HandlerName => HandlerNames.Describe(GetType(), nameof(OnData));

    /// <summary>Called on the loop once the connection is registered. Default: nothing.</summary>
    [EventLoopHandler]
    protected virtual void OnOpened()
    {
    }

    /// <summary>
    /// Called on the loop with bytes received. The span points into the loop's shared buffer: it is valid only
    /// during this call (copy what you keep). Must not block.
    /// </summary>
    /// <param name="data">The bytes received.</param>
    [EventLoopHandler]
    protected abstract void OnData(ReadOnlySpan<byte> data);

    /// <summary>Called exactly once when the connection closes, for whatever reason. The fd is already closed.</summary>
    /// <param name="reason">Why it closed.</param>
    [EventLoopHandler]
    protected virtual void OnClosed(CloseReason reason)
    {
    }

    /// <summary>
    /// Sends bytes: writes what the kernel takes now and queues the rest (flushed when the socket is writable).
    /// Returns false if the connection is closed (the bytes are dropped). Call on the loop thread.
    /// </summary>
    /// <param name="data">The bytes to send; copied if they cannot all be written now.</param>
    /// <returns>True if the bytes were written or queued.</returns>
    /// <exception cref="InvalidOperationException">Called from another thread while the loop runs.</exception>
    public bool Send(ReadOnlySpan<byte> data)
    {
        if (_closed || _closeAfterFlush)
        {
            return false;
        }
        ThrowIfOffLoop();
        if (data.IsEmpty)
        {
            return true;
        }
        if (_uring is not null)
        {
            fixed (byte* p = data)
            {
                if (_uring.TryLend(p, data.Length, out ushort bufferId))
                {
                    _sendQueue!.AppendLent(p, data.Length, bufferId); // sent straight from the receive buffer
                }
                else
                {
                    _sendQueue!.Append(data);
                }
            }
            if (!_readPaused && PendingSendBytes > _options.HighWaterMark)
            {
                _readPaused = true; // back-pressure: stop reading until the peer takes our output
                UpdateInterest();
            }
            StartRingSend();
            return true;
        }
        int written = 0;
        if (_pendingEnd == _pendingStart)
        {
            fixed (byte* p = data)
            {
                written = SendUntilWouldBlock(p, data.Length);
            }
            if (written < 0)
            {
                return false;
            }
            if (written == data.Length)
            {
                return true;
            }
        }
        Append(data.Slice(written));
        UpdateInterest();
        return true;
    }

    /// <summary>
    /// Closes gracefully: stops reading, flushes pending output, then closes (reason <see cref="CloseReason.LocalClose"/>).
    /// Idempotent.
    /// </summary>
    public void Close()
    {
        if (_closed)
        {
            return;
        }
        ThrowIfOffLoop();
        if (PendingSendBytes > 0)
        {
            _closeAfterFlush = true;
            UpdateInterest();
            return;
        }
        CloseCore(CloseReason.LocalClose, null);
    }

    /// <summary>Closes now, dropping pending output (reason <see cref="CloseReason.LocalClose"/>). Idempotent.</summary>
    public void Abort()
    {
        if (!_closed)
        {
            ThrowIfOffLoop();
            CloseCore(CloseReason.LocalClose, null);
        }
    }

    FdHandle? Sockets.ITrackedSocket.TrackedHandle => _handle;

    bool Sockets.ITrackedSocket.IsListener => false;

    IPEndPoint? Sockets.ITrackedSocket.ListenEndPoint => null;

    int Sockets.ITrackedSocket.TrackedIndex { get; set; } = -1;

    // ---- attachment (by TcpAcceptor) ------------------------------------------------------------------------------

    internal void Attach(EventLoop loop, FdHandle handle, TcpServerOptions options)
    {
        _loop = loop;
        _handle = handle;
        _fd = handle.Fd;
        _options = options;
        _edge = options.EdgeTriggered;
        _uring = loop.IoUringBackend;
        try
        {
            if (_uring is not null)
            {
                _edge = false; // a multishot receive has no edges to miss
                _sendQueue = new SendQueue(_uring.SendSegments);
                _registration = loop.RegisterCompletionSource(_fd, this);
                _source = _registration.SelectorKey;
            }
            else
            {
                _registration = loop.RegisterCore(_fd, ComputeInterest(), handler: null, owner: this);
            }
            loop.Sockets.Add(this); // for EventLoop.GetSocketDiagnostics: once per connection, nothing per event
        }
        catch
        {
            _closed = true;
            handle.Dispose();
            throw;
        }
        try
        {
            OnOpened();
        }
        catch (Exception ex)
        {
            CloseCore(CloseReason.HandlerFault, ex);
            throw; // reported by the loop against the acceptor, which keeps listening
        }
        if (_uring is not null)
        {
            ArmReceive(); // data that came before it is received at once
        }
        else if (_edge && !_closed)
        {
            // Data may have arrived before the registration: with edge triggering no edge would announce it.
            ReadAvailable();
        }
    }

    internal void CaptureRemoteEndPoint(IPEndPoint? ep) => RemoteEndPoint = ep;

    // ---- events ------------------------------------------------------------------------------------------------

    void IRegistrationOwner.OnEvents(IoEvents events)
    {
        if ((events & IoEvents.Writable) != 0 && PendingSendBytes > 0)
        {
            Flush();
            if (_closed)
            {
                return;
            }
        }
        if ((events & (IoEvents.ReadHangUp | IoEvents.HangUp)) != 0)
        {
            _hangUpSeen = true; // the FIN may have come in the same edge as the last data: read on to the EOF
        }
        if ((events & (IoEvents.Readable | IoEvents.ReadHangUp | IoEvents.HangUp | IoEvents.Error)) != 0)
        {
            // A recv reports the error (ECONNRESET…) or the end of stream itself, so errors go the same way as data.
            ReadAvailable();
        }
    }

    void IRegistrationOwner.OnHandlerFault(Exception exception) => CloseCore(CloseReason.HandlerFault, exception);

    void IRegistrationOwner.OnLoopDisposed()
    {
        if (_sendQueue is { SendInFlight: true })
        {
            _uring!.KeepUntilDrained(_sendQueue); // the kernel may read its head segment until the ring is drained
        }
        CloseCore(CloseReason.LoopDisposed, null);
    }

    // ---- io_uring: completions ---------------------------------------------------------------------------------

    void ICompletionOwner.OnCompletion(in CompletionEvent completion)
    {
        if (completion.Kind == RequestKind.Receive)
        {
            OnReceiveCompletion(completion);
        }
        else if (completion.Kind == RequestKind.Send)
        {
            OnSendCompletion(completion.Result);
        }
    }

    private void OnReceiveCompletion(in CompletionEvent c)
    {
        if (!c.HasMore)
        {
            _recvArmed = false; // the multishot ended (EOF, error, cancel, no buffers): nothing of it is in the kernel
            _recvCancelling = false;
        }
        try
        {
            if (c.Result > 0)
            {
                if (c.HasBuffer)
                {
                    _uring!.BeginLending((byte*)c.Data, c.Result, c.BufferId); // a Send of these bytes may point at them
                }
                try
                {
                    Deliver((byte*)c.Data, c.Result);
                }
                finally
                {
                    _uring!.EndLending();
                }
            }
            else if (c.Result == 0)
            {
                if (!_closed && !_readClosed && !_closeAfterFlush)
                {
                    if (_readPaused || _heldEnd > _heldStart)
                    {
                        _heldEof = true; // epoll would not read the FIN before resuming either
                    }
                    else
                    {
                        OnEndOfStream();
                    }
                }
            }
            else
            {
                var err = Errno.FromCompletion(c.Result);
                if (err.IsNoBuffers)
                {
                    _uring!.ReceiveBufferExhaustions++; // every buffer was out; re-armed below, submitted after this turn's dispatch recycled them
                }
                else if (!err.IsCanceled && !_closed)
                {
                    CloseOnError(err, "recv");
                }
            }
        }
        finally
        {
            if (c.RecycleBuffer)
            {
                _uring!.ReceiveBuffers.Recycle(c.BufferId);
            }
        }
        if (!_recvArmed)
        {
            if (_closed)
            {
                ReleaseIfIdle();
            }
            else
            {
                ArmReceive();
            }
        }
    }

    /// <summary>Hands received bytes to <see cref="OnData"/> in spans of at most <see cref="ReadBufferSize"/>, as epoll's reads; what arrives while paused is held.</summary>
    private void Deliver(byte* data, int length)
    {
        while (length > 0)
        {
            if (_closed || _readClosed || _closeAfterFlush)
            {
                return; // reading stopped: epoll would leave these in the kernel until the close
            }
            if (_readPaused)
            {
                Hold(data, length);
                return;
            }
            int n = Math.Min(length, ReadBufferSize);
            OnData(new ReadOnlySpan<byte>(data, n));
            data += n;
            length -= n;
        }
    }

    /// <summary>
    /// Keeps bytes that completed after reading paused (the receive's cancel was on its way): bounded by what one
    /// receive request had in the kernel, as epoll's pause leaves at most one read past the mark.
    /// </summary>
    private void Hold(byte* data, int length)
    {
        if (_held is null)
        {
            _held = ArrayPool<byte>.Shared.Rent(Math.Max(length, 4096));
            _heldStart = _heldEnd = 0;
        }
        else if (_held.Length - _heldEnd < length)
        {
            int live = _heldEnd - _heldStart;
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_held.Length * 2, live + length));
            Buffer.BlockCopy(_held, _heldStart, bigger, 0, live);
            ArrayPool<byte>.Shared.Return(_held);
            _held = bigger;
            _heldStart = 0;
            _heldEnd = live;
        }
        new ReadOnlySpan<byte>(data, length).CopyTo(_held.AsSpan(_heldEnd));
        _heldEnd += length;
    }

    /// <summary>Reading resumes (output fell to the low-water mark): held bytes first, then the held FIN, then a new receive.</summary>
    private void ResumeRingRead()
    {
        while (_held is not null && _heldEnd > _heldStart && !_closed && !_readPaused && !_closeAfterFlush && !_readClosed)
        {
            int n = Math.Min(_heldEnd - _heldStart, ReadBufferSize);
            var held = _held;
            int start = _heldStart;
            _heldStart += n;
            OnData(new ReadOnlySpan<byte>(held, start, n));
        }
        if (_closed || _readPaused)
        {
            return;
        }
        if (_held is not null && _heldEnd == _heldStart)
        {
            ArrayPool<byte>.Shared.Return(_held);
            _held = null;
            _heldStart = _heldEnd = 0;
        }
        if (_heldEof)
        {
            _heldEof = false;
            if (!_readClosed && !_closeAfterFlush)
            {
                OnEndOfStream();
            }
            return;
        }
        ArmReceive();
    }

    /// <summary>Arms the multishot receive if reading is wanted and none is in the kernel.</summary>
    private void ArmReceive()
    {
        if (_closed || _readPaused || _readClosed || _closeAfterFlush || _recvArmed || _heldEof || _heldEnd > _heldStart)
        {
            return;
        }
        if (!_uring!.ArmReceive(_source))
        {
            CloseCore(CloseReason.Error, Errno.SubmissionQueueFull.ToException("io_uring recv", _fd));
            return;
        }
        _recvArmed = true;
    }

    private void CancelReceive()
    {
        if (_recvArmed && !_recvCancelling)
        {
            _recvCancelling = _uring!.Cancel(_source, RequestKind.Receive);
        }
    }

    /// <summary>Starts the queue's next send if none is in flight (rides on the loop's next io_uring_enter).</summary>
    private void StartRingSend()
    {
        if (!_sendQueue!.TryStartSend(out byte* data, out int length))
        {
            return;
        }
        if (!_uring!.Send(_source, data, length))
        {
            _sendQueue.Completed(0);
            CloseCore(CloseReason.Error, Errno.SubmissionQueueFull.ToException("io_uring send", _fd));
        }
    }

    private void OnSendCompletion(int result)
    {
        var queue = _sendQueue!;
        queue.Completed(result > 0 ? result : 0);
        if (_closed)
        {
            ReleaseIfIdle();
            return;
        }
        if (result < 0)
        {
            var err = Errno.FromCompletion(result);
            if (!err.IsInterrupted && !err.IsWouldBlock)
            {
                CloseOnError(err, "send");
                return;
            }
        }
        if (queue.Length > 0)
        {
            StartRingSend(); // a short send leaves the rest queued
            return;
        }
        if (_closeAfterFlush)
        {
            CloseCore(_readClosed ? CloseReason.PeerClosed : CloseReason.LocalClose, null);
            return;
        }
        if (_readPaused && PendingSendBytes <= _options.LowWaterMark)
        {
            _readPaused = false;
            ResumeRingRead();
        }
    }

    /// <summary>Gives the completion source back once the connection is closed and none of its requests is in the kernel.</summary>
    private void ReleaseIfIdle()
    {
        if (_closed && !_released && !_recvArmed && !_sendQueue!.SendInFlight)
        {
            _released = true;
            _registration?.Dispose();
        }
    }

    private void ReadAvailable()
    {
        if (_closed || _readPaused || _readClosed || _closeAfterFlush)
        {
            return;
        }
        byte* buffer = _loop!.ReadBuffer(ReadBufferSize);
        int total = 0;
        while (true)
        {
            long n = Sys.Recv(_fd, buffer, ReadBufferSize, out var err);
            if (n > 0)
            {
                total += (int)n;
                OnData(new ReadOnlySpan<byte>(buffer, (int)n));
                if (_closed || _readPaused || _closeAfterFlush)
                {
                    return;
                }
                if (!_edge || (n < ReadBufferSize && !_hangUpSeen))
                {
                    // Level-triggered: the loop tells us again if more is there. Edge-triggered: a short read of a
                    // stream socket emptied its queue and new data raises a new edge — unless the peer hung up, whose
                    // FIN can arrive in the same edge as the last data and raises no edge of its own: then read on
                    // until recv returns 0.
                    return;
                }
                if (total >= MaxReadPerEvent)
                {
                    PostResumeRead(); // edge mode, bounded: more may be pending and no new edge will come
                    return;
                }
                continue;
            }
            if (n == 0)
            {
                OnEndOfStream();
                return;
            }
            if (err.IsInterrupted)
            {
                continue;
            }
            if (err.IsWouldBlock)
            {
                return; // drained
            }
            CloseOnError(err, "recv");
            return;
        }
    }

    private void OnEndOfStream()
    {
        // Half-close: the peer will send nothing more. Finish sending what we owe, then close.
        _readClosed = true;
        if (PendingSendBytes > 0)
        {
            _closeAfterFlush = true;
            _closeReason = CloseReason.PeerClosed;
            UpdateInterest();
            return;
        }
        CloseCore(CloseReason.PeerClosed, null);
    }

    /// <summary>
    /// Writes until everything is written or the kernel's send buffer is full (EAGAIN); returns the bytes written, or
    /// -1 after an error, when the connection has been closed with the reason.
    /// </summary>
    private int SendUntilWouldBlock(byte* data, int length)
    {
        int written = 0;
        while (written < length)
        {
            long n = Sys.Send(_fd, data + written, length - written, out var err);
            if (n >= 0)
            {
                written += (int)n;
                continue;
            }
            if (err.IsInterrupted)
            {
                continue;
            }
            if (err.IsWouldBlock)
            {
                break;
            }
            CloseOnError(err, "send");
            return -1;
        }
        return written;
    }

    private void Flush()
    {
        int sent;
        fixed (byte* p = _pending)
        {
            sent = SendUntilWouldBlock(p + _pendingStart, _pendingEnd - _pendingStart);
        }
        if (sent < 0)
        {
            return;
        }
        _pendingStart += sent;
        if (_pendingEnd == _pendingStart)
        {
            ReleasePending();
            if (_closeAfterFlush)
            {
                CloseCore(_readClosed ? CloseReason.PeerClosed : CloseReason.LocalClose, null);
                return;
            }
        }
        bool resume = _readPaused && PendingSendBytes <= _options.LowWaterMark && !_closeAfterFlush;
        if (resume)
        {
            _readPaused = false;
        }
        UpdateInterest();
        if (resume && _edge)
        {
            PostResumeRead(); // the edge that announced the unread data was consumed while we were paused
        }
    }

    private void PostResumeRead()
    {
        if (_resumePosted)
        {
            return;
        }
        _resumePosted = true;
        _loop!.Post(ResumeRead);
    }

    private void ResumeRead()
    {
        _resumePosted = false;
        ReadAvailable();
    }

    // ---- output buffer -----------------------------------------------------------------------------------------

    private void Append(ReadOnlySpan<byte> data)
    {
        if (_pending is null)
        {
            _pending = ArrayPool<byte>.Shared.Rent(Math.Max(data.Length, 4096));
            _pendingStart = _pendingEnd = 0;
        }
        else if (_pending.Length - _pendingEnd < data.Length)
        {
            int live = _pendingEnd - _pendingStart;
            if (_pending.Length - live >= data.Length && _pendingStart > 0)
            {
                Buffer.BlockCopy(_pending, _pendingStart, _pending, 0, live);
            }
            else
            {
                var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_pending.Length * 2, live + data.Length));
                Buffer.BlockCopy(_pending, _pendingStart, bigger, 0, live);
                ArrayPool<byte>.Shared.Return(_pending);
                _pending = bigger;
            }
            _pendingStart = 0;
            _pendingEnd = live;
        }
        data.CopyTo(_pending.AsSpan(_pendingEnd));
        _pendingEnd += data.Length;
        if (!_readPaused && PendingSendBytes > _options.HighWaterMark)
        {
            _readPaused = true; // back-pressure: stop reading until the peer takes our output
        }
    }

    private void ReleasePending()
    {
        if (_pending is not null)
        {
            ArrayPool<byte>.Shared.Return(_pending);
            _pending = null;
        }
        _pendingStart = _pendingEnd = 0;
    }

    private IoEvents ComputeInterest()
    {
        if (_edge)
        {
            // Edge-triggered: both directions stay registered (an edge costs nothing while nothing changes), so the
            // connection never needs epoll_ctl after it is added; pausing is a flag, resuming reads directly.
            return IoEvents.Readable | IoEvents.Writable | IoEvents.ReadHangUp | IoEvents.EdgeTriggered;
        }
        var interest = IoEvents.None;
        if (!_readPaused && !_readClosed && !_closeAfterFlush)
        {
            interest |= IoEvents.Readable | IoEvents.ReadHangUp;
        }
        if (PendingSendBytes > 0)
        {
            interest |= IoEvents.Writable; // only while output is pending: a writable socket is nearly always ready
        }
        return interest;
    }

    private void UpdateInterest()
    {
        if (_closed || _registration is null)
        {
            return;
        }
        if (_uring is not null)
        {
            if (_readPaused || _readClosed || _closeAfterFlush)
            {
                CancelReceive(); // what completes before the cancel is held (paused) or dropped (reading stopped)
            }
            return;
        }
        var interest = ComputeInterest();
        if (interest != _registration.Interest)
        {
            _registration.Modify(interest);
        }
    }

    // ---- closing -----------------------------------------------------------------------------------------------

    private void CloseOnError(Errno err, string call)
    {
        var reason = err.IsReset ? CloseReason.Reset : err.IsBrokenPipe ? CloseReason.BrokenPipe : CloseReason.Error;
        CloseCore(reason, err.ToException(call, _fd));
    }

    private void CloseCore(CloseReason reason, Exception? error)
    {
        if (_closed)
        {
            return;
        }
        _closed = true;
        _closeReason = reason;
        CloseError = error;
        if (_uring is not null)
        {
            // Cancel by user_data and submit before the close: the requests hold the file, so the peer would see no
            // FIN (or RST) until they end. The source stays until their last completions are back (ReleaseIfIdle).
            bool cancelled = false;
            if (_recvArmed && !_recvCancelling)
            {
                _recvCancelling = cancelled = _uring.Cancel(_source, RequestKind.Receive);
            }
            if (_sendQueue is { SendInFlight: true })
            {
                cancelled |= _uring.Cancel(_source, RequestKind.Send);
            }
            _sendQueue?.Drop();
            if (cancelled)
            {
                _uring.SubmitNow();
            }
            _held = null; // not returned to the pool: an OnData running on it may be what closed us
            _heldStart = _heldEnd = 0;
        }
        else
        {
            _registration?.Dispose();
        }
        _loop?.Sockets.Remove(this);
        _handle?.Dispose();
        ReleasePending();
        if (_uring is not null && _registration is not null)
        {
            ReleaseIfIdle();
        }
        OnClosed(reason);
    }

    private void ThrowIfOffLoop()
    {
        if (_loop is { IsRunning: true, IsOnLoopThread: false })
        {
            throw new InvalidOperationException(
                $"TcpConnection on fd {_fd} was used from thread {Environment.CurrentManagedThreadId}, but its loop '{_loop.Name}' runs on another thread. " +
                "Use it from its handlers, or through loop.Post(() => ...).");
        }
    }

    private delegate bool QueryFn(int fd, out int value, out Errno err);

    private int Query(QueryFn fn, string what)
    {
        ThrowIfClosed();
        return fn(_fd, out int value, out var err) ? value : throw err.ToException(what, _fd);
    }

    private int GetOpt(Sys.SockOpt opt)
    {
        ThrowIfClosed();
        return Sys.GetSockOpt(_fd, opt, out int v, out var err) ? v : throw err.ToException("getsockopt", _fd);
    }

    private void SetOpt(Sys.SockOpt opt, int value)
    {
        ThrowIfClosed();
        if (value <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "Socket buffer sizes must be positive.");
        }
        if (!Sys.SetSockOpt(_fd, opt, value, out var err))
        {
            throw err.ToException("setsockopt", _fd);
        }
    }

    private void ThrowIfClosed()
    {
        if (_closed || _fd < 0)
        {
            throw new ObjectDisposedException(GetType().Name, $"The connection ({_closeReason}) is closed.");
        }
    }
}
