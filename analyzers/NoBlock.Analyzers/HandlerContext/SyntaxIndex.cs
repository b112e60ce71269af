using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

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
                if (tree.GetText(cancellationToken).ToString().IndexOf(n, StringComparison.Ordinal) >= 0)
                {
                    return true;
                }
            }

            return false;
        });
    }

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

        var texts = new List<(SyntaxTree Tree, string Text)>();
        var anyNeedle = false;
        foreach (var tree in compilation.SyntaxTrees)
        {
            var text = tree.GetText(cancellationToken).ToString();
            texts.Add((tree, text));
            anyNeedle |= text.IndexOf(needle, StringComparison.Ordinal) >= 0;
        }

        if (!anyNeedle)
        {
            return names; // the common case: no source mentions epoll at all
        }

        // Files are parsed once they mention a name found so far (a wrapper in one file, its DllImport in another).
        var parsed = new HashSet<SyntaxTree>();
        var declarations = new List<(string Name, SyntaxNode Node)>();
        for (var level = 0; level <= WrapperDepth; level++)
        {
            foreach (var (tree, text) in texts)
            {
                if (!parsed.Contains(tree) && names.Any(name => text.IndexOf(name, StringComparison.Ordinal) >= 0))
                {
                    parsed.Add(tree);
                    AddDeclarations(tree, declarations, cancellationToken);
                }
            }

            var added = false;
            foreach (var (name, node) in declarations)
            {
                if (!names.Contains(name) && Mentions(node, names))
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

    private static void AddDeclarations(SyntaxTree tree, List<(string Name, SyntaxNode Node)> declarations, CancellationToken cancellationToken)
    {
        foreach (var node in tree.GetRoot(cancellationToken).DescendantNodes())
        {
            switch (node)
            {
                case MethodDeclarationSyntax method:
                    declarations.Add((method.Identifier.ValueText, method));
                    break;
                case LocalFunctionStatementSyntax local:
                    declarations.Add((local.Identifier.ValueText, local));
                    break;
                case PropertyDeclarationSyntax property:
                    declarations.Add((property.Identifier.ValueText, property));
                    break;
            }
        }
    }

    /// <summary>True when an identifier (or a string literal, for DllImport entry points) in the node is one of the names.</summary>
    public static bool Mentions(SyntaxNode node, HashSet<string> names)
    {
        foreach (var token in node.DescendantTokens())
        {
            if (token.IsKind(SyntaxKind.IdentifierToken) || token.IsKind(SyntaxKind.StringLiteralToken))
            {
                if (names.Contains(token.ValueText))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>True when the type's own declarations mention one of the names.</summary>
    public static bool TypeMentions(INamedTypeSymbol type, HashSet<string> names, CancellationToken cancellationToken)
    {
        if (names.Count == 0)
        {
            return false;
        }

        foreach (var reference in type.DeclaringSyntaxReferences)
        {
            if (Mentions(reference.GetSyntax(cancellationToken), names))
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
            if (tree.GetText(cancellationToken).ToString().IndexOf("EventLoopHandler", StringComparison.Ordinal) < 0)
            {
                continue;
            }

            foreach (var parameter in tree.GetRoot(cancellationToken).DescendantNodes().OfType<ParameterSyntax>())
            {
                if (parameter.AttributeLists.Count == 0 || parameter.AttributeLists.ToString().IndexOf("EventLoopHandler", StringComparison.Ordinal) < 0)
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
