using Xunit;
using static NoBlock.Analyzers.Tests.Blocking.TransitiveBlockingCallReachTests;
using Verify = NoBlock.Analyzers.Tests.Verification.AnalyzerVerifier<NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer>;

namespace NoBlock.Analyzers.Tests.Blocking;

/// <summary>
/// NB0002 reach (issue 10, section 2): interface, virtual and delegate calls followed to their targets in the
/// compilation, the chain saying how each was resolved; a call that may reach several targets reports only when one
/// of them blocks, and names it.
/// </summary>
public sealed class TransitiveBlockingCallTargetsTests
{
    /// <summary>docs/real-code.md O4 (SpanNetty/DotNetty ChunkedWriteHandler → IChunkedInput.ReadChunk).</summary>
    [Fact]
    public Task Interface_call_whose_only_implementation_blocks() => Verify.VerifyAsync("""
        using System.IO;
        using System.Threading;
        using NoBlock;

        interface IChunkedInput { byte[] ReadChunk(int size); }

        sealed class ChunkedStream : IChunkedInput
        {
            readonly Stream _input = Stream.Null;
            public byte[] ReadChunk(int size)
            {
                var buffer = new byte[size];
                int count = _input.ReadAsync(buffer, 0, size, CancellationToken.None).Result;
                return buffer;
            }
        }

        class ChunkedWriteHandler
        {
            readonly System.Collections.Generic.Queue<object> _queue = new System.Collections.Generic.Queue<object>();

            [EventLoopHandler]
            void Flush(IoEvent e)
            {
                if (_queue.Peek() is IChunkedInput chunks)
                {
                    var chunk = {|#0:chunks.ReadChunk(8192)|};
                }
            }
        }
        """,
        Chain(0, "'ChunkedWriteHandler.Flush'", "ReadChunk", "Flush → ChunkedStream.ReadChunk (only implementation) → Task<TResult>.Result (Test0.cs:13)"));

    /// <summary>docs/real-code.md O5 (HttpPostRequestEncoder → IHttpData.GetChunk → AbstractDiskHttpData.GetChunk).</summary>
    [Fact]
    public Task Interface_call_with_several_implementations_names_the_one_that_blocks() => Verify.VerifyAsync("""
        using System.IO;
        using NoBlock;

        interface IHttpData { byte[] GetChunk(int length); }

        sealed class MemoryData : IHttpData
        {
            readonly byte[] _data = new byte[64];
            public byte[] GetChunk(int length) => (byte[])_data.Clone();
        }

        sealed class DiskData : IHttpData
        {
            readonly FileStream _file = new FileStream("upload.tmp", FileMode.Open);
            public byte[] GetChunk(int length)
            {
                var bytes = new byte[length];
                _file.Read(bytes, 0, length);
                return bytes;
            }
        }

        interface IQuiet { int Size(); }
        sealed class A : IQuiet { public int Size() => 1; }
        sealed class B : IQuiet { public int Size() => 2; }

        class PostRequestEncoder
        {
            IHttpData _current = null!;

            [EventLoopHandler]
            void ReadChunk(IoEvent e, IQuiet quiet)
            {
                var chunk = {|#0:_current.GetChunk(8192)|};
                var size = quiet.Size();
            }

            public void Use(IHttpData data) => _current = data;
        }
        """,
        Chain(0, "'PostRequestEncoder.ReadChunk'", "GetChunk", "ReadChunk → DiskData.GetChunk (one of 2 implementations) → Stream.Read (Test0.cs:18)"));

