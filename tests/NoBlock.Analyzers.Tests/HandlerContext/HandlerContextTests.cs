using Xunit;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Tests.Verification;
using Verify = NoBlock.Analyzers.Tests.Verification.AnalyzerVerifier<NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer>;

namespace NoBlock.Analyzers.Tests.HandlerContext;

/// <summary>Every route by which code becomes event-loop code (DESIGN.md, "What counts as event-loop code").</summary>
public sealed class HandlerContextTests
{
    [Fact]
    public Task Interface_member_marked_makes_its_implementations_handlers() => Verify.VerifyAsync("""
        using System.Threading;
        using NoBlock;

        interface IConnectionHandler
        {
            [EventLoopHandler] void OnReadable(int fd);
            void Describe();
        }

        class Echo : IConnectionHandler
        {
            public void OnReadable(int fd) => {|NB0001:Thread.Sleep(1)|};
            public void Describe() => Thread.Sleep(1);
        }

        class Explicit : IConnectionHandler
        {
            void IConnectionHandler.OnReadable(int fd) => {|NB0001:Thread.Sleep(1)|};
            void IConnectionHandler.Describe() => Thread.Sleep(1);
        }
        """);

    [Fact]
    public Task Base_member_marked_makes_its_overrides_handlers() => Verify.VerifyAsync("""
        using System.Threading;
        using NoBlock;

        abstract class Handler
        {
            [EventLoopHandler] public abstract void OnReadable(int fd);
            public virtual void OnIdle() { }
        }

        class Derived : Handler
        {
            public override void OnReadable(int fd) => {|NB0001:Thread.Sleep(1)|};
            public override void OnIdle() => Thread.Sleep(1);
        }

        class MoreDerived : Derived
        {
            public override void OnReadable(int fd) => {|NB0001:Thread.Sleep(2)|};
        }
        """);

    [Fact]
    public Task Lambdas_passed_to_handler_parameters_are_handlers() => Verify.VerifyAsync("""
        using System;
        using System.IO;
        using System.Threading;
        using NoBlock;

        class Loop
        {
            public void Post([EventLoopHandler] Action action) { }
            public void Later(Action action) { }
        }

        class Server
        {
            void Start(Loop loop)
            {
                Thread.Sleep(1); // start-up code, not on the loop
                loop.Post(() => {|NB0001:Thread.Sleep(1)|});
                loop.Post(() =>
                {
                    var text = {|NB0001:File.ReadAllText("a")|};
                });
                loop.Later(() => Thread.Sleep(1));
            }
        }
        """);

    [Fact]
    public Task Method_groups_passed_to_handler_parameters_are_reported_where_passed() => Verify.VerifyAsync("""
        using System;
        using System.Threading;
        using NoBlock;

        class Loop
        {
            public void Post([EventLoopHandler] Action action) { }
        }

        class Server
        {
            void Start(Loop loop)
            {
                loop.Post({|NB0002:Tick|});
                loop.Post(Quick);
            }

            void Tick() => Thread.Sleep(1);
            void Quick() { }
        }
        """);

    [Fact]
    public Task Synchronous_lambdas_and_local_functions_inside_handlers_are_handler_code() => Verify.VerifyAsync("""
        using System.Collections.Generic;
        using System.Linq;
        using System.Threading;
        using NoBlock;

        class Server
        {
            [EventLoopHandler]
            void OnReadable(List<int> items)
            {
                items.ForEach(i => {|NB0001:Thread.Sleep(i)|});
                var lengths = items.Select(i => {|NB0001:System.IO.File.ReadAllText("f" + i)|}.Length).ToList();
                Flush();

                void Flush() => {|NB0001:Thread.Sleep(1)|};
                void NeverCalled() => Thread.Sleep(1);
            }
        }
        """);

