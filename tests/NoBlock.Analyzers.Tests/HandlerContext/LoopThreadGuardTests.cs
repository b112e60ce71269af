using Microsoft.CodeAnalysis.Testing;
using Xunit;
using NoBlock.Analyzers.Rules;
using Verify = NoBlock.Analyzers.Tests.Verification.AnalyzerVerifier<NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer>;

namespace NoBlock.Analyzers.Tests.HandlerContext;

/// <summary>
/// The branch of an <c>if</c> on "am I on the loop thread?" that runs off the loop is not event-loop code
/// (SpanNetty <c>FixedBackoffRejectedExecutionHandler.Rejected</c>: <c>if (!executor.InEventLoop) { … Thread.Sleep … }</c>);
/// the branch that runs on the loop, and code after the <c>if</c>, still are.
/// </summary>
public sealed class LoopThreadGuardTests
{
    [Fact]
    public Task Off_loop_branches_are_not_loop_code() => Verify.VerifyAsync("""
        using System;
        using System.Threading;
        using NoBlock;

        interface IExecutor { bool InEventLoop { get; } bool OfferTask(Action task); }

        sealed class Backoff
        {
            public void Rejected(Action task, IExecutor executor)
            {
                if (!executor.InEventLoop)
                {
                    for (int i = 0; i < 3; i++)
                    {
                        Thread.Sleep(10);
                        if (executor.OfferTask(task)) { return; }
                    }
                }
                throw new InvalidOperationException("rejected");
            }

            public void OnLoopOnly(IExecutor executor)
            {
                if (executor.InEventLoop == false) { Thread.Sleep(1); }
            }

            public void Wrong(IExecutor executor)
            {
                if (executor.InEventLoop) { Thread.Sleep(1); }
            }
        }

        sealed class Server
        {
            readonly EventLoop _loop;
            readonly IExecutor _executor;
            readonly Backoff _backoff = new Backoff();

            public Server(EventLoop loop, IExecutor executor) { _loop = loop; _executor = executor; }

            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
                _backoff.Rejected(() => { }, _executor);
                _backoff.OnLoopOnly(_executor);
                {|NB0002:_backoff.Wrong(_executor)|};
                if (_loop.IsOnLoopThread)
                {
                    {|NB0001:Thread.Sleep(1)|};
                }
                else
                {
                    Thread.Sleep(1);
                }
                {|NB0001:Thread.Sleep(2)|};
            }
        }
        """);
}
