using Xunit;
using Verify = NoBlock.Analyzers.Tests.Verification.SuppressorVerifier<NoBlock.Analyzers.Rules.EventLoopCodeSuppressor>;

namespace NoBlock.Analyzers.Tests.Rules;

/// <summary>
/// NBS0001–NBS0006: the real MA0004 (Meziantou), CA2007 (NetAnalyzers), VSTHRD100 and VSTHRD101 (VS Threading),
/// AsyncFixer03 and MA0147 are suppressed in EventLoop handler code and still reported everywhere else.
/// </summary>
public sealed class EventLoopCodeSuppressorTests
{
    [Fact]
    public Task ConfigureAwait_advice_is_suppressed_in_handlers_and_kept_elsewhere() => Verify.VerifyAsync("""
        using System.Threading.Tasks;
        using NoBlock;

        public class Server
        {
            private readonly EventLoop _loop = new();
            private int _served;

            [EventLoopHandler]
            public async Task OnReadable(IoEvent e)
            {
                {|#0:await {|#1:Task.Delay(1)|}|};
                _served++;
            }

            public void Start(int fd) => _loop.Register(fd, IoEvents.Readable, {|#2:async e =>
            {
                {|#3:await {|#4:Task.Delay(1)|}|};
                _served++;
            }|});

            public async Task SaveAsync()
            {
                {|#5:await {|#6:Task.Delay(1)|}|};
                _served++;
            }

            public Task Offload() => _loop.Offload(async () =>
            {
                {|#7:await {|#8:Task.Delay(1)|}|};
                _served++;
            });
        }
        """,
        Verify.Suppressed("MA0004", 0), Verify.Suppressed("CA2007", 1),
        Verify.Suppressed("AsyncFixer03", 2), Verify.Suppressed("VSTHRD101", 2), Verify.Suppressed("MA0147", 2),
        Verify.Suppressed("MA0004", 3), Verify.Suppressed("CA2007", 4),
        Verify.Kept("MA0004", 5), Verify.Kept("CA2007", 6),
        Verify.Kept("MA0004", 7), Verify.Kept("CA2007", 8));

    [Fact]
    public Task Async_void_advice_is_suppressed_for_handlers_and_kept_elsewhere() => Verify.VerifyAsync("""
        using System;
        using System.Threading.Tasks;
        using NoBlock;

        public class Server
        {
            private readonly EventLoop _loop = new();

            [EventLoopHandler]
            public async {|#4:void|} {|#0:OnReadable|}(IoEvent e) => await Task.Yield();

            public void Start() => _loop.Post({|#7:OnPosted|});

            private async {|#5:void|} {|#1:OnPosted|}() => await Task.Yield();

            public async {|#6:void|} {|#2:FireAndForget|}() => await Task.Yield();

            public void Later() => Use({|#3:async () => await Task.Yield()|});

            private static void Use(Action action) => action();
        }
        """,
        Verify.Suppressed("VSTHRD100", 0), Verify.Suppressed("AsyncFixer03", 4),
        Verify.Suppressed("VSTHRD100", 1), Verify.Suppressed("AsyncFixer03", 5),
        Verify.Kept("VSTHRD100", 2), Verify.Kept("AsyncFixer03", 6),
        Verify.Kept("AsyncFixer03", 3),
        Verify.Suppressed("MA0147", 7), Verify.Kept("MA0147", 3), Verify.Kept("VSTHRD101", 3));

    [Fact]
    public Task Async_lambda_advice_is_suppressed_only_for_the_lambda_handed_to_the_loop() => Verify.VerifyAsync("""
        using System;
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using NoBlock;

        public class Server
        {
            private readonly EventLoop _loop = new();
            private readonly List<int> _ids = new();

            public void Start()
            {
                _loop.Post({|#0:async () =>
                {
                    _ids.ForEach({|#1:async id => await Task.Yield()|});
                    await Task.Yield();
                }|});
                _loop.Schedule(TimeSpan.FromSeconds(1), {|#3:async () => await Task.Yield()|});
                _ids.ForEach({|#4:async id => await Task.Yield()|});
            }
        }
        """,
        Verify.Suppressed("VSTHRD101", 0), Verify.Suppressed("MA0147", 0), Verify.Suppressed("AsyncFixer03", 0),
        Verify.Kept("VSTHRD101", 1), Verify.Kept("MA0147", 1), Verify.Suppressed("AsyncFixer03", 1),
        Verify.Suppressed("VSTHRD101", 3), Verify.Suppressed("MA0147", 3), Verify.Suppressed("AsyncFixer03", 3),
        Verify.Kept("VSTHRD101", 4), Verify.Kept("MA0147", 4), Verify.Kept("AsyncFixer03", 4));
}
