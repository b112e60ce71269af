using Microsoft.CodeAnalysis.Testing;
using Xunit;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Tests.Verification;
using Verify = NoBlock.Analyzers.Tests.Verification.AnalyzerVerifier<NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer>;

namespace NoBlock.Analyzers.Tests.Configuration;

/// <summary>NoBlock.Blocking.txt, and NB9001 for every line or key that cannot be used.</summary>
public sealed class ConfigurationTests
{
    private const string Source = """
        using NoBlock;

        namespace Legacy
        {
            public static class Db
            {
                public static int Query(string sql) => 1;
                public static int Query(string sql, int timeout) => 1;
                public static int Count() => 0;
                public static string Name => "db";
            }
        }

        class Server
        {
            [EventLoopHandler]
            void OnReadable()
            {
                var a = {|NB0001:Legacy.Db.Query("select 1")|};
                var b = Legacy.Db.Query("select 1", 5);
                var c = {|NB0001:Legacy.Db.Name|};
                var d = Legacy.Db.Count();
                var e = {|NB0002:Helper()|};
            }

            int Helper() => Legacy.Db.Query("select 2");
        }
        """;

    [Fact]
    public Task Listed_members_are_blocking_and_others_are_not() => Verify.VerifyAsync(Source, null, ("NoBlock.Blocking.txt", """
        # Our synchronous database client
        M:Legacy.Db.Query(System.String) ; use QueryAsync
        P:Legacy.Db.Name   # a property that opens a connection

        """));

    [Fact]
    public async Task Malformed_and_unknown_lines_are_reported_with_file_and_line()
    {
        var test = new AnalyzerVerifier<BlockingCallInHandlerAnalyzer>.Test { TestCode = Source };
        test.TestState.AdditionalFiles.Add(("NoBlock.Blocking.txt", """
            M:Legacy.Db.Query(System.String)
            P:Legacy.Db.Name
            Legacy.Db.Count
            M:Legacy.Db.Missing(System.String)
            """));
        test.ExpectedDiagnostics.Add(new DiagnosticResult("NB9001", Microsoft.CodeAnalysis.DiagnosticSeverity.Warning)
            .WithSpan("NoBlock.Blocking.txt", 3, 1, 3, 16)
            .WithArguments("NoBlock.Blocking.txt(3)", "'Legacy.Db.Count' is not a documentation id: write M:Namespace.Type.Method(ParameterTypes), P:Namespace.Type.Property or T:Namespace.Type"));
        test.ExpectedDiagnostics.Add(new DiagnosticResult("NB9001", Microsoft.CodeAnalysis.DiagnosticSeverity.Warning)
            .WithSpan("NoBlock.Blocking.txt", 4, 1, 4, 35)
            .WithArguments("NoBlock.Blocking.txt(4)", "'M:Legacy.Db.Missing(System.String)' names no member this compilation can see (check the spelling, the parameter types, and that the assembly is referenced)"));
        await test.RunAsync();
    }

    /// <summary>A project below the transport (SpanNetty/DotNetty's Common, Buffers) given the solution-wide lists (repro O3).</summary>
    private const string LowerLayer = """
        namespace DotNetty.Common
        {
            public class Buffers
            {
                public int Read() => 0;
                public class Pool { }
            }
        }
        """;

    [Fact]
    public Task Lines_naming_types_of_an_assembly_not_referenced_are_left_to_the_projects_that_reference_it() => Verify.VerifyAsync(LowerLayer, null,
        ("NoBlock.Handlers.txt", """
            M:DotNetty.Transport.Channels.IChannelHandler.ChannelRead(DotNetty.Transport.Channels.IChannelHandlerContext,System.Object)
            M:DotNetty.Handlers.Streams.IChunkedInput`1.ReadChunk(DotNetty.Buffers.IByteBufferAllocator)
            E:DotNetty.Transport.Channels.IChannel.Closed
            M:DotNetty.Transport.Channels.IEventLoop.Execute(System.Action)#0
            M:DotNetty.Codecs.ByteToMessageDecoder.Decode(DotNetty.Transport.Channels.IChannelHandlerContext,DotNetty.Buffers.IByteBuffer,System.Collections.Generic.List{System.Object})
            """),
        ("NoBlock.Blocking.txt", """
            M:DotNetty.Codecs.Http.Multipart.DiskFileUpload.Delete ; use DeleteAsync
            P:DotNetty.Transport.Channels.IChannel.Unsafe
            T:DotNetty.Transport.Libuv.Native.NativeMethods
            !M:DotNetty.Handlers.Tls.TlsHandler.Unwrap(DotNetty.Transport.Channels.IChannelHandlerContext)
            !T:DotNetty.Codecs.Redis.RedisCodecUtil
            """));

