using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Testing;
using Xunit;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Tests.Verification;
using Verify = NoBlock.Analyzers.Tests.Verification.AnalyzerVerifier<NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer>;

namespace NoBlock.Analyzers.Tests.HandlerContext;

/// <summary>
/// <c>E:</c> and <c>M:…(…)#N</c> lines in NoBlock.Handlers.txt: a third-party loop whose handlers are event
/// subscriptions or callback arguments, played here by a small message poller.
/// </summary>
public sealed class ListedCallbackTests
{
    private const string Framework = """
        namespace Mq
        {
            public sealed class Socket { public int Receive() => 0; }
            public sealed class ReadyEventArgs : System.EventArgs { public Socket Socket { get; } = new Socket(); }

            public sealed class Poller
            {
                public event System.EventHandler<ReadyEventArgs>? ReceiveReady;
                public event System.EventHandler? Stopped;
                public void Add(Socket socket, System.Action<Socket> onReady) { }
                public void Add(Socket socket, string name) { }
                public void Later(Socket socket, System.Action<Socket> onClosed) { }
                public void Run() { }
            }
        }
        """;

    private const string EventLine = "E:Mq.Poller.ReceiveReady\n";
    private const string ParameterLine = "M:Mq.Poller.Add(Mq.Socket,System.Action{Mq.Socket})#1   # the callback runs on the poller's thread\n";

    [Fact]
    public Task Lambda_subscribed_to_a_listed_event_is_handler_code() => Verify.VerifyAsync(Framework + """

        class Server
        {
            void Start(Mq.Poller poller)
            {
                poller.ReceiveReady += (s, e) => {|NB0001:System.Threading.Thread.Sleep(1)|};
                poller.Stopped += (s, e) => System.Threading.Thread.Sleep(1);
                poller.ReceiveReady -= (s, e) => System.Threading.Thread.Sleep(1);
                System.Threading.Thread.Sleep(1);
            }
        }
        """, null, ("NoBlock.Handlers.txt", EventLine));

    [Fact]
    public Task Method_and_local_function_subscribed_to_a_listed_event_are_handler_code() => Verify.VerifyAsync(Framework + """

        class Server
        {
            void Start(Mq.Poller poller)
            {
                poller.ReceiveReady += {|NB0002:OnReady|};
                poller.ReceiveReady += {|NB0002:Local|};
                poller.Stopped += OnStopped;

                void Local(object? s, Mq.ReadyEventArgs e) => System.Threading.Thread.Sleep(1);
            }

            void OnReady(object? sender, Mq.ReadyEventArgs e) => System.IO.File.ReadAllText("x");
            void OnStopped(object? sender, System.EventArgs e) => System.IO.File.ReadAllText("x");
        }

        class Elsewhere
        {
            void Other(Mq.Poller poller) => poller.ReceiveReady += (s, e) => {|NB0001:System.Threading.Thread.Sleep(1)|};
        }
        """, null, ("NoBlock.Handlers.txt", EventLine));

    [Fact]
    public Task Argument_of_a_listed_delegate_parameter_is_handler_code() => Verify.VerifyAsync(Framework + """

        class Server
        {
            readonly Mq.Poller _poller = new Mq.Poller();

            void Start(Mq.Socket socket)
            {
                _poller.Add(socket, s => {|NB0001:System.Threading.Thread.Sleep(1)|});
                _poller.Add(socket, {|NB0002:OnReady|});
                _poller.Add(socket, "name");
                _poller.Later(socket, s => System.Threading.Thread.Sleep(1));
                System.Threading.Thread.Sleep(1);
            }

            void OnReady(Mq.Socket socket) => Helper();
            void Helper() => System.Threading.Thread.Sleep(1);
        }
        """, null, ("NoBlock.Handlers.txt", ParameterLine));

    [Fact]
    public async Task Malformed_parameter_suffixes_and_non_delegate_parameters_are_NB9001()
    {
        var test = new AnalyzerVerifier<BlockingCallInHandlerAnalyzer>.Test { TestCode = Framework };
        test.TestState.AdditionalFiles.Add(("NoBlock.Handlers.txt", """
            M:Mq.Poller.Add(Mq.Socket,System.Action{Mq.Socket})#one
            M:Mq.Poller.Add(Mq.Socket,System.Action{Mq.Socket})#2
            M:Mq.Poller.Add(Mq.Socket,System.String)#1
            M:Mq.Poller.Run()#0
            M:Mq.Poller.Add(Mq.Socket,System.Action{Mq.Socket}) #1 is a comment here
            """));
        Expect(test, 1, 56, "'#one' after 'M:Mq.Poller.Add(Mq.Socket,System.Action{Mq.Socket})' is not a parameter index: write M:Namespace.Type.Method(ParameterTypes)#N, N the 0-based position of the delegate parameter (#1 for the second)");
        Expect(test, 2, 54, "'M:Mq.Poller.Add(Mq.Socket,System.Action{Mq.Socket})#2' names no parameter: the method has 2 and the index is 0-based (#0 for the first)");
        Expect(test, 3, 43, "'M:Mq.Poller.Add(Mq.Socket,System.String)#1' names parameter 'name' of type string, not a delegate: only a lambda or method group passed to a delegate parameter can be handler code");
        Expect(test, 4, 20, "'M:Mq.Poller.Run()#0' names no parameter: the method has 0 and the index is 0-based (#0 for the first)");
        await test.RunAsync();
    }

    private static void Expect(AnalyzerVerifier<BlockingCallInHandlerAnalyzer>.Test test, int line, int endColumn, string message)
        => test.ExpectedDiagnostics.Add(new DiagnosticResult("NB9001", DiagnosticSeverity.Warning)
            .WithSpan("NoBlock.Handlers.txt", line, 1, line, endColumn)
            .WithArguments($"NoBlock.Handlers.txt({line})", message));
}