    [Fact]
    public Task Evident_receiver_types_pick_one_implementation() => Verify.VerifyAsync("""
        using System.Collections.Generic;
        using System.IO;
        using NoBlock;

        interface IStore { string Get(string key); }

        sealed class FileStore : IStore
        {
            public string Get(string key) => File.ReadAllText(key);
        }

        sealed class MemoryStore : IStore
        {
            public string Get(string key) => key;
        }

        sealed class SlowComparer : IComparer<int>
        {
            public int Compare(int x, int y) { File.ReadAllText("order"); return x - y; }
        }

        class Server
        {
            private readonly IStore _cache = new MemoryStore();
            private readonly IStore _disk;

            public Server() { _disk = new FileStore(); }

            [EventLoopHandler]
            void OnReadable(IComparer<int> anyComparer)
            {
                var cached = _cache.Get("k");
                var stored = {|#0:_disk.Get("k")|};
                IStore local = new MemoryStore();
                var quiet = local.Get("k");
                IStore slow = new FileStore();
                var loud = {|#1:slow.Get("k")|};
                var created = {|#2:((IStore)new FileStore()).Get("k")|};
                anyComparer.Compare(1, 2);
                IComparer<int> comparer = new SlowComparer();
                {|#3:comparer.Compare(1, 2)|};
            }
        }
        """,
        Chain(0, "'Server.OnReadable'", "Get", "OnReadable → FileStore.Get (field _disk only holds FileStore) → File.ReadAllText (Test0.cs:9)"),
        Chain(1, "'Server.OnReadable'", "Get", "OnReadable → FileStore.Get (local slow only holds FileStore) → File.ReadAllText (Test0.cs:9)"),
        Chain(2, "'Server.OnReadable'", "Get", "OnReadable → FileStore.Get (created as FileStore) → File.ReadAllText (Test0.cs:9)"),
        Chain(3, "'Server.OnReadable'", "Compare", "OnReadable → SlowComparer.Compare (local comparer only holds SlowComparer) → File.ReadAllText (Test0.cs:19)"));

    [Fact]
    public Task Abstract_template_methods_and_virtual_calls_reach_their_overrides() => Verify.VerifyAsync("""
        using System.IO;
        using System.Threading;
        using NoBlock;

        abstract class Decoder
        {
            [EventLoopHandler]
            public void OnReadable(IoEvent e) => {|#0:Decode(e.Fd)|};

            protected abstract void Decode(int fd);
        }

        sealed class LineDecoder : Decoder
        {
            protected override void Decode(int fd) => File.ReadAllText("fd");
        }

        class Greeter
        {
            public virtual string Greet() => "hi";
        }

        class SlowGreeter : Greeter
        {
            public override string Greet() { Thread.Sleep(1); return "hi"; }
        }

        sealed class SealedGreeter : Greeter
        {
            public override string Greet() => "hello";
        }

        class Quiet
        {
            public virtual int Size() => 1;
        }

        class Server
        {
            [EventLoopHandler]
            void OnReadable(Greeter greeter, SealedGreeter sealedGreeter, Quiet quiet)
            {
                {|#1:greeter.Greet()|};
                sealedGreeter.Greet();
                quiet.Size();
            }
        }
        """,
        Chain(0, "'Decoder.OnReadable'", "Decode", "OnReadable → LineDecoder.Decode (only override) → File.ReadAllText (Test0.cs:15)"),
        Chain(1, "'Server.OnReadable'", "Greet", "OnReadable → SlowGreeter.Greet (one of 3 overrides) → Thread.Sleep (Test0.cs:25)"));

    [Fact]
    public Task Delegates_in_fields_locals_and_constructor_parameters_reach_their_targets() => Verify.VerifyAsync("""
        using System;
        using System.IO;
        using System.Threading;
        using NoBlock;

        class Connection
        {
            private readonly Action<int> _onRead;
            private readonly Action<int> _onQuiet = n => { };
            private readonly Func<int, string> _decode;

            public Connection(Func<int, string> decode)
            {
                _onRead = Parse;
                _decode = decode;
            }

            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
                {|#0:_onRead(e.Fd)|};
                _onQuiet(e.Fd);
                var text = {|#1:_decode(e.Fd)|};
                Action<int> local = n => Thread.Sleep(n);
                {|#2:local(1)|};
                Action<int> quiet = n => { };
                quiet(1);
                Action<int>? maybe = Parse;
                {|#3:maybe?.Invoke(1)|};
            }

            void Parse(int n) => Thread.Sleep(n);

            static Connection Make() => new Connection(fd => File.ReadAllText("fd" + fd));
            static Connection MakeQuiet() => new Connection(fd => "");
        }
        """,
        Chain(0, "'Connection.OnReadable'", "_onRead", "OnReadable → Connection.Parse (delegate in field _onRead) → Thread.Sleep (Test0.cs:32)"),
        Chain(1, "'Connection.OnReadable'", "_decode", "OnReadable → lambda at Test0.cs:34 (delegate in field _decode) → File.ReadAllText (Test0.cs:34)"),
        Chain(2, "'Connection.OnReadable'", "local", "OnReadable → lambda at Test0.cs:24 (delegate in local local) → Thread.Sleep (Test0.cs:24)"),
        Chain(3, "'Connection.OnReadable'", "maybe", "OnReadable → Connection.Parse (delegate in local maybe) → Thread.Sleep (Test0.cs:32)"));

