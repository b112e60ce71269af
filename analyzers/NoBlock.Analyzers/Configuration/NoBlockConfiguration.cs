using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.IO;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Configuration;

/// <summary>
/// The two AdditionalFiles lists (<c>NoBlock.Blocking.txt</c>, <c>NoBlock.Handlers.txt</c>), parsed once per
/// compilation. Lines are documentation ids (<c>M:Ns.Type.Method(System.Int32)</c>), <c>#</c> starts a comment,
/// and in the blocking list <c>;text</c> after an id says what to use instead. The handlers list takes methods,
/// events (<c>E:</c>: what is subscribed to them is handler code) and, written <c>M:…(…)#N</c> with the <c>#</c>
/// right after the closing parenthesis, the 0-based N-th parameter of a method, which must be a delegate: what is
/// passed there runs on the loop. Every line that cannot be used is kept as a problem with its file and line,
/// reported as NB9001 — never silently ignored, except a line for an assembly this compilation does not reference
/// (<see cref="SeesWhereItWouldBe"/>), which the compilations that do reference it judge. A blocking-list line written <c>!id</c> says the opposite: the member
/// (every method of a type, both accessors of a property) is fine, and NB0002's chain search and the blocking summaries
/// a library records (<see cref="Summaries.SummaryGenerator"/>) do not go through it.
/// </summary>
internal sealed class NoBlockConfiguration
{
    private NoBlockConfiguration(ImmutableArray<KeyValuePair<ISymbol, string?>> blocking, ImmutableArray<IMethodSymbol> notBlocking, ImmutableArray<ISymbol> handlers, ImmutableArray<Diagnostic> problems)
    {
        Blocking = blocking;
        NotBlocking = notBlocking;
        Handlers = handlers;
        Problems = problems;
    }

    /// <summary>Members listed as blocking, with the optional alternative text.</summary>
    public ImmutableArray<KeyValuePair<ISymbol, string?>> Blocking { get; }

    /// <summary>Methods the <c>!</c> lines of the blocking list declare fine: chains do not go through them.</summary>
    public ImmutableArray<IMethodSymbol> NotBlocking { get; }

    /// <summary>
    /// Handler roots: interface or virtual methods whose implementations and overrides are handlers, events whose
    /// subscribers are, and delegate parameters whose arguments are.
    /// </summary>
    public ImmutableArray<ISymbol> Handlers { get; }

    /// <summary>NB9001 diagnostics for lines that could not be used.</summary>
    public ImmutableArray<Diagnostic> Problems { get; }