    [Fact]
    public async Task Typos_in_a_namespace_or_type_this_compilation_has_are_still_reported()
    {
        var test = new AnalyzerVerifier<BlockingCallInHandlerAnalyzer>.Test { TestCode = LowerLayer };
        test.TestState.AdditionalFiles.Add(("NoBlock.Handlers.txt", """
            M:DotNetty.Common.Buffers.Raed
            M:DotNetty.Common.Bufers.Read
            """));
        test.TestState.AdditionalFiles.Add(("NoBlock.Blocking.txt", """
            T:DotNetty.Common.Bufers
            M:DotNetty.Common.Buffers.Pol.Get
            !M:DotNetty.Common.Buffers.Read(System.Int32)
            M:Bufers.Read
            """));
        const string Unknown = "names no member this compilation can see (check the spelling, the parameter types, and that the assembly is referenced)";
        foreach (var (file, line, id) in new[]
        {
            ("NoBlock.Handlers.txt", 1, "M:DotNetty.Common.Buffers.Raed"),         // the type is here, the member is misspelt
            ("NoBlock.Handlers.txt", 2, "M:DotNetty.Common.Bufers.Read"),          // a misspelt type in a namespace that is here
            ("NoBlock.Blocking.txt", 1, "T:DotNetty.Common.Bufers"),
            ("NoBlock.Blocking.txt", 2, "M:DotNetty.Common.Buffers.Pol.Get"),      // a misspelt nested type of a type that is here
            ("NoBlock.Blocking.txt", 3, "M:DotNetty.Common.Buffers.Read(System.Int32)"), // wrong parameters
            ("NoBlock.Blocking.txt", 4, "M:Bufers.Read"),                          // the global namespace is in every compilation
        })
        {
            var written = file == "NoBlock.Blocking.txt" && line == 3 ? "!" + id : id; // the whole line is the span
            test.ExpectedDiagnostics.Add(new DiagnosticResult("NB9001", Microsoft.CodeAnalysis.DiagnosticSeverity.Warning)
                .WithSpan(file, line, 1, line, 1 + written.Length)
                .WithArguments($"{file}({line})", $"'{id}' {Unknown}"));
        }

        await test.RunAsync();
    }

    [Fact]
    public async Task Unknown_handler_attribute_in_editorconfig_is_reported()
    {
        var test = new AnalyzerVerifier<BlockingCallInHandlerAnalyzer>.Test
        {
            TestCode = """
                class Server
                {
                    void OnReadable() { }
                }
                """,
        };
        test.TestState.AnalyzerConfigFiles.Add(("/.editorconfig", "root = true\n[*]\nnoblock.handler_attributes = My.Loop.OnLoopThreadAttribute\n"));
        test.ExpectedDiagnostics.Add(new DiagnosticResult("NB9001", Microsoft.CodeAnalysis.DiagnosticSeverity.Warning)
            .WithNoLocation()
            .WithArguments(".editorconfig noblock.handler_attributes", "'My.Loop.OnLoopThreadAttribute' names no attribute type this compilation can see (use the full metadata name, e.g. My.Loop.OnLoopThreadAttribute)"));
        await test.RunAsync();
    }

    [Fact]
    public async Task Handlers_txt_accepts_only_methods()
    {
        var test = new AnalyzerVerifier<BlockingCallInHandlerAnalyzer>.Test
        {
            TestCode = """
                namespace ThirdParty { public interface IHandler { void OnRead(); } }
                """,
        };
        test.TestState.AdditionalFiles.Add(("NoBlock.Handlers.txt", "T:ThirdParty.IHandler\n"));
        test.ExpectedDiagnostics.Add(new DiagnosticResult("NB9001", Microsoft.CodeAnalysis.DiagnosticSeverity.Warning)
            .WithSpan("NoBlock.Handlers.txt", 1, 1, 1, 22)
            .WithArguments("NoBlock.Handlers.txt(1)", "'T:ThirdParty.IHandler' is not a method or event: NoBlock.Handlers.txt lists interface or virtual methods (M:…) whose implementations are handlers, events (E:…) whose subscribers are, and delegate parameters (M:…(…)#N) whose arguments are"));
        await test.RunAsync();
    }
}
