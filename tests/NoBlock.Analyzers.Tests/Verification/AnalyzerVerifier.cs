using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;

namespace NoBlock.Analyzers.Tests.Verification;

/// <summary>Runs one analyzer over markup snippets (<c>{|NB0001:Thread.Sleep(1)|}</c>).</summary>
internal static class AnalyzerVerifier<TAnalyzer>
    where TAnalyzer : DiagnosticAnalyzer, new()
{
    public static Task VerifyAsync(string source, params DiagnosticResult[] expected)
    {
        var test = new Test { TestCode = source };
        test.ExpectedDiagnostics.AddRange(expected);
        return test.RunAsync();
    }

    /// <summary>Also passes an .editorconfig (e.g. <c>noblock.handler_attributes = …</c>) and additional files.</summary>
    public static Task VerifyAsync(string source, string? editorConfig, params (string Name, string Text)[] additionalFiles)
    {
        var test = new Test { TestCode = source };
        if (editorConfig is not null)
        {
            test.TestState.AnalyzerConfigFiles.Add(("/.editorconfig", "root = true\n[*]\n" + editorConfig));
        }

        foreach (var file in additionalFiles)
        {
            test.TestState.AdditionalFiles.Add(file);
        }

        return test.RunAsync();
    }

    internal sealed class Test : CSharpAnalyzerTest<TAnalyzer, DefaultVerifier>
    {
        public Test()
        {
            ReferenceAssemblies = TestReferences.None;
            TestReferences.Apply(TestState);
            SolutionTransforms.Add(TestReferences.AllowUnsafe);
        }

        protected override ParseOptions CreateParseOptions() => TestReferences.ParseOptions;
    }
}
