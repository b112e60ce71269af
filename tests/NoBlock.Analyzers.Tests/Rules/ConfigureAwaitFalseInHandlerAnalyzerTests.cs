using Xunit;
using Verify = NoBlock.Analyzers.Tests.Verification.AnalyzerVerifier<NoBlock.Analyzers.Rules.ConfigureAwaitFalseInHandlerAnalyzer>;
using VerifyFix = NoBlock.Analyzers.Tests.Verification.CodeFixVerifier<NoBlock.Analyzers.Rules.ConfigureAwaitFalseInHandlerAnalyzer, NoBlock.Analyzers.CodeFixes.Rules.ConfigureAwaitFalseInHandlerFixer>;

namespace NoBlock.Analyzers.Tests.Rules;

/// <summary>NB0006: ConfigureAwait(false) in handler code with code after it — hits, near-misses and the fix.</summary>
public sealed class ConfigureAwaitFalseInHandlerAnalyzerTests
{
    private static string Code(string members) => $$"""
        using System;
        using System.Collections.Generic;
        using System.Threading.Tasks;
        using NoBlock;

        class Server
        {
            private readonly EventLoop _loop = new();
            private int _served;

            private static Task<int> LoadAsync() => Task.FromResult(1);

        {{members}}
        }
        """;

    [Fact]
    public Task Handler_method_with_code_after_the_await() => Verify.VerifyAsync(Code("""
            [EventLoopHandler]
            async void OnReadable(IoEvent e)
            {
                var n = await LoadAsync().{|NB0006:ConfigureAwait(false)|};
                _served += n;
            }
        """));

    [Fact]
    public Task Handler_lambdas_passed_to_Register_Post_and_Schedule() => Verify.VerifyAsync(Code("""
            void Start(int fd)
            {
                _loop.Register(fd, IoEvents.Readable, async e =>
                {
                    await Task.Delay(1).{|NB0006:ConfigureAwait(false)|};
                    _served++;
                });
                _loop.Post(async () =>
                {
                    if (await LoadAsync().{|NB0006:ConfigureAwait(false)|} > 0)
                    {
                        _served++;
                    }
                });
                _loop.Schedule(TimeSpan.FromSeconds(1), async () =>
                {
                    for (var i = 0; i < 3; i++)
                    {
                        await Task.Yield();
                        await Task.Delay(1).{|NB0006:ConfigureAwait(false)|}; // the next iteration runs after it
                    }
                });
            }
        """));

    [Fact]
    public Task ConfigureAwaitOptions_without_ContinueOnCapturedContext_is_a_hit() => Verify.VerifyAsync(Code("""
            [EventLoopHandler]
            async void OnReadable(IoEvent e)
            {
                await Task.Delay(1).{|NB0006:ConfigureAwait(ConfigureAwaitOptions.None)|};
                await Task.Delay(1).{|NB0006:ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing)|};
                await Task.Delay(1).ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext);
                _served++;
            }
        """));

    [Fact]
    public Task Inline_lambda_inside_a_handler_is_handler_code() => Verify.VerifyAsync(Code("""
            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
                new List<int> { 1 }.ForEach(async i =>
                {
                    await Task.Delay(i).{|NB0006:ConfigureAwait(false)|};
                    _served++;
                });
            }
        """));

    [Fact]
    public Task Code_after_through_using_try_and_the_awaited_value() => Verify.VerifyAsync(Code("""
            [EventLoopHandler]
            async Task OnReadable(IoEvent e)
            {
                try
                {
                    await Task.Delay(1).{|NB0006:ConfigureAwait(false)|};
                }
                finally
                {
                    _served++;
                }

                using var scope = new System.IO.MemoryStream();
                _served = await LoadAsync().{|NB0006:ConfigureAwait(false)|};
            }
        """));

    [Fact]
    public Task The_last_statement_is_silent() => Verify.VerifyAsync(Code("""
            [EventLoopHandler]
            async Task OnReadable(IoEvent e)
            {
                _served++;
                if (_served > 1)
                {
                    await Task.Delay(1).ConfigureAwait(false);
                }
                else
                {
                    await Task.Delay(2).ConfigureAwait(false);
                    return;
                }
            }

            [EventLoopHandler]
            async Task<int> OnTick()
            {
                if (_served == 0)
                {
                    return await LoadAsync().ConfigureAwait(false); // a return: nothing of the handler runs after it
                }

                _served++;
                return await LoadAsync().ConfigureAwait(false);
            }

            [EventLoopHandler]
            Task OnIdle() => LoadAsync().ContinueWith(async _ => await Task.Delay(1).ConfigureAwait(false));

            void Start() => _loop.Post(async () => await Task.Delay(1).ConfigureAwait(false));
        """));

    [Fact]
    public Task ConfigureAwait_true_is_silent() => Verify.VerifyAsync(Code("""
            [EventLoopHandler]
            async void OnReadable(IoEvent e)
            {
                await Task.Delay(1).ConfigureAwait(true);
                await Task.Delay(1).ConfigureAwait(continueOnCapturedContext: true);
                _served++;
            }
        """));

    [Fact]
    public Task Offloaded_and_stored_lambdas_are_silent() => Verify.VerifyAsync(Code("""
            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
                _ = _loop.Offload(async () =>
                {
                    await Task.Delay(1).ConfigureAwait(false);
                    _served++;
                });
                _ = Task.Run(async () =>
                {
                    await Task.Delay(1).ConfigureAwait(false);
                    _served++;
                });
                Func<Task> later = async () =>
                {
                    await Task.Delay(1).ConfigureAwait(false);
                    _served++;
                };
            }
        """));

    [Fact]
    public Task Code_that_is_not_event_loop_code_is_silent() => Verify.VerifyAsync(Code("""
            async Task SaveAsync()
            {
                await Task.Delay(1).ConfigureAwait(false);
                _served++;
            }

            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
                async Task Local()
                {
                    await Task.Delay(1).{|NB0006:ConfigureAwait(false)|}; // a local function runs where it is called
                    _served++;
                }

                _ = Local();
            }
        """));

    [Fact]
    public Task Method_group_registered_on_the_loop_is_a_handler() => Verify.VerifyAsync(Code("""
            void Start() => _loop.Post(OnPosted);

            async void OnPosted()
            {
                await Task.Delay(1).{|NB0006:ConfigureAwait(false)|};
                _served++;
            }
        """));

    [Fact]
    public Task Fix_removes_ConfigureAwait_false() => VerifyFix.VerifyAsync(Code("""
            [EventLoopHandler]
            async void OnReadable(IoEvent e)
            {
                var n = await LoadAsync().{|NB0006:ConfigureAwait(false)|};
                await Task.Delay(n).{|NB0006:ConfigureAwait(ConfigureAwaitOptions.None)|};
                _served += n;
            }
        """), Code("""
            [EventLoopHandler]
            async void OnReadable(IoEvent e)
            {
                var n = await LoadAsync();
                await Task.Delay(n);
                _served += n;
            }
        """));

    [Fact]
    public Task No_fix_for_options_that_change_more_than_the_context() => VerifyFix.VerifyNoFixAsync(Code("""
            [EventLoopHandler]
            async void OnReadable(IoEvent e)
            {
                await Task.Delay(1).{|NB0006:ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing)|};
                _served++;
            }
        """));
}
