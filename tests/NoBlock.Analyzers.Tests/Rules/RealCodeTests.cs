using Microsoft.CodeAnalysis.Testing;
using Xunit;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Tests.Verification;
using Verify = NoBlock.Analyzers.Tests.Verification.AnalyzerVerifier<NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer>;

namespace NoBlock.Analyzers.Tests.Rules;

/// <summary>
/// Shapes met in the public code bases of docs/real-code.md, reduced to what decides the verdict; each test names
/// the code base and file it comes from. The shapes NoBlock still gets wrong are listed there as open repros.
/// </summary>
public sealed class RealCodeTests
{
    /// <summary>
    /// SpanNetty and DotNetty, TlsHandler.Unwrap: a pending SslStream read is read out with <c>.Result</c> only after
    /// <c>IsCompleted</c>, both as <c>if (f.IsCompleted) { … f.Result … }</c> and as <c>if (!f.IsCompleted) break;</c>
    /// at the top of a drain loop. A read not checked first still blocks.
    /// </summary>
    [Fact]
    public Task Tls_style_pending_read_is_read_out_only_after_IsCompleted() => Verify.VerifyAsync("""
        using System.Threading.Tasks;

        namespace ThirdParty { public interface IChannelHandler { void ChannelRead(object context, object message); } }

        class TlsHandler : ThirdParty.IChannelHandler
        {
            Task<int> _pendingRead;

            public void ChannelRead(object context, object message) => Unwrap();

            void Unwrap()
            {
                var current = _pendingRead;
                if (current is object)
                {
                    _pendingRead = null;
                    if (current.IsCompleted)
                    {
                        int read = current.Result;
                        current = ReadFromSslStreamAsync();
                    }
                }
                else
                {
                    current = ReadFromSslStreamAsync();
                }

                while (true)
                {
                    if (current is object)
                    {
                        if (!current.IsCompleted) { break; }
                        int read = current.Result;
                        if (read == 0) { return; }
                        current = null;
                    }
                    current = ReadFromSslStreamAsync();
                }

                _pendingRead = current;
            }

            Task<int> ReadFromSslStreamAsync() => Task.FromResult(0);
        }

        class Unchecked : ThirdParty.IChannelHandler
        {
            public void ChannelRead(object context, object message)
            {
                var read = {|NB0001:ReadAsync().Result|};
            }

            Task<int> ReadAsync() => Task.FromResult(0);
        }
        """, null, ("NoBlock.Handlers.txt", "M:ThirdParty.IChannelHandler.ChannelRead(System.Object,System.Object)\n"));

    /// <summary>
    /// SpanNetty and DotNetty, Streams/ChunkedStream.ReadChunk: ChunkedWriteHandler pulls chunks through
    /// <c>IChunkedInput&lt;T&gt;.ReadChunk</c> on the loop. Listed in NoBlock.Handlers.txt (NB0002 does not follow
    /// the interface call), the implementation's sync-over-async stream read is found, in a generic interface's
    /// implementation too; an implementation that only copies memory stays silent.
    /// </summary>
    [Fact]
    public Task Chunked_input_implementations_listed_as_loop_code() => Verify.VerifyAsync("""
        using System.IO;
        using System.Threading;
        using System.Threading.Tasks;

        namespace Streams
        {
            public interface IChunkedInput<T> { T ReadChunk(int size); bool IsEndOfInput { get; } }
        }

        class ChunkedStream : Streams.IChunkedInput<byte[]>
        {
            readonly Stream _input;
            public ChunkedStream(Stream input) => _input = input;
            public bool IsEndOfInput => _input.Position == _input.Length;

            public byte[] ReadChunk(int size)
            {
                var buffer = new byte[size];
                int count = {|NB0001:_input.ReadAsync(buffer, 0, size, CancellationToken.None).Result|};
                return buffer;
            }
        }

        class ChunkedBytes : Streams.IChunkedInput<byte[]>
        {
            readonly byte[] _data = new byte[16];
            public bool IsEndOfInput => true;
            public byte[] ReadChunk(int size) => (byte[])_data.Clone();
        }
        """, null, ("NoBlock.Handlers.txt", "M:Streams.IChunkedInput`1.ReadChunk(System.Int32)\n"));