    [Fact]
    public Task Delegates_in_collections_reach_what_was_stored() => Verify.VerifyAsync("""
        using System;
        using System.Collections.Generic;
        using System.IO;
        using System.Threading;
        using NoBlock;

        class Router
        {
            private readonly Dictionary<int, Action<IoEvent>> _handlers = new();
            private readonly Dictionary<string, Func<string, string>> _table = new()
            {
                ["get"] = Get,
                ["ping"] = request => "pong",
            };
            private readonly Action[] _steps = { Quiet, Quiet };
            private readonly Dictionary<int, Action> _quiet = new() { { 1, Quiet } };

            public void Add(int fd) => _handlers.Add(fd, OnData);

            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
                {|#0:_handlers[e.Fd](e)|};
                var response = {|#1:_table["get"]("req")|};
                _steps[0]();
                _quiet[1]();
                if (_table.TryGetValue("x", out var route))
                {
                    {|#2:route("req")|};
                }
            }

            static string Get(string request) => File.ReadAllText(request);
            void OnData(IoEvent e) => Thread.Sleep(1);
            static void Quiet() { }
        }
        """,
        Chain(0, "'Router.OnReadable'", "_handlers[…]", "OnReadable → Router.OnData (delegate in _handlers) → Thread.Sleep (Test0.cs:34)"),
        Chain(1, "'Router.OnReadable'", "_table[…]", "OnReadable → Router.Get (delegate in _table) → File.ReadAllText (Test0.cs:33)"),
        Chain(2, "'Router.OnReadable'", "route", "OnReadable → Router.Get (delegate in local route) → File.ReadAllText (Test0.cs:33)"));

    [Fact]
    public Task Events_raised_in_handler_code_reach_their_subscribers() => Verify.VerifyAsync("""
        using System;
        using System.Threading;
        using NoBlock;

        sealed class Channel
        {
            public event Action<int>? DataReceived;
            public event Action<int>? Closed;

            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
                {|#0:DataReceived?.Invoke(e.Fd)|};
                Closed?.Invoke(e.Fd);
            }
        }

        class Subscriber
        {
            void Hook(Channel channel)
            {
                channel.DataReceived += n => { };
                channel.DataReceived += OnData;
                channel.Closed += n => { };
            }

            void OnData(int n) => Thread.Sleep(n);
        }
        """,
        Chain(0, "'Channel.OnReadable'", "DataReceived", "OnReadable → Subscriber.OnData (subscribed to DataReceived) → Thread.Sleep (Test0.cs:27)"));

    [Fact]
    public Task Delegate_values_registered_as_handlers_reach_their_targets() => Verify.VerifyAsync("""
        using System.Threading;
        using NoBlock;

        class Server
        {
            private readonly IoHandler _onRead;
            private readonly IoHandler _onQuiet;

            public Server()
            {
                _onRead = OnData;
                _onQuiet = e => { };
            }

            void Start(EventLoop loop, int fd)
            {
                loop.Register(fd, IoEvents.Readable, {|#0:_onRead|});
                loop.Register(fd + 1, IoEvents.Readable, _onQuiet);
            }

            void OnData(IoEvent e) => Thread.Sleep(1);
        }
        """,
        Chain(0, "the handler passed to EventLoop.Register in 'Server.Start'", "_onRead", "handler → Server.OnData (delegate in field _onRead) → Thread.Sleep (Test0.cs:21)"));

    [Fact]
    public Task Constructor_parameters_are_followed_through_base_calls_and_target_typed_new() => Verify.VerifyAsync("""
        using System;
        using System.IO;
        using System.Threading;
        using NoBlock;

        class Handler
        {
            private readonly Action<int> _onRead;

            public Handler(Action<int> onRead) { _onRead = onRead; }

            [EventLoopHandler]
            void OnReadable(IoEvent e) { {|#0:_onRead(e.Fd)|}; }
        }

        class Other
        {
            private readonly Action<int> _run;

            public Other(Action<int> run) { _run = run; }

            [EventLoopHandler]
            void OnReadable(IoEvent e) { _run(e.Fd); }
        }

        class Derived : Handler
        {
            public Derived() : base(n => Thread.Sleep(n)) { }
        }

        static class Factory
        {
            static Handler Make() => new(n => File.ReadAllText("x"));
            static Other MakeOther() => new(n => { });
        }
        """,
        // The first call site in the document is the base call; `new(...)` of Other is not Handler's and stays out.
        Chain(0, "'Handler.OnReadable'", "_onRead", "OnReadable → lambda at Test0.cs:28 (delegate in field _onRead) → Thread.Sleep (Test0.cs:28)"));
}
