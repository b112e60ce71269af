using Xunit;
using NoBlock.Analyzers.CodeFixes.Rules;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Tests.Verification;
using Verify = NoBlock.Analyzers.Tests.Verification.CodeFixVerifier<NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer, NoBlock.Analyzers.CodeFixes.Rules.BlockingCallInHandlerFixer>;

namespace NoBlock.Analyzers.Tests.Rules;

/// <summary>NB0001 code fixes: before → after, Fix All, and the cases where no fix may be offered.</summary>
public sealed class BlockingCallInHandlerFixerTests
{
    private static string Handler(string body, string modifiers = "async Task") => $$"""
        using System;
        using System.IO;
        using System.Threading;
        using System.Threading.Tasks;
        using NoBlock;

        class Server
        {
            [EventLoopHandler]
            {{modifiers}} OnReadable(Task<int> task, Task plain, Stream stream, SemaphoreSlim gate)
            {
        {{body}}
            }
        }
        """;

    [Fact]
    public Task Result_becomes_await() => Verify.VerifyAsync(
        Handler("        var x = {|NB0001:task.Result|} + 1;"),
        Handler("        var x = await task + 1;"));

    [Fact]
    public Task Result_in_member_access_keeps_parentheses() => Verify.VerifyAsync(
        Handler("        var s = {|NB0001:task.Result|}.ToString();"),
        Handler("        var s = (await task).ToString();"));

    [Fact]
    public Task Wait_and_GetResult_become_await() => Verify.VerifyAsync(
        Handler("""
                    {|NB0001:plain.Wait()|};
                    var y = {|NB0001:task.GetAwaiter().GetResult()|};
                    var other = Task.FromResult(3);
                    var z = {|NB0001:other.ConfigureAwait(false).GetAwaiter().GetResult()|};
            """),
        Handler("""
                    await plain;
                    var y = await task;
                    var other = Task.FromResult(3);
                    var z = await other.ConfigureAwait(false);
            """));

    [Fact]
    public Task Sleep_becomes_Task_Delay() => Verify.VerifyAsync(
        Handler("""
                    {|NB0001:Thread.Sleep(100)|};
                    {|NB0001:Thread.Sleep(TimeSpan.FromSeconds(1))|};
            """),
        Handler("""
                    await Task.Delay(100);
                    await Task.Delay(TimeSpan.FromSeconds(1));
            """));

    [Fact]
    public Task Sync_api_becomes_its_async_twin() => Verify.VerifyAsync(
        Handler("""
                    var text = {|NB0001:File.ReadAllText("a.txt")|};
                    {|NB0001:File.WriteAllText("b.txt", text)|};
                    var n = {|NB0001:stream.Read(new byte[16], 0, 16)|};
                    {|NB0001:stream.Flush()|};
                    {|NB0001:gate.Wait()|};
            """),
        Handler("""
                    var text = await File.ReadAllTextAsync("a.txt");
                    await File.WriteAllTextAsync("b.txt", text);
                    var n = await stream.ReadAsync(new byte[16], 0, 16);
                    await stream.FlushAsync();
                    await gate.WaitAsync();
            """));

    [Fact]
    public Task Sleep_adds_the_using_it_needs()
    {
        const string before = """
            using System.Threading;
            using NoBlock;

            class Server
            {
                [EventLoopHandler]
                async System.Threading.Tasks.Task OnTimer()
                {
                    {|NB0001:Thread.Sleep(5)|};
                }
            }
            """;
        const string after = """
            using System.Threading;
            using System.Threading.Tasks;
            using NoBlock;

            class Server
            {
                [EventLoopHandler]
                async System.Threading.Tasks.Task OnTimer()
                {
                    await Task.Delay(5);
                }
            }
            """;
        return Verify.VerifyAsync(before, after);
    }

    [Fact]
    public Task No_await_fix_in_a_synchronous_handler_without_a_loop() => Verify.VerifyNoFixAsync(
        Handler("        var x = {|NB0001:task.Result|}; {|NB0001:Thread.Sleep(1)|}; var t = {|NB0001:File.ReadAllText(\"a\")|};", modifiers: "void"));

    private static string LoopHandler(string body) => $$"""
        using System;
        using System.IO;
        using System.Threading;
        using NoBlock;

        class Server
        {
            private readonly EventLoop _loop = new();

            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
        {{body}}
            }
        }
        """;

    [Fact]
    public Task Blocking_statement_in_a_synchronous_handler_moves_to_OffloadAndReport() => Verify.VerifyAsync(
        LoopHandler("""
                    var line = e.Fd.ToString();
                    {|NB0001:File.AppendAllText("audit.log", line)|};
                    {|NB0001:Thread.Sleep(10)|};
            """),
        LoopHandler("""
                    var line = e.Fd.ToString();
                    _loop.OffloadAndReport(() => File.AppendAllText("audit.log", line));
                    _loop.OffloadAndReport(() => Thread.Sleep(10));
            """));

    [Fact]
    public Task No_offload_when_the_value_is_used_or_a_span_is_captured() => Verify.VerifyNoFixAsync(LoopHandler("""
                var text = {|NB0001:File.ReadAllText("a")|};
                Span<byte> buffer = stackalloc byte[16];
                var stream = {|NB0001:new FileStream("a", FileMode.Open)|};
                {|NB0001:stream.Read(buffer)|};
        """));

