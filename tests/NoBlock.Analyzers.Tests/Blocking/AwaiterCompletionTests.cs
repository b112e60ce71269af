using Xunit;
using Verify = NoBlock.Analyzers.Tests.Verification.AnalyzerVerifier<NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer>;

namespace NoBlock.Analyzers.Tests.Blocking;

/// <summary>
/// <c>GetResult()</c> reached only after <c>IsCompleted</c> was seen true is not blocking: in the same method's guard,
/// in every caller, as the continuation passed to <c>OnCompleted</c>/<c>UnsafeOnCompleted</c>, and in an awaiter's
/// own <c>GetResult</c> over the task its <c>IsCompleted</c> reports on. Modelled on a custom awaitable socket.
/// </summary>
public sealed class AwaiterCompletionTests
{
    [Fact]
    public Task Custom_awaitable_socket() => Verify.VerifyAsync("""
        using System;
        using System.Runtime.CompilerServices;
        using System.Threading.Tasks;
        using NoBlock;

        /// The transport's awaitable receive: IsCompleted reports on the task GetResult reads.
        sealed class SocketAwaitable : ICriticalNotifyCompletion
        {
            private Task<int> _receive = Task.FromResult(0);
            public SocketAwaitable GetAwaiter() => this;
            public bool IsCompleted => _receive.IsCompleted;
            public int GetResult() => _receive.GetAwaiter().GetResult();
            public void OnCompleted(Action continuation) => _receive.GetAwaiter().OnCompleted(continuation);
            public void UnsafeOnCompleted(Action continuation) => _receive.GetAwaiter().UnsafeOnCompleted(continuation);
        }

        /// Near-miss: IsCompleted says nothing about the task GetResult waits for.
        sealed class LyingAwaitable : INotifyCompletion
        {
            private Task<int> _receive = Task.FromResult(0);
            private bool _done;
            public LyingAwaitable GetAwaiter() => this;
            public bool IsCompleted => _done;
            public int GetResult() => _receive.Result;
            public void OnCompleted(Action continuation) => continuation();
        }

        class Connection
        {
            private TaskAwaiter<int> _pending;

            [EventLoopHandler]
            async Task OnReadable(SocketAwaitable socket, LyingAwaitable lying, Task<int> receive, Task<int> other)
            {
                var n = await socket;
                var m = {|#0:await lying|};

                var awaiter = receive.GetAwaiter();
                if (!awaiter.IsCompleted)
                {
                    awaiter.UnsafeOnCompleted(() => Consume(awaiter.GetResult()));
                    return;
                }

                Consume(awaiter.GetResult());
                if (awaiter.IsCompleted) Peek(awaiter);

                _pending = other.GetAwaiter();
                if (_pending.IsCompleted) OnReceived(); else _pending.OnCompleted(OnReceived);

                var unguarded = other.GetAwaiter();
                Consume({|NB0001:unguarded.GetResult()|});
                {|#1:Eager()|};
            }

            private void OnReceived() => Consume(_pending.GetResult());
            private void Peek(TaskAwaiter<int> a) => Consume(a.GetResult());
            private void Eager() => Consume(_pending.GetResult());
            private static void Consume(int value) { }
        }
        """,
        TransitiveBlockingCallReachTests.Chain(0, "'Connection.OnReadable'", "GetResult", "OnReadable → GetResult → Task<TResult>.Result (Test0.cs:24)"),
        TransitiveBlockingCallReachTests.Chain(1, "'Connection.OnReadable'", "Eager", "OnReadable → Eager → TaskAwaiter<TResult>.GetResult (Test0.cs:58)"));
}