    /// <summary>
    /// kestrel-linux-transport, TransportThread.ThreadContext.Run; Tmds.LinuxAsync, EPollThread.EventLoop: the loop's
    /// own wait is behind an EINTR-retry wrapper, its timeout a variable (0 when work is pending, -1 otherwise), and
    /// the loop takes short locks. None of that is a finding; a real wait in the same loop is.
    /// </summary>
    [Fact]
    public Task Loop_with_a_variable_own_timeout_wrapper_and_locks() => Verify.VerifyAsync("""
        using System.Collections.Generic;
        using System.Threading;
        using Tmds.Linux;
        using static Tmds.Linux.LibC;

        static unsafe class EPollInterop
        {
            public static int EPollWait(int epoll, epoll_event* events, int maxEvents, int timeout)
            {
                int rv;
                do
                {
                    rv = epoll_wait(epoll, events, maxEvents, timeout);
                } while (rv < 0 && errno == EINTR);
                return rv;
            }
        }

        unsafe class EPollThread
        {
            readonly object _gate = new object();
            readonly List<int> _scheduled = new List<int>();
            readonly ManualResetEventSlim _started = new ManualResetEventSlim();

            void EventLoop(int epfd)
            {
                var events = stackalloc epoll_event[64];
                int timeout = -1;
                bool running = true;
                while (running)
                {
                    int n = EPollInterop.EPollWait(epfd, events, 64, timeout);
                    bool pending;
                    lock (_gate)
                    {
                        pending = _scheduled.Count > 0;
                    }
                    timeout = pending ? 0 : -1;
                    if (n == 0) {|NB0001:_started.Wait()|};
                }
            }
        }
        """);

    /// <summary>
    /// kestrel-linux-transport TSocket.ReadFromApp/GetReadResult (docs/real-code.md, O1): an awaiter kept in a field
    /// is read out by a private helper reached only under <c>if (_readAwaiter.IsCompleted)</c> or as the continuation
    /// cached in a field and handed to <c>UnsafeOnCompleted</c>. An unguarded caller still blocks.
    /// </summary>
    [Fact]
    public Task Stored_awaiter_checked_by_the_caller() => Verify.VerifyAsync("""
        using System.Runtime.CompilerServices;
        using System.Threading.Tasks;
        using NoBlock;

        class Connection
        {
            ValueTaskAwaiter<int> _readAwaiter;
            readonly System.Action _onRead;

            public Connection() => _onRead = OnRead;

            ValueTask<int> ReadAsync() => new ValueTask<int>(0);

            public void Start()
            {
                _readAwaiter = ReadAsync().GetAwaiter();
                if (_readAwaiter.IsCompleted)
                {
                    OnRead();
                }
                else
                {
                    _readAwaiter.UnsafeOnCompleted(_onRead);
                }
            }

            void OnRead() => Consume(GetReadResult());

            int GetReadResult() => _readAwaiter.GetResult();

            void Consume(int n) { }
        }

        class Eager
        {
            ValueTaskAwaiter<int> _readAwaiter;
            public void Start() => Consume(GetReadResult());
            int GetReadResult() => _readAwaiter.GetResult();
            void Consume(int n) { }
        }

        class Loop
        {
            readonly Connection _connection = new Connection();
            readonly Eager _eager = new Eager();

            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
                _connection.Start();
                {|#0:_eager.Start()|};
            }
        }
        """,
        new DiagnosticResult(BlockingCallInHandlerAnalyzer.TransitiveBlockingCallRule).WithLocation(0)
            .WithArguments("'Loop.OnReadable'", "Start", "OnReadable → Start → GetReadResult → ValueTaskAwaiter<TResult>.GetResult (Test0.cs:38)"));

    /// <summary>
    /// kestrel-linux-transport <c>TSocket</c> as it is: the read-out helper is public and an overload of the
    /// continuation, and the loop also drains a send queue of sockets whose awaiter completed before they were queued
    /// (<c>ScheduleSend</c> → <c>DoScheduledWork</c> → <c>AioSend</c> → <c>socket.GetReadResult</c>). Because the type
    /// registers a continuation on the private awaiter field, it runs the awaiter protocol by hand and every
    /// <c>GetResult()</c> on that field is silent. A second awaiter field that no continuation is registered on is
    /// still NB0002.
    /// </summary>
    [Fact]
    public Task Awaiter_field_with_a_registered_continuation_is_the_awaiter_protocol() => Verify.VerifyAsync("""
        using System.Collections.Generic;
        using System.Runtime.CompilerServices;
        using System.Threading.Tasks;
        using NoBlock;

        class TSocket
        {
            ValueTaskAwaiter<int> _readAwaiter;
            ValueTaskAwaiter<int> _flushAwaiter;
            readonly System.Action _onReadFromApp;
            readonly Loop _loop;
            public bool DeferSend;

            public TSocket(Loop loop) { _loop = loop; _onReadFromApp = new System.Action(OnReadFromApp); }

            ValueTask<int> ReadAsync() => new ValueTask<int>(0);

            public void ReadFromApp()
            {
                bool loop = !DeferSend;
                do
                {
                    _readAwaiter = ReadAsync().GetAwaiter();
                    if (_readAwaiter.IsCompleted)
                    {
                        if (DeferSend) _loop.ScheduleSend(this);
                        else loop = OnReadFromApp(loop, 0);
                    }
                    else
                    {
                        _readAwaiter.UnsafeOnCompleted(_onReadFromApp);
                        loop = false;
                    }
                } while (loop);
            }

            void OnReadFromApp()
            {
                if (DeferSend) _loop.ScheduleSend(this);
                else OnReadFromApp(loop: false, 0);
            }

            public void DoDeferedSend() => OnReadFromApp(loop: false, 1);

            public int GetReadResult() => _readAwaiter.GetResult();

            bool OnReadFromApp(bool loop, int handles) => GetReadResult() > handles && loop;

            public void FlushNow()
            {
                _flushAwaiter = ReadAsync().GetAwaiter();
                Consume(_flushAwaiter.GetResult());
            }

            void Consume(int n) { }
        }

        class Loop
        {
            readonly List<TSocket> _sendQueue = new List<TSocket>();
            readonly TSocket _socket;

            public Loop() => _socket = new TSocket(this);

            public void ScheduleSend(TSocket socket) => _sendQueue.Add(socket);

            [EventLoopHandler]
            void OnWritable(IoEvent e)
            {
                _socket.ReadFromApp();
                foreach (var s in _sendQueue) s.GetReadResult();
                foreach (var s in _sendQueue) s.DoDeferedSend();
                _sendQueue.Clear();
                {|#0:_socket.FlushNow()|};
            }
        }
        """,
        new DiagnosticResult(BlockingCallInHandlerAnalyzer.TransitiveBlockingCallRule).WithLocation(0)
            .WithArguments("'Loop.OnWritable'", "FlushNow", "OnWritable → FlushNow → ValueTaskAwaiter<TResult>.GetResult (Test0.cs:52)"));