    public static NoBlockConfiguration Read(Compilation compilation, ImmutableArray<AdditionalText> files, CancellationToken cancellationToken)
    {
        var blocking = ImmutableArray.CreateBuilder<KeyValuePair<ISymbol, string?>>();
        var notBlocking = ImmutableArray.CreateBuilder<IMethodSymbol>();
        var handlers = ImmutableArray.CreateBuilder<ISymbol>();
        var problems = ImmutableArray.CreateBuilder<Diagnostic>();
        foreach (var file in files)
        {
            var name = Path.GetFileName(file.Path);
            var isBlocking = string.Equals(name, KnownNames.BlockingListFile, StringComparison.OrdinalIgnoreCase);
            var isHandlers = string.Equals(name, KnownNames.HandlersListFile, StringComparison.OrdinalIgnoreCase);
            if (!isBlocking && !isHandlers)
            {
                continue;
            }

            var text = file.GetText(cancellationToken);
            if (text is null)
            {
                problems.Add(Problem(file, text, default, $"{name} could not be read"));
                continue;
            }

            foreach (var line in text.Lines)
            {
                var raw = line.ToString();
                var content = raw;
                string? parameterSuffix = null;
                var hash = content.IndexOf('#');
                if (isHandlers && hash > 0 && content[hash - 1] == ')')
                {
                    // M:Ns.Poller.Add(Ns.Socket,System.Action{Ns.Socket})#1 — a parameter, not a comment; a comment
                    // may follow after white space.
                    var end = hash + 1;
                    while (end < content.Length && !char.IsWhiteSpace(content[end]))
                    {
                        end++;
                    }

                    parameterSuffix = content.Substring(hash + 1, end - hash - 1);
                    var rest = content.Substring(end);
                    var comment = rest.IndexOf('#');
                    content = content.Substring(0, hash) + (comment >= 0 ? rest.Substring(0, comment) : rest);
                }
                else if (hash >= 0)
                {
                    content = content.Substring(0, hash);
                }

                string? alternative = null;
                var semicolon = content.IndexOf(';');
                if (semicolon >= 0)
                {
                    alternative = content.Substring(semicolon + 1).Trim();
                    content = content.Substring(0, semicolon);
                }

                var id = content.Trim();
                if (id.Length == 0)
                {
                    continue;
                }

                var isNotBlocking = id[0] == '!';
                if (isNotBlocking)
                {
                    if (!isBlocking)
                    {
                        problems.Add(Problem(file, text, line, $"'{id}': a '!' line says a member does not block; it belongs in {KnownNames.BlockingListFile}, not {KnownNames.HandlersListFile}"));
                        continue;
                    }

                    if (alternative is not null)
                    {
                        problems.Add(Problem(file, text, line, $"'{id}' says the member does not block, so ';{alternative}' (what to use instead) has nothing to apply to: remove it"));
                        continue;
                    }

                    id = id.Substring(1).TrimStart();
                    if (id.Length == 0)
                    {
                        problems.Add(Problem(file, text, line, "'!' names no member: write !M:Namespace.Type.Method(ParameterTypes), !P:Namespace.Type.Property or !T:Namespace.Type"));
                        continue;
                    }
                }

                if (id.Length < 3 || id[1] != ':' || "MPTE".IndexOf(id[0]) < 0)
                {
                    problems.Add(Problem(file, text, line, $"'{id}' is not a documentation id: write M:Namespace.Type.Method(ParameterTypes), P:Namespace.Type.Property or T:Namespace.Type"));
                    continue;
                }

                if (isHandlers && id[0] is not ('M' or 'E'))
                {
                    problems.Add(Problem(file, text, line, $"'{id}' is not a method or event: {KnownNames.HandlersListFile} lists interface or virtual methods (M:…) whose implementations are handlers, events (E:…) whose subscribers are, and delegate parameters (M:…(…)#N) whose arguments are"));
                    continue;
                }

                var parameterIndex = -1;
                if (parameterSuffix is not null
                    && (!int.TryParse(parameterSuffix, NumberStyles.None, CultureInfo.InvariantCulture, out parameterIndex) || id[0] != 'M'))
                {
                    problems.Add(Problem(file, text, line, $"'#{parameterSuffix}' after '{id}' is not a parameter index: write M:Namespace.Type.Method(ParameterTypes)#N, N the 0-based position of the delegate parameter (#1 for the second)"));
                    continue;
                }

                var symbols = DocumentationCommentId.GetSymbolsForDeclarationId(id, compilation);
                if (symbols.IsDefaultOrEmpty)
                {
                    if (!SeesWhereItWouldBe(id, compilation))
                    {
                        // A solution-wide list names types of assemblies this project does not reference; a
                        // compilation that references them judges the line.
                        continue;
                    }

                    problems.Add(Problem(file, text, line, $"'{id}' names no member this compilation can see (check the spelling, the parameter types, and that the assembly is referenced)"));
                    continue;
                }

                foreach (var symbol in symbols)
                {
                    if (isNotBlocking)
                    {
                        AddNotBlocking(symbol, notBlocking);
                    }
                    else if (isHandlers && parameterIndex >= 0)
                    {
                        if (HandlerParameter((IMethodSymbol)symbol, parameterIndex, id) is { } parameterProblem)
                        {
                            problems.Add(Problem(file, text, line, parameterProblem));
                        }
                        else
                        {
                            handlers.Add(((IMethodSymbol)symbol).Parameters[parameterIndex]);
                        }
                    }
                    else if (isHandlers)
                    {
                        handlers.Add(symbol);
                    }
                    else if (symbol is INamedTypeSymbol type)
                    {
                        foreach (var member in type.GetMembers())
                        {
                            if (member is IMethodSymbol or IPropertySymbol)
                            {
                                blocking.Add(new KeyValuePair<ISymbol, string?>(member, string.IsNullOrEmpty(alternative) ? null : alternative));
                            }
                        }
                    }
                    else
                    {
                        blocking.Add(new KeyValuePair<ISymbol, string?>(symbol, string.IsNullOrEmpty(alternative) ? null : alternative));
                    }
                }
            }
        }

        return new NoBlockConfiguration(blocking.ToImmutable(), notBlocking.ToImmutable(), handlers.ToImmutable(), problems.ToImmutable());
    }