    /// <summary>A lambda passed to a method runs in the handler only when the method runs it before returning.</summary>
    [Fact]
    public Task Lambdas_run_by_the_method_they_are_passed_to_are_handler_code() => Verify.VerifyAsync("""
        using System;
        using System.Collections.Concurrent;
        using System.Collections.Generic;
        using System.Linq;
        using System.Threading;
        using NoBlock;

        class Server
        {
            private readonly ConcurrentDictionary<int, string> _cache = new();

            [EventLoopHandler]
            void OnReadable(List<int> items)
            {
                var text = _cache.GetOrAdd(1, k => {|NB0001:System.IO.File.ReadAllText("f")|});
                var any = items.Any(i => {|NB0001:System.IO.File.ReadAllBytes("f")|}.Length > i);
                Array.ForEach(new[] { 1 }, i => {|NB0001:Thread.Sleep(i)|});
                Guarded(() => {|NB0001:Thread.Sleep(1)|});
                MaybeRun(() => {|NB0001:Thread.Sleep(2)|});
                Forward(() => {|NB0001:Thread.Sleep(3)|});
                new Scope(() => {|NB0001:Thread.Sleep(4)|});
                Each(items, i => {|NB0001:Thread.Sleep(i)|});
                Later(items, i => Thread.Sleep(i));
            }

            static void Each(List<int> xs, Action<int> work) => xs.ForEach(x => work(x));
            static readonly Queue<Action> Pending = new();
            static void Later(List<int> xs, Action<int> work) => Pending.Enqueue(() => xs.ForEach(x => work(x)));

            static void Guarded(Action work) { try { work(); } finally { } }
            static void MaybeRun(Action? work) => work?.Invoke();
            static void Forward(Action work) => Guarded(work);
        }

        sealed class Scope
        {
            public Scope(Action body) => body.Invoke();
        }
        """);

    /// <summary>A lambda that is stored (a queue, a list, a channel, a field, a helper that keeps it) runs later, elsewhere.</summary>
    [Fact]
    public Task Stored_lambdas_are_not_handler_code() => Verify.VerifyAsync("""
        using System;
        using System.Collections.Concurrent;
        using System.Collections.Generic;
        using System.Threading;
        using System.Threading.Channels;
        using NoBlock;

        class Server
        {
            private readonly Queue<Action> _queue = new();
            private readonly ConcurrentQueue<Action> _work = new();
            private readonly List<Func<int>> _list = new();
            private readonly Dictionary<string, Action> _table = new();
            private readonly ConcurrentDictionary<int, Action> _byId = new();
            private readonly Channel<Action> _channel = Channel.CreateUnbounded<Action>();
            private Action? _later;

            [EventLoopHandler]
            void OnReadable()
            {
                _queue.Enqueue(() => Thread.Sleep(1));
                _work.Enqueue(() => Thread.Sleep(2));
                _list.Add(() => { Thread.Sleep(3); return 3; });
                _table.Add("x", () => Thread.Sleep(4));
                _byId.TryAdd(1, () => Thread.Sleep(5));
                _byId.GetOrAdd(2, () => Thread.Sleep(6));
                _channel.Writer.TryWrite(() => Thread.Sleep(7));
                _later = () => Thread.Sleep(8);
                Keep(() => Thread.Sleep(9));
                KeepVia(() => Thread.Sleep(10));
                var lazy = new Lazy<string>(() => System.IO.File.ReadAllText("f"));
                var holder = new Holder(() => Thread.Sleep(11));
                SynchronizationContext.Current?.Post(_ => Thread.Sleep(12), null);
                using var signal = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, _ => Thread.Sleep(13));
            }

            void Keep(Action work) => _queue.Enqueue(work);
            void KeepVia(Action work) => Keep(work);
        }

        sealed class Holder
        {
            private readonly Action _body;
            public Holder(Action body) => _body = body;
        }
        """);

    [Fact]
    public Task Work_handed_elsewhere_is_not_handler_code() => Verify.VerifyAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using NoBlock;

