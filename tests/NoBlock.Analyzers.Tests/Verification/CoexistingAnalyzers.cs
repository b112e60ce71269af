using System.Collections.Immutable;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;

namespace NoBlock.Analyzers.Tests.Verification;

/// <summary>
/// The analyzers users run beside NoBlock — Meziantou.Analyzer, Microsoft.VisualStudio.Threading.Analyzers,
/// AsyncFixer and the SDK's CA rules (Microsoft.CodeAnalysis.NetAnalyzers) — loaded from the packages the test
/// project restores (copied to <c>CoexistingAnalyzers/</c>), so a suppressor test sees their real diagnostics.
/// </summary>
internal static class CoexistingAnalyzers
{
    private static readonly Lazy<ImmutableArray<DiagnosticAnalyzer>> Loaded = new(Load);

    public static ImmutableArray<DiagnosticAnalyzer> All => Loaded.Value;

    /// <summary>The rules the suppressor handles; every other rule of those packages is switched off in the tests.</summary>
    public static readonly ImmutableHashSet<string> Suppressible = ImmutableHashSet.Create("MA0004", "CA2007", "VSTHRD100", "AsyncFixer03", "VSTHRD101", "MA0147");

    /// <summary>Turns off every rule of the loaded analyzers except <see cref="Suppressible"/>, so a test sees only those.</summary>
    public static Solution OnlySuppressible(Solution solution, ProjectId projectId)
    {
        var options = solution.GetProject(projectId)!.CompilationOptions!;
        var off = All.SelectMany(a => a.SupportedDiagnostics).Select(d => d.Id).Where(id => !Suppressible.Contains(id)).Distinct()
            .ToDictionary(id => id, _ => ReportDiagnostic.Suppress);
        var on = Suppressible.ToDictionary(id => id, _ => ReportDiagnostic.Warn);
        return solution.WithProjectCompilationOptions(projectId, options.WithSpecificDiagnosticOptions(off.Concat(on)));
    }

    private static ImmutableArray<DiagnosticAnalyzer> Load()
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "CoexistingAnalyzers");
        var loader = new Loader();
        var analyzers = ImmutableArray.CreateBuilder<DiagnosticAnalyzer>();
        foreach (var path in Directory.GetFiles(folder, "*.dll").Order(StringComparer.Ordinal))
        {
            var reference = new AnalyzerFileReference(path, loader);
            reference.AnalyzerLoadFailed += (_, e) => throw new InvalidOperationException($"{path}: {e.Message}", e.Exception);
            analyzers.AddRange(reference.GetAnalyzers(LanguageNames.CSharp).Where(a => a is not DiagnosticSuppressor));
        }

        return analyzers.ToImmutable();
    }

    private sealed class Loader : IAnalyzerAssemblyLoader
    {
        public void AddDependencyLocation(string fullPath)
        {
        }

        public Assembly LoadFromPath(string fullPath) => Assembly.LoadFrom(fullPath);
    }
}

/// <summary>Runs <typeparamref name="TSuppressor"/> over the real diagnostics of <see cref="CoexistingAnalyzers"/>.</summary>
internal static class SuppressorVerifier<TSuppressor>
    where TSuppressor : DiagnosticSuppressor, new()
{
    public static Task VerifyAsync(string source, params DiagnosticResult[] expected)
    {
        var test = new Test { TestCode = source };
        test.ExpectedDiagnostics.AddRange(expected);
        return test.RunAsync();
    }

    /// <summary>A diagnostic the suppressor must suppress (at markup location <c>{|#n:…|}</c>).</summary>
    public static DiagnosticResult Suppressed(string id, int location) => new DiagnosticResult(id, DiagnosticSeverity.Warning).WithLocation(location).WithIsSuppressed(true);

    /// <summary>A diagnostic the suppressor must leave alone.</summary>
    public static DiagnosticResult Kept(string id, int location) => new DiagnosticResult(id, DiagnosticSeverity.Warning).WithLocation(location).WithIsSuppressed(false);

    private sealed class Test : CSharpAnalyzerTest<TSuppressor, DefaultVerifier>
    {
        public Test()
        {
            ReferenceAssemblies = TestReferences.None;
            TestReferences.Apply(TestState);
            SolutionTransforms.Add(CoexistingAnalyzers.OnlySuppressible);
        }

        protected override ParseOptions CreateParseOptions() => TestReferences.ParseOptions;

        protected override IEnumerable<DiagnosticAnalyzer> GetDiagnosticAnalyzers() => [new TSuppressor(), .. CoexistingAnalyzers.All];
    }
}
