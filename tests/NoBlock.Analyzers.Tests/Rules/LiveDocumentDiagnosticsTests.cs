using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Xunit;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Tests.Verification;

namespace NoBlock.Analyzers.Tests.Rules;

/// <summary>
/// The IDE asks for one document's semantic diagnostics in a span; compilation-end diagnostics never show there.
/// NB0001 and NB0002 must come back from exactly that request, also when the chain ends in another document.
/// </summary>
public sealed class LiveDocumentDiagnosticsTests
{
    [Fact]
    public async Task NB0002_is_reported_for_one_document_span_as_the_IDE_asks()
    {
        var handler = CSharpSyntaxTree.ParseText("""
            using NoBlock;

            partial class Server
            {
                [EventLoopHandler]
                void OnReadable(int fd)
                {
                    Parse(fd);
                }
            }
            """, TestReferences.ParseOptions, path: "Server.cs");
        var helpers = CSharpSyntaxTree.ParseText("""
            using System.Threading;

            partial class Server
            {
                void Parse(int fd) => Lookup(fd);
                void Lookup(int fd) => Thread.Sleep(fd);
            }
            """, TestReferences.ParseOptions, path: "Lookup.cs");
        var compilation = CSharpCompilation.Create("Live", [handler, helpers], TestReferences.All,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));

        var withAnalyzers = compilation.WithAnalyzers([new BlockingCallInHandlerAnalyzer()]);
        var model = compilation.GetSemanticModel(handler);
        var method = handler.GetRoot().DescendantNodes().OfType<Microsoft.CodeAnalysis.CSharp.Syntax.MethodDeclarationSyntax>().Single();

        var diagnostics = await withAnalyzers.GetAnalyzerSemanticDiagnosticsAsync(model, method.Span, CancellationToken.None);

        var finding = Assert.Single(diagnostics);
        Assert.Equal("NB0002", finding.Id);
        Assert.Equal("Parse(fd)", finding.Location.SourceTree!.GetText().ToString(finding.Location.SourceSpan));
        Assert.Contains("OnReadable → Parse → Lookup → Thread.Sleep (Lookup.cs:6)", finding.GetMessage());
    }

    [Fact]
    public async Task The_other_document_alone_reports_nothing()
    {
        var helpers = CSharpSyntaxTree.ParseText("""
            using System.Threading;

            class Helpers
            {
                void Lookup(int fd) => Thread.Sleep(fd);
            }
            """, TestReferences.ParseOptions, path: "Lookup.cs");
        var compilation = CSharpCompilation.Create("Live", [helpers], TestReferences.All, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var withAnalyzers = compilation.WithAnalyzers([new BlockingCallInHandlerAnalyzer()]);

        var diagnostics = await withAnalyzers.GetAnalyzerSemanticDiagnosticsAsync(compilation.GetSemanticModel(helpers), null, CancellationToken.None);

        Assert.Empty(diagnostics);
    }
}
