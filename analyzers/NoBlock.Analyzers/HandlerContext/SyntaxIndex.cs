using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace NoBlock.Analyzers.HandlerContext;

/// <summary>
/// A syntax-only look at the compilation, made once, that tells the analyzers which types can matter before any
/// method body is bound. Binding every method of a large code base to find the few that touch an event loop is
/// what made the analyzers expensive; names are cheap. A type matters when its text names a method that takes
/// handlers (<c>Register</c>, <c>Post</c>, …), or a libc function of interest (<c>epoll_wait</c>, <c>epoll_ctl</c>)
/// or a method of this compilation whose declaration mentions one (a wrapper, up to a few levels).
/// </summary>
internal static class SyntaxIndex
{
    /// <summary>How many levels of wrappers around a libc call are followed by name.</summary>
    private const int WrapperDepth = 3;

    private static readonly ConditionalWeakTable<Compilation, ConcurrentDictionary<string, bool>> s_mentions = new();
    private static readonly ConditionalWeakTable<SyntaxTree, StrongBox<string>> s_texts = new();
    private static readonly ConditionalWeakTable<SyntaxTree, List<(string Name, SyntaxTree Tree, TextSpan Span)>> s_declarations = new();

    /// <summary>
    /// Whether the text of any tree of the compilation contains <paramref name="needle"/> (ordinal), computed once per
    /// compilation and needle and shared by both analyzers. A name the code calls must be spelled in its text, so
    /// "no tree says <c>epoll_</c>" means no source calls, wraps or imports an epoll function.
    /// </summary>
    public static bool AnyTreeMentions(Compilation compilation, string needle, CancellationToken cancellationToken)
    {
        var cache = s_mentions.GetValue(compilation, _ => new ConcurrentDictionary<string, bool>(StringComparer.Ordinal));
        return cache.GetOrAdd(needle, n =>
        {
            foreach (var tree in compilation.SyntaxTrees)
            {
                if (TextOf(tree, cancellationToken).IndexOf(n, StringComparison.Ordinal) >= 0)
                {
                    return true;
                }
            }

            return false;
        });
    }

    /// <summary>
    /// The text of a tree as one string, made once per tree and shared by every syntax-only check of both analyzers
    /// (they used to copy every tree's text again for each check).
    /// </summary>
    public static string TextOf(SyntaxTree tree, CancellationToken cancellationToken)
        => s_texts.GetValue(tree, t => new StrongBox<string>(t.GetText(cancellationToken).ToString())).Value!;

    /// <summary>
    /// Names of methods declared in this compilation that mention any of <paramref name="libcNames"/> (an identifier
    /// or a DllImport entry point), or call such a method, up to <see cref="WrapperDepth"/> levels; plus the libc names.
    /// Only files whose text contains <paramref name="needle"/> are parsed further.
    /// </summary>
    public static HashSet<string> NamesReaching(Compilation compilation, string needle, IReadOnlyCollection<string> libcNames, CancellationToken cancellationToken)
    {
        var names = new HashSet<string>(libcNames, StringComparer.Ordinal);
        if (!AnyTreeMentions(compilation, needle, cancellationToken))
        {
            return names; // the common case: no source mentions epoll at all
        }

        // Files are parsed once they mention a name found so far (a wrapper in one file, its DllImport in another).
        var parsed = new HashSet<SyntaxTree>();
        var declarations = new List<(string Name, SyntaxTree Tree, TextSpan Span)>();
        for (var level = 0; level <= WrapperDepth; level++)
        {
            foreach (var tree in compilation.SyntaxTrees)
            {
                var text = TextOf(tree, cancellationToken);
                if (!parsed.Contains(tree) && names.Any(name => text.IndexOf(name, StringComparison.Ordinal) >= 0))
                {
                    parsed.Add(tree);
                    declarations.AddRange(DeclarationsOf(tree, cancellationToken));
                }
            }

            var added = false;
            foreach (var (name, tree, span) in declarations)
            {
                if (!names.Contains(name) && MentionsWord(TextOf(tree, cancellationToken), span, names))
                {
                    names.Add(name);
                    added = true;
                }
            }

            if (!added)
            {
                break;
            }
        }

        return names;
    }

    /// <summary>The methods, local functions and properties a tree declares, by name and span; found once per tree.</summary>
    private static List<(string Name, SyntaxTree Tree, TextSpan Span)> DeclarationsOf(SyntaxTree tree, CancellationToken cancellationToken)
        => s_declarations.GetValue(tree, t =>
        {
            var declarations = new List<(string Name, SyntaxTree Tree, TextSpan Span)>();
            AddDeclarations(t, declarations, cancellationToken);
            return declarations;
        });

