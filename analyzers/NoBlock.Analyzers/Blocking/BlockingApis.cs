using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Blocking;

/// <summary>
/// The blocking catalogue resolved against one compilation: built-in rows, methods marked
/// <c>[NoBlock.Blocking]</c> and the ids listed in <c>NoBlock.Blocking.txt</c>. Lookups are cached per method.
/// </summary>
internal sealed class BlockingApis
{
    private readonly Dictionary<ISymbol, BlockingApi> _members = new(SymbolEqualityComparer.Default);
    private readonly Dictionary<string, Dictionary<string, BlockingApi>> _rowsByType = new(System.StringComparer.Ordinal);
    private readonly Dictionary<string, BlockingApi> _libc = new(System.StringComparer.Ordinal);
    private readonly INamedTypeSymbol? _blockingAttribute;
    private readonly ConcurrentDictionary<IMethodSymbol, Match> _cache = new(SymbolEqualityComparer.Default);

    /// <summary>The catalogue's types by their last metadata name (<c>Thread</c>, <c>Task`1</c>, <c>Outer`1+Inner</c>'s <c>Inner</c>):
    /// a method of a type whose name is not here has no built-in row, decided without building its full name.</summary>
    private readonly HashSet<string> _rowTypeNames = new(System.StringComparer.Ordinal);

    /// <summary>Made once: a method group passed to GetOrAdd would allocate a delegate at every lookup.</summary>
    private readonly System.Func<IMethodSymbol, Match> _findUncached;

    /// <summary>
    /// Built-in rows are matched by the declaring type's metadata name when a method is first looked up, so that
    /// starting a compilation costs no type lookups (the catalogue names some forty types).
    /// </summary>
    public BlockingApis(Compilation compilation, IEnumerable<KeyValuePair<ISymbol, string?>> userListed)
    {
        foreach (var row in BlockingCatalogue.All)
        {
            if (row.Type == BlockingCatalogue.Libc)
            {
                _libc[row.Member] = row;
                continue;
            }

            if (!_rowsByType.TryGetValue(row.Type, out var members))
            {
                _rowsByType[row.Type] = members = new Dictionary<string, BlockingApi>(System.StringComparer.Ordinal);
            }

            members[row.Member] = row;
            var last = row.Type.LastIndexOfAny(new[] { '.', '+' });
            _rowTypeNames.Add(last < 0 ? row.Type : row.Type.Substring(last + 1));
        }

        foreach (var listed in userListed)
        {
            var row = new BlockingApi(listed.Key.ContainingType?.ToDisplayString() ?? string.Empty, listed.Key.Name, BlockingCondition.Always, listed.Value ?? "move it off the loop (loop.Offload(...)) or use an asynchronous alternative");
            switch (listed.Key)
            {
                case IMethodSymbol method:
                    _members[method.OriginalDefinition] = row;
                    break;
                case IPropertySymbol property:
                    if (property.GetMethod is { } get) _members[get.OriginalDefinition] = row;
                    if (property.SetMethod is { } set) _members[set.OriginalDefinition] = row;
                    break;
            }
        }

        _blockingAttribute = compilation.GetTypeByMetadataName(KnownNames.BlockingAttribute);
        _findUncached = FindUncached;
    }

    private BlockingApi? FindBuiltIn(IMethodSymbol method)
    {
        if (method.ContainingType is not { } type || !_rowTypeNames.Contains(type.OriginalDefinition.MetadataName)
            || !_rowsByType.TryGetValue(MetadataName(type), out var members))
        {
            return null;
        }

        var name = method.AssociatedSymbol is IPropertySymbol property && method.MethodKind == MethodKind.PropertyGet ? property.Name : method.Name;
        return members.TryGetValue(name, out var row) && (method.MethodKind != MethodKind.PropertySet) ? row : null;
    }

    /// <summary><c>System.Threading.Tasks.Task`1</c>, <c>Outer`1+Inner</c>: the form the catalogue uses.</summary>
    private static string MetadataName(INamedTypeSymbol type)
    {
        var definition = type.OriginalDefinition;
        if (definition.ContainingType is { } outer)
        {
            return MetadataName(outer) + "+" + definition.MetadataName;
        }

        return definition.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() + "." + definition.MetadataName : definition.MetadataName;
    }

    /// <summary>The catalogue row for a method (or property accessor, or constructor), or null.</summary>
    public Match Find(IMethodSymbol method)
    {
        method = method.ReducedFrom ?? method;
        return _cache.GetOrAdd(method.OriginalDefinition, _findUncached);
    }

    private Match FindUncached(IMethodSymbol method)
    {
        for (var current = method; current is not null; current = current.OverriddenMethod)
        {
            var definition = current.OriginalDefinition;
            var row = _members.TryGetValue(definition, out var listed) ? listed : FindBuiltIn(definition);
            if (row is not null)
            {
                return new Match(row, ApiName(current));
            }
        }

        if (_blockingAttribute is not null)
        {
            var marked = FindBlockingAttribute(method) ?? (method.AssociatedSymbol is IPropertySymbol property ? FindBlockingAttribute(property) : null);
            if (marked is not null)
            {
                var alternative = marked.ConstructorArguments.Length == 1 && marked.ConstructorArguments[0].Value is string text && text.Length > 0
                    ? text
                    : "move it off the loop (loop.Offload(...)) or use an asynchronous alternative";
                return new Match(new BlockingApi(method.ContainingType.ToDisplayString(), method.Name, BlockingCondition.Always, alternative), ApiName(method));
            }
        }

        var native = LibcFunctions.GetNativeName(method);
        if (native is not null && _libc.TryGetValue(native, out var libcRow))
        {
            return new Match(libcRow, native);
        }

        return default;
    }

    private AttributeData? FindBlockingAttribute(ISymbol symbol)
    {
        foreach (var attribute in symbol.GetAttributes())
        {
            if (SymbolEqualityComparer.Default.Equals(attribute.AttributeClass, _blockingAttribute))
            {
                return attribute;
            }
        }

        return null;
    }

    /// <summary>True when the method is an epoll wait, whatever binding declares it.</summary>
    public bool IsEpollWait(IMethodSymbol method) => Find(method).Row is { IsEpollWait: true };

    /// <summary>How a member is named in messages: <c>Thread.Sleep</c>, <c>Task&lt;T&gt;.Result</c>.</summary>
    public static string ApiName(IMethodSymbol method)
    {
        var member = method.AssociatedSymbol is IPropertySymbol property ? property.Name : method.MethodKind == MethodKind.Constructor ? "ctor" : method.Name;
        return method.ContainingType.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat) + "." + member;
    }

    /// <summary>A catalogue hit: the row and the API's display name.</summary>
    public readonly struct Match
    {
        public Match(BlockingApi row, string name)
        {
            Row = row;
            Name = name;
        }

        public BlockingApi? Row { get; }

        public string Name { get; }

        public bool IsHit => Row is not null;
    }
}
