using Microsoft.CodeAnalysis.Testing;
using Xunit;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Tests.Verification;
using Verify = NoBlock.Analyzers.Tests.Verification.AnalyzerVerifier<NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer>;

namespace NoBlock.Analyzers.Tests.Blocking;

/// <summary>Attributes that come from another assembly, and libc calls through every binding.</summary>
public sealed class CrossAssemblyAndLibcTests
{
    [Fact]
    public async Task Blocking_and_handler_attributes_work_across_assemblies()
    {
        var test = new AnalyzerVerifier<BlockingCallInHandlerAnalyzer>.Test
        {
            TestState =
            {
                Sources =
                {
                    """
                    class Server : Library.IHandler
                    {
                        public void OnReadable(int fd)
                        {
                            var text = {|NB0001:Library.Store.Load(fd)|};
                            var fast = Library.Store.Peek(fd);      // source of another project: not followed, no crash
                        }
                    }
                    """,
                },
                AdditionalProjectReferences = { "Library" },
            },
        };
        var library = new ProjectState("Library", Microsoft.CodeAnalysis.LanguageNames.CSharp, "Library", "cs")
        {
            Sources =
            {
                """
                namespace Library
                {
                    public interface IHandler { [NoBlock.EventLoopHandler] void OnReadable(int fd); }

                    public static class Store
                    {
                        [NoBlock.Blocking("LoadAsync")] public static string Load(int fd) => "x";
                        public static string Peek(int fd) => "y";
                    }
                }
                """,
            },
        };
        library.AdditionalReferences.AddRange(TestReferences.All);
        test.TestState.AdditionalProjects.Add("Library", library);
        await test.RunAsync();
    }

    [Fact]
    public Task Blocking_attribute_message_carries_the_alternative() => Verify.VerifyAsync("""
        using NoBlock;

        static class Store
        {
            [Blocking("Store.LoadAsync")] public static string Load() => "x";
        }

        class Server
        {
            [EventLoopHandler] void OnReadable() => {|#0:Store.Load()|};
        }
        """, new DiagnosticResult(BlockingCallInHandlerAnalyzer.BlockingCallRule).WithLocation(0)
            .WithArguments("Store.Load", "'Server.OnReadable'", "Store.LoadAsync"));

    [Fact]
    public Task Libc_sleeps_and_waits_over_TmdsLibC() => Verify.VerifyAsync("""
        using Tmds.Linux;
        using NoBlock;
        using static Tmds.Linux.LibC;

        unsafe class Server
        {
            [EventLoopHandler]
            void OnReadable(int fd)
            {
                {|NB0001:sleep(1)|};
                {|NB0001:usleep(1000)|};
                pollfd p = default;
                p.fd = fd;
                {|NB0001:poll(&p, 1, 100)|};
                {|NB0001:poll(&p, 1, -1)|};
                poll(&p, 1, 0);
                epoll_event ev;
                {|NB0001:epoll_wait(fd, &ev, 1, 5)|};
                epoll_wait(fd, &ev, 1, 0);
            }
        }
        """);

    [Fact]
    public Task MonoPosix_style_bindings_are_recognised_by_name() => Verify.VerifyAsync("""
        using NoBlock;

        namespace Mono.Unix.Native
        {
            public static class Syscall
            {
                public static uint sleep(uint seconds) => 0;
                public static int usleep(ulong usec) => 0;
                public static int poll(Pollfd[] fds, int timeout) => 0;
                public static int getpid() => 1;
            }

            public struct Pollfd { public int fd; }
        }

        class Server
        {
            [EventLoopHandler]
            void OnReadable(Mono.Unix.Native.Pollfd[] fds)
            {
                {|NB0001:Mono.Unix.Native.Syscall.sleep(1)|};
                {|NB0001:Mono.Unix.Native.Syscall.usleep(10)|};
                {|NB0001:Mono.Unix.Native.Syscall.poll(fds, 250)|};
                Mono.Unix.Native.Syscall.poll(fds, 0);
                Mono.Unix.Native.Syscall.getpid();
            }
        }
        """);

    [Fact]
    public Task LibraryImport_and_DllImport_of_other_libraries() => Verify.VerifyAsync("""
        using System.Runtime.InteropServices;
        using NoBlock;

        static partial class Native
        {
            [DllImport("libc.so.6")] public static extern uint sleep(uint seconds);
            [DllImport("libfoo")] public static extern uint usleep(uint usec);          // not libc: not known
            [DllImport("libc", EntryPoint = "nanosleep")] public static extern int Nap(nint req, nint rem);
        }

        class Server
        {
            [EventLoopHandler]
            void OnReadable()
            {
                {|NB0001:Native.sleep(1)|};
                Native.usleep(1);
                {|NB0001:Native.Nap(0, 0)|};
            }
        }
        """);
}