    private static void AddDeclarations(SyntaxTree tree, List<(string Name, SyntaxTree Tree, TextSpan Span)> declarations, CancellationToken cancellationToken)
    {
        foreach (var node in tree.GetRoot(cancellationToken).DescendantNodes())
        {
            switch (node)
            {
                case MethodDeclarationSyntax method:
                    declarations.Add((method.Identifier.ValueText, tree, method.Span));
                    break;
                case LocalFunctionStatementSyntax local:
                    declarations.Add((local.Identifier.ValueText, tree, local.Span));
                    break;
                case PropertyDeclarationSyntax property:
                    declarations.Add((property.Identifier.ValueText, tree, property.Span));
                    break;
            }
        }
    }

    /// <summary>
    /// True when the text in <paramref name="span"/> spells one of the names as a whole word: an identifier, a word
    /// of a string literal (a DllImport entry point) or of a comment. A search of the text, not a walk of its tokens;
    /// it can only say yes more often than the tokens would (a name in a comment), so a gate built on it binds a
    /// superset of what the token walk bound, never less.
    /// </summary>
    public static bool MentionsWord(string text, TextSpan span, HashSet<string> names)
    {
        foreach (var name in names)
        {
            if (name.Length == 0)
            {
                continue;
            }

            var at = span.Start;
            while (at <= span.End - name.Length)
            {
                var hit = text.IndexOf(name, at, span.End - at, StringComparison.Ordinal);
                if (hit < 0)
                {
                    break;
                }

                var end = hit + name.Length;
                if ((hit == 0 || !IsWordChar(text[hit - 1])) && (end >= text.Length || !IsWordChar(text[end])))
                {
                    return true;
                }

                at = hit + 1;
            }
        }

        return false;
    }

    private static bool IsWordChar(char c) => c == '_' || char.IsLetterOrDigit(c);

    /// <summary>True when the type's own declarations mention one of the names (see <see cref="MentionsWord"/>).</summary>
    public static bool TypeMentions(INamedTypeSymbol type, HashSet<string> names, CancellationToken cancellationToken)
    {
        if (names.Count == 0)
        {
            return false;
        }

        foreach (var reference in type.DeclaringSyntaxReferences)
        {
            if (MentionsWord(TextOf(reference.SyntaxTree, cancellationToken), reference.Span, names))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Names under which code passes handlers: methods (and, for constructors, types) with an
    /// <c>[EventLoopHandler]</c> parameter, declared in source or in a referenced assembly built against NoBlock.
    /// </summary>
    public static HashSet<string> HandlerTakingNames(Compilation compilation, INamedTypeSymbol? handlerAttribute, CancellationToken cancellationToken)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        if (handlerAttribute is null)
        {
            return names;
        }

        var noBlock = handlerAttribute.ContainingAssembly;
        foreach (var reference in compilation.References)
        {
            if (compilation.GetAssemblyOrModuleSymbol(reference) is IAssemblySymbol assembly
                && (SymbolEqualityComparer.Default.Equals(assembly, noBlock) || assembly.Modules.Any(m => m.ReferencedAssemblies.Any(r => r.Name == noBlock.Name))))
            {
                AddHandlerTaking(assembly.GlobalNamespace, handlerAttribute, names, cancellationToken);
            }
        }

        foreach (var tree in compilation.SyntaxTrees)
        {
            // Each place the text says EventLoopHandler, not the whole tree: a parameter whose attribute lists name it
            // contains that place, so it is the nearest parameter around the token found there.
            var text = TextOf(tree, cancellationToken);
            SyntaxNode? root = null;
            var seen = new HashSet<ParameterSyntax>();
            for (var at = text.IndexOf("EventLoopHandler", StringComparison.Ordinal); at >= 0; at = text.IndexOf("EventLoopHandler", at + 1, StringComparison.Ordinal))
            {
                root ??= tree.GetRoot(cancellationToken);
                var parameter = root.FindToken(at).Parent?.FirstAncestorOrSelf<ParameterSyntax>();
                if (parameter is null || !seen.Add(parameter)
                    || parameter.AttributeLists.Count == 0 || parameter.AttributeLists.ToString().IndexOf("EventLoopHandler", StringComparison.Ordinal) < 0)
                {
                    continue;
                }

                switch (parameter.Parent?.Parent)
                {
                    case MethodDeclarationSyntax method:
                        names.Add(method.Identifier.ValueText);
                        break;
                    case ConstructorDeclarationSyntax constructor:
                        names.Add(constructor.Identifier.ValueText);
                        break;
                    case LocalFunctionStatementSyntax local:
                        names.Add(local.Identifier.ValueText);
                        break;
                    case DelegateDeclarationSyntax:
                        break;
                }
            }
        }

        return names;
    }

    private static void AddHandlerTaking(INamespaceOrTypeSymbol container, INamedTypeSymbol attribute, HashSet<string> names, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        foreach (var member in container.GetMembers())
        {
            switch (member)
            {
                case INamespaceSymbol ns:
                    AddHandlerTaking(ns, attribute, names, cancellationToken);
                    break;
                case INamedTypeSymbol type when type.DeclaredAccessibility == Accessibility.Public:
                    foreach (var typeMember in type.GetMembers())
                    {
                        if (typeMember is IMethodSymbol method && method.Parameters.Any(p => p.GetAttributes().Any(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, attribute))))
                        {
                            names.Add(method.MethodKind == MethodKind.Constructor ? type.Name : method.Name);
                        }
                    }

                    AddHandlerTaking(type, attribute, names, cancellationToken);
                    break;
            }
        }
    }
}