    /// <summary>
    /// Whether this compilation can judge an id that names nothing in it: it sees the type the id names (a member
    /// id: the member's declaring type), or the namespace or type that would contain that type. Then the line is a
    /// typo (a misspelt member, a misspelt type in a namespace it has). When neither exists, the id belongs to an
    /// assembly this compilation does not reference (<c>DotNetty.Transport.Channels.IChannelHandler</c> in a
    /// project below the transport), and the line is left to the compilations that reference it.
    /// </summary>
    internal static bool SeesWhereItWouldBe(string id, Compilation compilation)
    {
        var name = id.Substring(2);
        var parenthesis = name.IndexOf('(');
        if (parenthesis >= 0)
        {
            name = name.Substring(0, parenthesis);
        }

        var typeName = name;
        if (id[0] != 'T')
        {
            // M:Ns.Type.Method``1, P:Ns.Type.Item, M:Ns.Type.#ctor, M:Ns.Type.Ns#IFoo#Bar: the member is after the last dot.
            var dot = name.LastIndexOf('.');
            if (dot <= 0)
            {
                return true; // no type at all: nothing to tell it by
            }

            typeName = name.Substring(0, dot);
            if (!DocumentationCommentId.GetSymbolsForDeclarationId("T:" + typeName, compilation).IsDefaultOrEmpty)
            {
                return true; // the type is here, the member is not
            }
        }

        var containerDot = typeName.LastIndexOf('.');
        if (containerDot <= 0)
        {
            return true; // a type of the global namespace, which every compilation has
        }

        var container = typeName.Substring(0, containerDot);
        return !DocumentationCommentId.GetSymbolsForDeclarationId("T:" + container, compilation).IsDefaultOrEmpty
            || HasNamespace(compilation.GlobalNamespace, container);
    }

    /// <summary>Whether a namespace of that dotted name exists in the compilation or anything it references.</summary>
    private static bool HasNamespace(INamespaceSymbol global, string dotted)
    {
        INamespaceSymbol? current = global;
        foreach (var part in dotted.Split('.'))
        {
            INamespaceSymbol? next = null;
            foreach (var member in current.GetNamespaceMembers())
            {
                if (member.Name == part)
                {
                    next = member;
                    break;
                }
            }

            if (next is null)
            {
                return false;
            }

            current = next;
        }

        return true;
    }

    /// <summary>The methods a <c>!</c> line covers: a method, a property's accessors, every method and accessor of a type.</summary>
    private static void AddNotBlocking(ISymbol symbol, ImmutableArray<IMethodSymbol>.Builder notBlocking)
    {
        switch (symbol)
        {
            case IMethodSymbol method:
                notBlocking.Add(method.OriginalDefinition);
                break;
            case IPropertySymbol property:
                if (property.GetMethod is { } getter)
                {
                    notBlocking.Add(getter.OriginalDefinition);
                }

                if (property.SetMethod is { } setter)
                {
                    notBlocking.Add(setter.OriginalDefinition);
                }

                break;
            case INamedTypeSymbol type:
                foreach (var member in type.GetMembers())
                {
                    if (member is IMethodSymbol or IPropertySymbol)
                    {
                        AddNotBlocking(member, notBlocking);
                    }
                }

                break;
        }
    }

    /// <summary>Why parameter <paramref name="index"/> of <paramref name="method"/> cannot take handlers, or null when it can.</summary>
    private static string? HandlerParameter(IMethodSymbol method, int index, string id)
    {
        if (index >= method.Parameters.Length)
        {
            return $"'{id}#{index}' names no parameter: the method has {method.Parameters.Length} and the index is 0-based (#0 for the first)";
        }

        var parameter = method.Parameters[index];
        return parameter.Type.TypeKind == TypeKind.Delegate
            ? null
            : $"'{id}#{index}' names parameter '{parameter.Name}' of type {parameter.Type.ToDisplayString()}, not a delegate: only a lambda or method group passed to a delegate parameter can be handler code";
    }

    private static Diagnostic Problem(AdditionalText file, SourceText? text, TextLine line, string message)
    {
        var location = text is null
            ? Location.None
            : Location.Create(file.Path, line.Span, text.Lines.GetLinePositionSpan(line.Span));
        var where = text is null ? file.Path : $"{file.Path}({line.LineNumber + 1})";
        return Diagnostic.Create(ConfigurationDescriptors.InvalidConfiguration, location, where, message);
    }
}
