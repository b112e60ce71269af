using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using NoBlock.Analyzers.Blocking;
using NoBlock.Analyzers.Configuration;
using NoBlock.Analyzers.HandlerContext;

namespace NoBlock.Analyzers.Summaries;

/// <summary>
/// Records in the assembly being built which of its exposed members block, so that NB0002 in the assemblies that call
/// them can follow the chain across the boundary (<see cref="BlockingSummaries"/> reads it back). One
/// <c>[assembly: System.Reflection.AssemblyMetadata("NoBlock.Blocking &lt;documentation id&gt;", "&lt;chain tail&gt;")]</c> per
/// member that other assemblies can call (public and protected, internal too when the assembly has
/// <c>InternalsVisibleTo</c>) and that reaches a blocking call by NB0002's own call graph: the catalogue,
/// <c>[Blocking]</c>, <c>NoBlock.Blocking.txt</c>, and the summaries of the assemblies this one calls. Members that do
/// not block record nothing; virtual, abstract, override and interface members record nothing either (a call to them
/// may run another body). <c>NoBlockEmitSummaries=false</c> turns it off.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class SummaryGenerator : IIncrementalGenerator
{
    /// <summary>The MSBuild property (made visible to the compiler by NoBlock's props) that turns summaries off.</summary>
    internal const string OptOutProperty = "build_property.NoBlockEmitSummaries";

    /// <summary>The generated file's hint name.</summary>
    internal const string HintName = "NoBlock.BlockingSummaries.g.cs";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var enabled = context.AnalyzerConfigOptionsProvider.Select(static (options, _) =>
            !options.GlobalOptions.TryGetValue(OptOutProperty, out var value)
            || !string.Equals(value?.Trim(), "false", StringComparison.OrdinalIgnoreCase));
        var lists = context.AdditionalTextsProvider
            .Where(static file => string.Equals(System.IO.Path.GetFileName(file.Path), Platform.KnownNames.BlockingListFile, StringComparison.OrdinalIgnoreCase)
                                  || string.Equals(System.IO.Path.GetFileName(file.Path), Platform.KnownNames.HandlersListFile, StringComparison.OrdinalIgnoreCase))
            .Collect();
        var input = context.CompilationProvider.Combine(lists).Combine(enabled);
        context.RegisterSourceOutput(input, static (output, pair) =>
        {
            var ((compilation, files), on) = pair;
            if (!on)
            {
                return;
            }

            var text = Generate(compilation, files, output.CancellationToken);
            if (text is not null)
            {
                output.AddSource(HintName, SourceText.From(text, Encoding.UTF8));
            }
        });
    }

    /// <summary>The generated source, or null when nothing is exposed or nothing exposed blocks.</summary>
    internal static string? Generate(Compilation compilation, ImmutableArray<AdditionalText> files, CancellationToken cancellationToken)
    {
        if (compilation.GetTypeByMetadataName("System.Reflection.AssemblyMetadataAttribute") is null)
        {
            return null;
        }

        // Cheap first: the exposed members, by symbols alone (no binding). A library that exposes nothing computes nothing.
        var internalsVisible = compilation.Assembly.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == "System.Runtime.CompilerServices.InternalsVisibleToAttribute");
        var exposed = new List<IMethodSymbol>();
        CollectExposed(compilation.Assembly.GlobalNamespace, internalsVisible, exposed, cancellationToken);
        if (exposed.Count == 0)
        {
            return null;
        }

        // Outside the analyzer driver nothing caches semantic models: keep one per tree while the graph binds bodies.
        using var models = Operations.OtherDocuments.CacheModels(compilation);
        var configuration = NoBlockConfiguration.Read(compilation, files, cancellationToken);
        var apis = new BlockingApis(compilation, configuration.Blocking);
        var roots = new HandlerRoots(compilation, configuration.Handlers);
        var walker = new HandlerWalker(apis, compilation.Assembly, roots.IsHandlerParameter, new CallTargets(compilation));
        var graph = new CallGraph(compilation, walker) { NotBlocking = new HashSet<IMethodSymbol>(configuration.NotBlocking, SymbolEqualityComparer.Default) };
        var assemblyName = compilation.AssemblyName ?? compilation.Assembly.Name;

        var summaries = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var member in exposed)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (graph.FindBlockingChain(member, cancellationToken) is { } chain
                && member.GetDocumentationCommentId() is { } id)
            {
                summaries[id] = BlockingSummaries.Tail(chain, assemblyName);
            }
        }

        if (summaries.Count == 0)
        {
            return null;
        }

        var source = new StringBuilder();
        source.AppendLine("// <auto-generated/>");
        source.AppendLine("// NoBlock: the members of this assembly that reach a blocking call (read by NB0002 in the assemblies that call them).");
        source.AppendLine("// Turn off with <NoBlockEmitSummaries>false</NoBlockEmitSummaries>; declare a member fine with a '!' line in NoBlock.Blocking.txt.");
        foreach (var summary in summaries)
        {
            source.Append("[assembly: global::System.Reflection.AssemblyMetadata(")
                .Append(SymbolDisplay.FormatLiteral(BlockingSummaries.KeyPrefix + summary.Key, quote: true))
                .Append(", ")
                .Append(SymbolDisplay.FormatLiteral(summary.Value, quote: true))
                .AppendLine(")]");
        }

        return source.ToString();
    }

    private static void CollectExposed(INamespaceOrTypeSymbol container, bool internalsVisible, List<IMethodSymbol> exposed, CancellationToken cancellationToken)
    {
        foreach (var member in container.GetMembers())
        {
            cancellationToken.ThrowIfCancellationRequested();
            switch (member)
            {
                case INamespaceSymbol ns:
                    CollectExposed(ns, internalsVisible, exposed, cancellationToken);
                    break;
                case INamedTypeSymbol type when type.DeclaringSyntaxReferences.Length > 0 && IsExposed(type.DeclaredAccessibility, internalsVisible):
                    if (type.TypeKind is TypeKind.Class or TypeKind.Struct)
                    {
                        foreach (var typeMember in type.GetMembers())
                        {
                            if (typeMember is IMethodSymbol method && IsSummarised(method, internalsVisible))
                            {
                                exposed.Add(method.PartialImplementationPart ?? method);
                            }
                        }
                    }

                    if (type.TypeKind is TypeKind.Class or TypeKind.Struct or TypeKind.Interface)
                    {
                        CollectExposed(type, internalsVisible, exposed, cancellationToken);
                    }

                    break;
            }
        }
    }

    /// <summary>
    /// A member whose call runs its own body: ordinary methods, constructors, accessors and operators that another
    /// assembly can call. A virtual, abstract or override member is left out, since a call to it may run another body.
    /// </summary>
    private static bool IsSummarised(IMethodSymbol method, bool internalsVisible)
        => method.MethodKind is MethodKind.Ordinary or MethodKind.Constructor or MethodKind.PropertyGet or MethodKind.PropertySet
               or MethodKind.UserDefinedOperator or MethodKind.Conversion
           && !method.IsAbstract && !method.IsVirtual && !method.IsOverride && !method.IsExtern
           && !(method.MethodKind == MethodKind.Constructor && method.IsStatic)
           && IsExposed(method.DeclaredAccessibility, internalsVisible);

    private static bool IsExposed(Accessibility accessibility, bool internalsVisible) => accessibility switch
    {
        Accessibility.Public or Accessibility.Protected or Accessibility.ProtectedOrInternal => true,
        Accessibility.Internal or Accessibility.ProtectedAndInternal => internalsVisible,
        _ => false,
    };
}
