using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using System.Collections.Immutable;
using Xunit;

namespace NoBlock.Analyzers.Tests.Verification;

public sealed class TestReferencesTests
{
    // The verifier reports every compiler error as an unexpected diagnostic, so a snippet that uses the BCL,
    // the NoBlock attributes and Tmds.LibC without errors proves the reference set is complete.
    [Fact]
    public Task Snippets_compile_against_net10_NoBlock_and_TmdsLibC()
    {
        const string source = """
            using System.Threading;
            using System.Threading.Tasks;
            using NoBlock;
            using Tmds.Linux;

            class C
            {
                [EventLoopHandler]
                unsafe void OnReadable(int fd)
                {
                    byte* buffer = stackalloc byte[16];
                    LibC.read(fd, buffer, 16);
                    Thread.Sleep(1);
                    Task.Delay(1).Wait();
                }
            }
            """;
        return AnalyzerVerifier<NoDiagnostics>.VerifyAsync(source);
    }

    [DiagnosticAnalyzer(LanguageNames.CSharp)]
    internal sealed class NoDiagnostics : DiagnosticAnalyzer
    {
        public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => [];

        public override void Initialize(AnalysisContext context)
        {
            context.EnableConcurrentExecution();
            context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        }
    }
}
