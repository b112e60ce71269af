using Microsoft.CodeAnalysis;

namespace NoBlock.Analyzers.Operations;

/// <summary>
/// The one place the analyzers bind code outside the document being analysed: NB0002 follows calls into other
/// documents, the poll-once check looks for the loop that calls a method, and the drain rules follow the event's fd
/// into helper classes — live in the IDE, not only at compilation end. Only trees of this compilation are bound
/// (a project reference exposes another project's source symbols, but not its trees).
/// </summary>
internal static class OtherDocuments
{
    /// <summary>The semantic model of a tree of this compilation, or null for a tree that is not part of it.</summary>
    public static SemanticModel? ModelFor(Compilation compilation, SyntaxTree tree)
    {
        if (!compilation.ContainsSyntaxTree(tree))
        {
            return null;
        }

#pragma warning disable RS1030 // see the class comment; the analyzer driver shares its cached semantic models with Compilation.GetSemanticModel
        return compilation.GetSemanticModel(tree);
#pragma warning restore RS1030
    }
}
