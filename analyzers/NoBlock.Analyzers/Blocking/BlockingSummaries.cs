using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;

namespace NoBlock.Analyzers.Blocking;

/// <summary>
/// What other assemblies say about their own members: the blocking summaries <see cref="Summaries.SummaryGenerator"/> recorded
/// in them when they were built with NoBlock. A summary is an assembly-level
/// <c>[assembly: System.Reflection.AssemblyMetadata("NoBlock.Blocking M:Ns.Type.Member(…)", "tail of the chain")]</c>,
/// one per exposed member that reaches a blocking call. <c>AssemblyMetadataAttribute</c> is used rather than a type of
/// NoBlock's own so that a library needs no NoBlock type at run time (the analyzers-only package works the same), no
/// two assemblies define the same attribute type (a generated internal type would clash as CS0436 between assemblies
/// that see each other's internals), and any reflection tool can list the summaries. The attributes are read the same
/// way from a DLL (a metadata reference: command line, package) and from a referenced compilation (the IDE, where the
/// generator's output is part of the referenced project's compilation), so both give the same finding.
/// </summary>
internal sealed class BlockingSummaries
{
    /// <summary>The metadata key's prefix; the documentation id of the member follows it.</summary>
    public const string KeyPrefix = "NoBlock.Blocking ";

    private const string MetadataAttribute = "System.Reflection.AssemblyMetadataAttribute";

    /// <summary>
    /// The summaries of each assembly, read once per assembly symbol: a metadata assembly's symbol is shared by the
    /// compilations that reference the same file, so a DLL's attributes are read once, not once per compilation.
    /// </summary>
    private static readonly ConditionalWeakTable<IAssemblySymbol, Dictionary<string, string>> ByAssembly = new();

    private readonly IAssemblySymbol _own;

    public BlockingSummaries(IAssemblySymbol own)
    {
        _own = own;
    }

    /// <summary>The recorded chain tail of a member of another assembly (<c>Helper.Read → File.ReadAllText (Storage: Repo.cs:12)</c>), or null.</summary>
    public string? Find(IMethodSymbol method)
    {
        var definition = (method.ReducedFrom ?? method).OriginalDefinition;
        if (definition.IsAbstract || definition.ContainingAssembly is not { } assembly || SymbolEqualityComparer.Default.Equals(assembly, _own))
        {
            return null;
        }

        var summaries = ByAssembly.GetValue(assembly, Read);
        if (summaries.Count == 0 || definition.GetDocumentationCommentId() is not { } id)
        {
            return null;
        }

        return summaries.TryGetValue(id, out var tail) ? tail : null;
    }

    private static Dictionary<string, string> Read(IAssemblySymbol assembly)
    {
        Dictionary<string, string>? summaries = null;
        foreach (var attribute in assembly.GetAttributes())
        {
            if (attribute.ConstructorArguments.Length == 2
                && attribute.ConstructorArguments[0].Value is string key
                && key.StartsWith(KeyPrefix, StringComparison.Ordinal)
                && attribute.ConstructorArguments[1].Value is string tail
                && attribute.AttributeClass?.ToDisplayString() == MetadataAttribute)
            {
                summaries ??= new Dictionary<string, string>(StringComparer.Ordinal);
                summaries[key.Substring(KeyPrefix.Length)] = tail;
            }
        }

        return summaries ?? Empty;
    }

    private static readonly Dictionary<string, string> Empty = new(StringComparer.Ordinal);

    /// <summary>
    /// The tail recorded for a chain that starts at an exposed member: the methods after it, then the blocking call
    /// with the library's name in its location — <c>Helper.Read → File.ReadAllText (Storage: Repo.cs:12)</c>.
    /// </summary>
    public static string Tail(BlockingChain chain, string assemblyName)
    {
        var steps = chain.Methods.Skip(1).Select(step => QualifiedStepName(step.Method, step.Reason));
        return string.Join(string.Empty, steps.Select(s => s + " → ")) + chain.Step.Describe(assemblyName);
    }

    /// <summary>
    /// A step named with its type (<c>Repo.Load</c>, <c>Repo.Path.set</c>): how a chain names the methods of another
    /// assembly, and the methods a summary records, whose reader does not have the library's source in front of them.
    /// </summary>
    public static string QualifiedStepName(IMethodSymbol method, string? reason)
    {
        var name = CallTargets.StepName(method, reason);
        return reason is null && method.ContainingType is { } type
               && method.MethodKind is MethodKind.Ordinary or MethodKind.PropertyGet or MethodKind.PropertySet
            ? type.Name + "." + name
            : name;
    }
}