/// <summary>
/// The call-shaped nodes of one tree, found by one walk per tree and compilation-independent (syntax only): invocations
/// and object creations by the last name they spell, and the constructor calls that spell no name (<c>new(...)</c>,
/// <c>: this(...)</c>, <c>: base(...)</c>). Looking up a method's call sites used to walk every candidate tree again
/// for each method asked about.
/// </summary>
internal sealed class TreeCallSites
{
    private static readonly ConditionalWeakTable<SyntaxTree, TreeCallSites> s_sites = new();
    private static readonly List<SyntaxNode> s_none = new();

    private readonly Dictionary<string, List<SyntaxNode>> _invocations = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<SyntaxNode>> _creations = new(StringComparer.Ordinal);
    private readonly List<SyntaxNode> _unnamedConstructorCalls = new();

    private TreeCallSites(SyntaxTree tree, CancellationToken cancellationToken)
    {
        foreach (var node in tree.GetRoot(cancellationToken).DescendantNodes())
        {
            switch (node)
            {
                case InvocationExpressionSyntax invocation when LastName(invocation.Expression) is { } name:
                    Add(_invocations, name, node);
                    break;
                case ObjectCreationExpressionSyntax creation when LastName(creation.Type) is { } name:
                    Add(_creations, name, node);
                    break;
                case PrimaryConstructorBaseTypeSyntax primary when LastName(primary.Type) is { } name:
                    Add(_creations, name, node);
                    break;
                case ImplicitObjectCreationExpressionSyntax:
                case ConstructorInitializerSyntax:
                    _unnamedConstructorCalls.Add(node);
                    break;
            }
        }
    }

    public static TreeCallSites Of(SyntaxTree tree, CancellationToken cancellationToken)
        => s_sites.GetValue(tree, t => new TreeCallSites(t, cancellationToken));

    /// <summary>Invocations whose expression ends in <paramref name="name"/> (<c>M(..)</c>, <c>x.M(..)</c>, <c>x?.M&lt;T&gt;(..)</c>), in document order.</summary>
    public IReadOnlyList<SyntaxNode> InvocationsOf(string name) => _invocations.TryGetValue(name, out var nodes) ? nodes : s_none;

    /// <summary>
    /// Nodes that may call a constructor of a type named <paramref name="typeName"/>, in document order: <c>new T(..)</c>
    /// and <c>class D(..) : T(..)</c> by name, and every <c>new(..)</c> and constructor initializer (they name no type).
    /// </summary>
    public IEnumerable<SyntaxNode> ConstructorCallsOf(string typeName)
    {
        var named = _creations.TryGetValue(typeName, out var nodes) ? nodes : s_none;
        if (_unnamedConstructorCalls.Count == 0)
        {
            return named;
        }

        return named.Concat(_unnamedConstructorCalls).OrderBy(node => node.SpanStart);
    }

    private static void Add(Dictionary<string, List<SyntaxNode>> index, string name, SyntaxNode node)
    {
        if (!index.TryGetValue(name, out var nodes))
        {
            index[name] = nodes = new List<SyntaxNode>();
        }

        nodes.Add(node);
    }

    private static string? LastName(SyntaxNode node) => node switch
    {
        IdentifierNameSyntax identifier => identifier.Identifier.ValueText,
        GenericNameSyntax generic => generic.Identifier.ValueText,
        MemberAccessExpressionSyntax member => LastName(member.Name),
        QualifiedNameSyntax qualified => LastName(qualified.Right),
        MemberBindingExpressionSyntax binding => LastName(binding.Name),
        _ => null,
    };
}
