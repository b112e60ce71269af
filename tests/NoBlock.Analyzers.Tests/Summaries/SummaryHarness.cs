using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Summaries;
using NoBlock.Analyzers.Tests.Verification;
using Xunit;

namespace NoBlock.Analyzers.Tests.Summaries;

/// <summary>
/// Builds a library the way a build with NoBlock does (the compilation plus <see cref="SummaryGenerator"/>'s output),
/// then analyses a consumer against it in the two shapes a reference takes: the library's DLL (command line, package)
/// and the library's compilation (the IDE, where a referenced project is source with its generators' output).
/// </summary>
internal static class SummaryHarness
{
    public sealed record Library(CSharpCompilation Compilation, string? Generated)
    {
        /// <summary>The DLL: what a command-line build or a package gives the consumer.</summary>
        public MetadataReference Image()
        {
            using var stream = new MemoryStream();
            var result = Compilation.Emit(stream);
            Assert.True(result.Success, string.Join("\n", result.Diagnostics));
            return MetadataReference.CreateFromImage(stream.ToArray());
        }

        /// <summary>The compilation itself: what the IDE gives the consumer for an open project reference.</summary>
        public MetadataReference Source() => Compilation.ToMetadataReference();
    }

    public static Library Build(string source, string name = "Storage", bool? emitSummaries = null, (string Name, string Text)[]? files = null,
        params MetadataReference[] references)
    {
        var tree = CSharpSyntaxTree.ParseText(source, TestReferences.ParseOptions, path: "Repo.cs");
        var compilation = CSharpCompilation.Create(name, [tree], [.. TestReferences.All, .. references],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true));
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));

        var global = emitSummaries is null ? [] : new Dictionary<string, string> { ["build_property.NoBlockEmitSummaries"] = emitSummaries.Value ? "true" : "false" };
        var driver = CSharpGeneratorDriver.Create(
            [new SummaryGenerator().AsSourceGenerator()],
            (files ?? []).Select(f => (AdditionalText)new TextFile(f.Name, f.Text)),
            TestReferences.ParseOptions,
            new Options(global));
        driver.RunGeneratorsAndUpdateCompilation(compilation, out var updated, out var generatorDiagnostics);
        Assert.Empty(generatorDiagnostics);
        Assert.Empty(updated.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        var generated = updated.SyntaxTrees.Skip(1).Select(t => t.ToString()).SingleOrDefault();
        return new Library((CSharpCompilation)updated, generated);
    }

    /// <summary>The recorded summaries, as key → value, read from the emitted DLL's assembly attributes.</summary>
    public static Dictionary<string, string> Summaries(Library library)
    {
        var consumer = CSharpCompilation.Create("Reader", [], [.. TestReferences.All, library.Image()]);
        var assembly = consumer.References.Select(consumer.GetAssemblyOrModuleSymbol).OfType<IAssemblySymbol>().Single(a => a.Name == library.Compilation.AssemblyName);
        return assembly.GetAttributes()
            .Where(a => a.AttributeClass?.Name == "AssemblyMetadataAttribute" && a.ConstructorArguments[0].Value is string key && key.StartsWith("NoBlock.Blocking ", StringComparison.Ordinal))
            .ToDictionary(a => (string)a.ConstructorArguments[0].Value!, a => (string)a.ConstructorArguments[1].Value!);
    }

    /// <summary>NoBlock's NB0001/NB0002 findings on <paramref name="source"/>, as "id line:column message".</summary>
    public static async Task<string[]> Analyze(string source, MetadataReference library, params MetadataReference[] more)
    {
        var tree = CSharpSyntaxTree.ParseText(source, TestReferences.ParseOptions, path: "Server.cs");
        var compilation = CSharpCompilation.Create("Server", [tree], [.. TestReferences.All, library, .. more],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true));
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        var diagnostics = await compilation.WithAnalyzers([new BlockingCallInHandlerAnalyzer()]).GetAnalyzerDiagnosticsAsync();
        return diagnostics
            .OrderBy(d => d.Location.SourceSpan.Start)
            .Select(d =>
            {
                var line = d.Location.GetLineSpan().StartLinePosition;
                return $"{d.Id} {line.Line + 1}:{line.Character + 1} {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}";
            })
            .ToArray();
    }

    /// <summary>Both shapes of the reference; asserts they give the same findings and returns them.</summary>
    public static async Task<string[]> AnalyzeBothWays(string source, Library library)
    {
        var fromImage = await Analyze(source, library.Image());
        var fromSource = await Analyze(source, library.Source());
        Assert.Equal(fromImage, fromSource);
        return fromImage;
    }

    private sealed class TextFile(string path, string text) : AdditionalText
    {
        public override string Path { get; } = path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(text);
    }

    private sealed class Options(Dictionary<string, string> global) : AnalyzerConfigOptionsProvider
    {
        public override AnalyzerConfigOptions GlobalOptions { get; } = new Values(global);

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => new Values([]);

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => new Values([]);

        private sealed class Values(Dictionary<string, string> values) : AnalyzerConfigOptions
        {
            public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) => values.TryGetValue(key, out value);
        }
    }
}
