using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Testing;

namespace NoBlock.Analyzers.Tests.Verification;

/// <summary>
/// What every test snippet compiles against: the .NET 10 reference assemblies from the
/// Basic.Reference.Assemblies.Net100 package (already restored, nothing is downloaded at test time), the NoBlock
/// runtime (attributes, EventLoop) and Tmds.LibC.
/// </summary>
internal static class TestReferences
{
    /// <summary>An empty reference set: the testing library resolves no package, we add the assemblies ourselves.</summary>
    public static readonly ReferenceAssemblies None = new("net10.0");

    public static readonly ImmutableArray<MetadataReference> All =
    [
        .. Basic.Reference.Assemblies.Net100.References.All,
        MetadataReference.CreateFromFile(typeof(NoBlock.EventLoopHandlerAttribute).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(Tmds.Linux.LibC).Assembly.Location),
    ];

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    /// <summary>Snippets over libc use pointers (<c>byte* buffer</c>), as real epoll code does.</summary>
    public static Solution AllowUnsafe(Solution solution, ProjectId projectId)
    {
        var options = (CSharpCompilationOptions)solution.GetProject(projectId)!.CompilationOptions!;
        return solution.WithProjectCompilationOptions(projectId, options.WithAllowUnsafe(true));
    }

    public static void Apply(SolutionState state)
    {
        state.AdditionalReferences.AddRange(All);
    }
}