    /// <summary>
    /// kestrel-linux-transport <c>ThreadContext.ScheduleSend</c> / <c>DoScheduledWork</c> / <c>AioSend</c> (repro O2):
    /// the connection stores its awaiter and tells the caller whether it completed (<c>TryStartRead</c> returns
    /// <c>_readAwaiter.IsCompleted</c>); the caller queues it only then, and the loop reads the result later. The type
    /// hands the completion to its callers, so <c>GetResult()</c> on that field is the awaiter protocol: silent. Near
    /// misses, still NB0002: an awaiter field whose <c>IsCompleted</c> is only tested inside the type, and one whose
    /// completion is returned only by a private member (its callers are the type's own and judged as such).
    /// </summary>
    [Fact]
    public Task Awaiter_field_whose_completion_is_returned_to_callers_is_the_awaiter_protocol() => Verify.VerifyAsync("""
        using System.Collections.Generic;
        using System.Runtime.CompilerServices;
        using System.Threading.Tasks;
        using NoBlock;

        class Connection
        {
            ValueTaskAwaiter<int> _readAwaiter;
            ValueTaskAwaiter<int> _probeAwaiter;
            ValueTaskAwaiter<int> _privateAwaiter;
            public ValueTask<int> ReadAsync() => new ValueTask<int>(0);

            public bool TryStartRead()
            {
                _readAwaiter = ReadAsync().GetAwaiter();
                return _readAwaiter.IsCompleted;
            }

            public int GetReadResult() => _readAwaiter.GetResult();

            public bool Probe()
            {
                _probeAwaiter = ReadAsync().GetAwaiter();
                bool done = _probeAwaiter.IsCompleted;
                return !done || done;
            }

            public int GetProbeResult() => _probeAwaiter.GetResult();

            bool PrivateDone => _privateAwaiter.IsCompleted;

            public int GetPrivateResult() => PrivateDone ? 0 : _privateAwaiter.GetResult();
        }

        class Loop
        {
            readonly List<Connection> _sendQueue = new List<Connection>();

            public void Schedule(Connection c)
            {
                if (c.TryStartRead()) _sendQueue.Add(c);
            }

            [EventLoopHandler]
            void OnTick(IoEvent e)
            {
                foreach (var c in _sendQueue) Send(c.GetReadResult());
                _sendQueue.Clear();
                var probe = new Connection();
                probe.Probe();
                Send({|#0:probe.GetProbeResult()|});
                Send({|#1:probe.GetPrivateResult()|});
            }

            void Send(int n) { }
        }
        """,
        new DiagnosticResult(BlockingCallInHandlerAnalyzer.TransitiveBlockingCallRule).WithLocation(0)
            .WithArguments("'Loop.OnTick'", "GetProbeResult", "OnTick → GetProbeResult → ValueTaskAwaiter<TResult>.GetResult (Test0.cs:28)"),
        new DiagnosticResult(BlockingCallInHandlerAnalyzer.TransitiveBlockingCallRule).WithLocation(1)
            .WithArguments("'Loop.OnTick'", "GetPrivateResult", "OnTick → GetPrivateResult → ValueTaskAwaiter<TResult>.GetResult (Test0.cs:32)"));
}
