using System;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;

namespace NoBlock.Analyzers.Operations;

/// <summary>
/// The one place the analyzers bind code outside the document being analysed: NB0002 follows calls into other
/// documents, the poll-once check looks for the loop that calls a method, and the drain rules follow the event's fd
/// into helper classes — live in the IDE, not only at compilation end. Only trees of this compilation are bound
/// (a project reference exposes another project's source symbols, but not its trees).
/// </summary>
/// <remarks>
/// Under the analyzer driver, <see cref="Compilation.GetSemanticModel"/> hands out the driver's cached model of a
/// tree (and the driver lets it go once the tree is analysed). Outside the driver, in the summary generator, every
/// call makes a fresh model that binds its member bodies again; there <see cref="CacheModels"/> keeps one model per
/// tree for as long as the generator runs.
/// </remarks>
internal static class OtherDocuments
{
    private static readonly ConditionalWeakTable<Compilation, ConcurrentDictionary<SyntaxTree, SemanticModel>> s_cached = new();

    /// <summary>
    /// Until the result is disposed, <see cref="ModelFor"/> gives one model per tree of <paramref name="compilation"/>
    /// (for code that runs outside the analyzer driver, which caches models itself).
    /// </summary>
    public static IDisposable CacheModels(Compilation compilation)
    {
        var models = s_cached.GetValue(compilation, static _ => new ConcurrentDictionary<SyntaxTree, SemanticModel>());
        return new Release(compilation, models);
    }

    private sealed class Release(Compilation compilation, ConcurrentDictionary<SyntaxTree, SemanticModel> models) : IDisposable
    {
        public void Dispose()
        {
            models.Clear();
            s_cached.Remove(compilation);
        }
    }

    /// <summary>The semantic model of a tree of this compilation, or null for a tree that is not part of it.</summary>
    public static SemanticModel? ModelFor(Compilation compilation, SyntaxTree tree)
    {
        if (!compilation.ContainsSyntaxTree(tree))
        {
            return null;
        }

        if (s_cached.TryGetValue(compilation, out var models))
        {
#pragma warning disable RS1030 // see the class comment
            return models.GetOrAdd(tree, t => compilation.GetSemanticModel(t));
        }

        // See the class comment: the analyzer driver shares its cached semantic models with Compilation.GetSemanticModel.
        return compilation.GetSemanticModel(tree);
#pragma warning restore RS1030
    }
}
