using Microsoft.CodeAnalysis.Testing;
using Xunit;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Tests.Verification;
using Verify = NoBlock.Analyzers.Tests.Verification.AnalyzerVerifier<NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer>;

namespace NoBlock.Analyzers.Tests.Blocking;

/// <summary>NB0002: blocking reached through callees, with the chain; cycles; what is not followed.</summary>
public sealed class TransitiveBlockingCallTests
{
    [Fact]
    public async Task Chain_is_reported_at_the_call_inside_the_handler()
    {
        var test = new AnalyzerVerifier<BlockingCallInHandlerAnalyzer>.Test
        {
            TestState =
            {
                Sources =
                {
                    ("Server.cs", """
                        using NoBlock;

                        partial class Server
                        {
                            [EventLoopHandler]
                            void OnReadable(int fd)
                            {
                                var request = {|#0:Parse(fd)|};
                            }

                            int Parse(int fd) => Lookup(fd) + 1;
                        }
                        """),
                    ("Lookup.cs", """
                        using System.Threading;

                        partial class Server
                        {
                            int Lookup(int fd)
                            {
                                Thread.Sleep(50);
                                return fd;
                            }
                        }
                        """),
                },
            },
        };
        test.ExpectedDiagnostics.Add(new DiagnosticResult(BlockingCallInHandlerAnalyzer.TransitiveBlockingCallRule).WithLocation(0)
            .WithArguments("'Server.OnReadable'", "Parse", "OnReadable → Parse → Lookup → Thread.Sleep (Lookup.cs:7)"));
        await test.RunAsync();
    }

    [Fact]
    public Task Deep_chains_and_cycles_terminate_and_are_found() => Verify.VerifyAsync("""
        using System.Threading;
        using NoBlock;

        class Server
        {
            [EventLoopHandler]
            void OnReadable(int n)
            {
                {|NB0002:A(n)|};
                Ping(n);
            }

            void A(int n) { if (n > 0) B(n - 1); }
            void B(int n) { if (n > 0) A(n - 1); C(n); }
            void C(int n) { D(n); }
            void D(int n) { E(n); }
            void E(int n) { F(n); }
            void F(int n) { Thread.Sleep(n); }

            void Ping(int n) { if (n > 0) Pong(n - 1); }
            void Pong(int n) { if (n > 0) Ping(n - 1); }
        }
        """);

    [Fact]
    public Task Cycle_entered_from_the_middle_still_finds_the_blocking_call() => Verify.VerifyAsync("""
        using System.Threading;
        using NoBlock;

        class Server
        {
            [EventLoopHandler] void First() => {|NB0002:B()|};
            [EventLoopHandler] void Second() => {|NB0002:A()|};

            void A() { B(); Thread.Sleep(1); }
            void B() { A(); }
        }
        """);

    [Fact]
    public Task Properties_constructors_and_blocking_attribute_are_followed() => Verify.VerifyAsync("""
        using System.IO;
        using NoBlock;

        class Config
        {
            public Config() { Text = File.ReadAllText("config.json"); }
            public string Text { get; }
        }

        class Cache
        {
            public string Current => File.ReadAllText("cache");
            [Blocking("LoadAsync")] public static string Load() => "x";
            public static string Wrapper() => Load();
        }

        class Server
        {
            [EventLoopHandler]
            void OnReadable(Cache cache)
            {
                var config = {|NB0002:new Config()|};
                var current = {|NB0002:cache.Current|};
                var loaded = {|NB0001:Cache.Load()|};
                var wrapped = {|NB0002:Cache.Wrapper()|};
            }
        }
        """);

    [Fact]
    public Task Callees_that_offload_or_do_not_block_are_silent() => Verify.VerifyAsync("""
        using System.Threading;
        using System.Threading.Tasks;
        using NoBlock;

        interface IStore : System.IDisposable { string Get(string key); }

        class Server
        {
            [EventLoopHandler]
            void OnReadable(IStore store)
            {
                Compute();
                StartBackground();
                store.Dispose();         // an interface of another assembly: its implementations are not guessed
                {|NB0005:Log()|};                   // console output is NB0005's (a suggestion), not an NB0002 chain
            }

            int Compute() => 6 * 7;
            void StartBackground() => Task.Run(() => Thread.Sleep(100));
            void Log() => System.Console.WriteLine("x");
        }

        class SlowStore : IStore
        {
            public string Get(string key) => key;
            public void Dispose() => Thread.Sleep(10);
        }
        """);

    [Fact]
    public Task Only_the_handler_call_site_is_reported_not_the_helpers() => Verify.VerifyAsync("""
        using System.Threading;
        using NoBlock;

        class Server
        {
            [EventLoopHandler] void OnReadable() => {|NB0002:Helper()|};
            void Helper() => Inner();
            void Inner() => Thread.Sleep(1);
            void NotAHandler() => Helper();
        }
        """);
}