        class Server
        {
            [EventLoopHandler]
            void OnReadable(Task<int> task, EventLoop loop)
            {
                Task.Run(() => Thread.Sleep(10));
                Task.Factory.StartNew(() => Thread.Sleep(10));
                ThreadPool.QueueUserWorkItem(_ => Thread.Sleep(10));
                new Thread(() => Thread.Sleep(10)).Start();
                var timer = new Timer(_ => Thread.Sleep(10), null, 10, Timeout.Infinite);
                task.ContinueWith(t => Thread.Sleep(10));
                loop.Offload(() => Thread.Sleep(10));
                loop.Offload(() => System.IO.File.ReadAllText("big.json"));
                Task.Run(Work);
            }

            static void Work() => Thread.Sleep(10);
        }
        """);

    [Fact]
    public Task Configured_attribute_makes_handlers() => Verify.VerifyAsync("""
        using System;
        using System.Threading;

        namespace My.Loop
        {
            [AttributeUsage(AttributeTargets.Method)]
            class OnLoopThreadAttribute : Attribute { }
            class Other : Attribute { }

            class Server
            {
                [OnLoopThread] void OnReadable() => {|NB0001:Thread.Sleep(1)|};
                [Other] void Elsewhere() => Thread.Sleep(1);
            }
        }
        """, "noblock.handler_attributes = My.Loop.OnLoopThreadAttribute\n");

    [Fact]
    public Task Handlers_txt_makes_implementations_and_overrides_handlers() => Verify.VerifyAsync("""
        using System.Threading;

        namespace ThirdParty
        {
            public interface IChannelHandler { void ChannelRead(object context, object message); void Close(); }
            public abstract class ChannelHandlerAdapter : IChannelHandler
            {
                public virtual void ChannelRead(object context, object message) { }
                public virtual void Close() { }
            }
        }

        class Echo : ThirdParty.ChannelHandlerAdapter
        {
            public override void ChannelRead(object context, object message) => {|NB0001:Thread.Sleep(1)|};
            public override void Close() => Thread.Sleep(1);
        }

        class Direct : ThirdParty.IChannelHandler
        {
            public void ChannelRead(object context, object message) => {|NB0001:Thread.Sleep(1)|};
            public void Close() => Thread.Sleep(1);
        }
        """, null, ("NoBlock.Handlers.txt", """
            # DotNetty-style callbacks
            M:ThirdParty.IChannelHandler.ChannelRead(System.Object,System.Object)
            """));
}

/// <summary>Regression: a handler that registers another handler does not "call" it (found by StallDemo).</summary>
public sealed class HandlerRegistrationInsideHandlerTests
{
    [Fact]
    public Task Registering_a_marked_handler_inside_a_handler_is_not_a_call() => Verify.VerifyAsync("""
        using System;
        using System.Threading;
        using NoBlock;

        class Loop
        {
            public void Register(int fd, [EventLoopHandler] Action<int> handler) { }
        }

        class Server
        {
            Loop _loop = new();

            [EventLoopHandler]
            void OnAcceptable(int fd)
            {
                _loop.Register(fd + 1, OnLookup);              // registration, not a call: silent here
                _loop.Register(fd + 2, Unmarked);              // not a handler by itself: reported where registered
                _loop.Register(fd + 3, n => {|NB0001:Thread.Sleep(n)|});
                Setup(fd);                                     // a helper that registers a blocking lambda does not block
            }

            [EventLoopHandler]
            void OnLookup(int fd) => {|NB0001:Thread.Sleep(300)|};

            void Unmarked(int fd) => Thread.Sleep(1);

            void Setup(int fd) => _loop.Register(fd, n => {|NB0001:Thread.Sleep(n)|});
        }
        """.Replace("_loop.Register(fd + 2, Unmarked);", "_loop.Register(fd + 2, {|#0:Unmarked|});"),
        new Microsoft.CodeAnalysis.Testing.DiagnosticResult(NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer.TransitiveBlockingCallRule).WithLocation(0)
            .WithArguments("the handler passed to Loop.Register in 'Server.OnAcceptable'", "Unmarked", "handler → Unmarked → Thread.Sleep (Test0.cs:26)"));
}
