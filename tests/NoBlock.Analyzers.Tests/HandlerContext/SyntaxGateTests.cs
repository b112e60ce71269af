using Microsoft.CodeAnalysis.Testing;
using Xunit;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Tests.Verification;

namespace NoBlock.Analyzers.Tests.HandlerContext;

/// <summary>
/// The analyzers look at types by syntax before binding anything. These cases spread one event loop over several
/// files so that a type only matters through a name declared elsewhere: the gate must still let it through.
/// </summary>
public sealed class SyntaxGateTests
{
    [Fact]
    public async Task Dispatch_loop_through_a_wrapper_whose_DllImport_is_in_another_file()
    {
        var test = new AnalyzerVerifier<BlockingCallInHandlerAnalyzer>.Test();
        test.TestState.Sources.Add(("Native.cs", """
            using System.Runtime.InteropServices;

            static class Native
            {
                [DllImport("libc", EntryPoint = "epoll_wait")]
                public static extern unsafe int WaitForEvents(int epfd, void* events, int max, int timeout);
            }
            """));
        test.TestState.Sources.Add(("Poller.cs", """
            unsafe class Poller
            {
                public int Epfd;
                public int Next(byte* buffer) => Native.WaitForEvents(Epfd, buffer, 64, -1);
            }
            """));
        test.TestState.Sources.Add(("Server.cs", """
            using System.Threading;

            unsafe class Server
            {
                readonly Poller _poller = new();

                public void Run()
                {
                    byte* buffer = stackalloc byte[12 * 64];
                    while (true)
                    {
                        int n = _poller.Next(buffer);
                        {|NB0001:Thread.Sleep(n)|};
                    }
                }
            }
            """));
        await test.RunAsync();
    }

    [Fact]
    public async Task Handler_taking_method_declared_in_another_file()
    {
        var test = new AnalyzerVerifier<BlockingCallInHandlerAnalyzer>.Test();
        test.TestState.Sources.Add(("Bus.cs", """
            using System;
            using NoBlock;

            class Bus
            {
                public void Subscribe(string topic, [EventLoopHandler] Action<string> handler) { }
            }
            """));
        test.TestState.Sources.Add(("Server.cs", """
            using System.Threading;

            class Server
            {
                void Start(Bus bus)
                {
                    bus.Subscribe("orders", message => {|NB0001:Thread.Sleep(message.Length)|});
                }
            }
            """));
        await test.RunAsync();
    }

    [Fact]
    public Task Types_without_loop_code_stay_silent_and_are_not_analysed() => AnalyzerVerifier<BlockingCallInHandlerAnalyzer>.VerifyAsync("""
        using System.Threading;

        class Batch
        {
            public void Run() { while (true) { Thread.Sleep(1000); } }
        }
        """);
}