    [Fact]
    public Task No_fix_inside_lock_or_for_waits_with_arguments() => Verify.VerifyNoFixAsync(Handler("""
                lock (gate) { var x = {|NB0001:task.Result|}; }
                {|NB0001:plain.Wait(CancellationToken.None)|};
                {|NB0001:plain.Wait(100)|};
                var read = {|NB0001:stream.Read(new Span<byte>(new byte[4]))|};
        """));

    [Fact]
    public Task No_fix_in_a_synchronous_lambda_inside_an_async_handler() => Verify.VerifyNoFixAsync(Handler("""
                new System.Collections.Generic.List<int> { 1 }.ForEach(i => {|NB0001:Thread.Sleep(i)|});
        """));

    private const string Usings = """
        using System;
        using System.IO;
        using System.Threading;
        using System.Threading.Tasks;
        using NoBlock;

        """;

    private static Task VerifyProgram(string source, string fixedSource) => new CodeFixVerifier<BlockingCallInHandlerAnalyzer, BlockingCallInHandlerFixer>.Test
    {
        TestState = { OutputKind = Microsoft.CodeAnalysis.OutputKind.ConsoleApplication, Sources = { source } },
        FixedState = { OutputKind = Microsoft.CodeAnalysis.OutputKind.ConsoleApplication, Sources = { fixedSource } },
    }.RunAsync();

    [Fact]
    public Task A_class_handler_beside_top_level_statements_uses_its_own_loop_not_the_top_level_local() => VerifyProgram(
        Usings + """
        var loop = new EventLoop();
        loop.Run();

        class Server
        {
            private readonly EventLoop _loop = new();

            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
                {|NB0001:Thread.Sleep(10)|};
            }
        }
        """,
        Usings + """
        var loop = new EventLoop();
        loop.Run();

        class Server
        {
            private readonly EventLoop _loop = new();

            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
                _loop.OffloadAndReport(() => Thread.Sleep(10));
            }
        }
        """);

    [Fact]
    public Task A_top_level_lambda_uses_the_loop_it_is_posted_to() => VerifyProgram(
        Usings + """
        using var first = new EventLoop();
        using var second = new EventLoop();
        second.Post(() =>
        {
            {|NB0001:File.AppendAllText("audit.log", "x")|};
        });
        first.Run();
        """,
        Usings + """
        using var first = new EventLoop();
        using var second = new EventLoop();
        second.Post(() =>
        {
            second.OffloadAndReport(() => File.AppendAllText("audit.log", "x"));
        });
        first.Run();
        """);

    [Fact]
    public Task With_two_loops_the_one_the_method_is_registered_on_is_used() => Verify.VerifyAsync(
        Usings + """
        class Server
        {
            private readonly EventLoop _accept = new();
            private readonly EventLoop _io = new();

            Server(int fd) => _io.Register(fd, IoEvents.Readable, OnReadable);

            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
                {|NB0001:Thread.Sleep(10)|};
            }
        }
        """,
        Usings + """
        class Server
        {
            private readonly EventLoop _accept = new();
            private readonly EventLoop _io = new();

            Server(int fd) => _io.Register(fd, IoEvents.Readable, OnReadable);

            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
                _io.OffloadAndReport(() => Thread.Sleep(10));
            }
        }
        """);

    [Fact]
    public Task No_offload_when_the_loop_is_ambiguous_nullable_or_declared_later() => Verify.VerifyNoFixAsync(
        Usings + """
        #nullable enable
        class TwoLoops
        {
            private readonly EventLoop _a = new(), _b = new();

            [EventLoopHandler]
            void OnReadable(IoEvent e) => {|NB0001:Thread.Sleep(1)|};

            [EventLoopHandler]
            void OnWritable(IoEvent e)
            {
                {|NB0001:Thread.Sleep(1)|};
            }
        }

        class MaybeLoop
        {
            private EventLoop? _loop;

            [EventLoopHandler]
            void OnReadable(IoEvent e)
            {
                {|NB0001:Thread.Sleep(1)|};
            }
        }

        class LaterLoop
        {
            [EventLoopHandler]
            static void OnReadable(IoEvent e)
            {
                {|NB0001:Thread.Sleep(1)|};
                var loop = new EventLoop();
                loop.Dispose();
            }
        }
        """);

    [Fact]
    public Task Fix_All_fixes_every_kind_in_one_pass()
    {
        var test = new CodeFixVerifier<BlockingCallInHandlerAnalyzer, BlockingCallInHandlerFixer>.Test
        {
            TestCode = Usings + """
                class Server
                {
                    private readonly EventLoop _loop = new();

                    [EventLoopHandler]
                    async Task OnTimer(Task<int> pending)
                    {
                        var n = {|NB0001:pending.Result|};
                        {|NB0001:Thread.Sleep(n)|};
                    }

                    [EventLoopHandler]
                    void OnReadable(IoEvent e)
                    {
                        {|NB0001:File.AppendAllText("audit.log", "read")|};
                    }
                }
                """,
            FixedCode = Usings + """
                class Server
                {
                    private readonly EventLoop _loop = new();

                    [EventLoopHandler]
                    async Task OnTimer(Task<int> pending)
                    {
                        var n = await pending;
                        await Task.Delay(n);
                    }

                    [EventLoopHandler]
                    void OnReadable(IoEvent e)
                    {
                        _loop.OffloadAndReport(() => File.AppendAllText("audit.log", "read"));
                    }
                }
                """,
            CodeActionEquivalenceKey = "NB0001",
            NumberOfFixAllIterations = 1,
            NumberOfFixAllInDocumentIterations = 1,
            NumberOfFixAllInProjectIterations = 1,
        };
        return test.RunAsync();
    }
}
