using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Operations;

namespace NoBlock.Analyzers.HandlerContext;

/// <summary>
/// The handler a piece of code runs in, asked from the code outwards (a diagnostic location, an <c>await</c>, a
/// statement a fix rewrites): the innermost lambda passed to a handler parameter or subscribed to a listed event, or the
/// enclosing method when it is a handler (<see cref="HandlerRoots"/>) or is passed as a method group to such a
/// parameter in its own type — crossing only lambdas that run inline (<see cref="Offloading.RunsInline"/>) and
/// local functions. The same routes the rules walk inwards from; hand-written epoll dispatch loops are not
/// handlers here (they have no <c>EventLoop</c> to offload to and no loop <c>SynchronizationContext</c>).
/// </summary>
internal sealed class EnclosingHandler
{
    private readonly HandlerRoots _roots;

    public EnclosingHandler(HandlerRoots roots) => _roots = roots;

    /// <summary>The handler <paramref name="node"/> runs in, or null when it does not run as handler code.</summary>
    public HandlerSite? Find(SemanticModel model, SyntaxNode node, AnalyzerConfigOptions options, CancellationToken cancellationToken)
    {
        for (var current = node; current is not null; current = current.Parent)
        {
            switch (current)
            {
                case AnonymousFunctionExpressionSyntax lambda:
                    if (model.GetOperation(lambda, cancellationToken) is not IAnonymousFunctionOperation function)
                    {
                        return null;
                    }

                    if (RegistrationOf(function) is { } registration)
                    {
                        return new HandlerSite(lambda, function.Symbol, ImmutableArray.Create(registration));
                    }

                    if (OperationHelpers.PassedTo(function) is IEventAssignmentOperation { Adds: true, EventReference: IEventReferenceOperation subscribed }
                        && _roots.IsHandlerEvent(subscribed.Event))
                    {
                        return new HandlerSite(lambda, function.Symbol, ImmutableArray<IArgumentOperation>.Empty); // E: line in NoBlock.Handlers.txt
                    }

                    if (!Offloading.RunsInline(function, _roots.IsHandlerParameter))
                    {
                        return null; // offloaded, stored or handed to a later callback: not on the loop
                    }

                    break;
                case LocalFunctionStatementSyntax:
                    break; // runs where it is called: judged by its surroundings
                case BaseMethodDeclarationSyntax or AccessorDeclarationSyntax:
                    return model.GetDeclaredSymbol(current, cancellationToken) is IMethodSymbol method ? FindForMethod(model.Compilation, method, current, options, cancellationToken) : null;
                case MemberDeclarationSyntax or CompilationUnitSyntax:
                    return null; // field initializers, top-level statements: not handlers
            }
        }

        return null;
    }

    private HandlerSite? FindForMethod(Compilation compilation, IMethodSymbol method, SyntaxNode declaration, AnalyzerConfigOptions options, CancellationToken cancellationToken)
    {
        var registrations = MethodGroupRegistrations(compilation, method, cancellationToken);
        if (_roots.IsHandler(method, options) || !registrations.IsEmpty)
        {
            return new HandlerSite(declaration, method, registrations);
        }

        return null;
    }

    /// <summary>
    /// Where <paramref name="method"/> is passed as a method group to an <c>[EventLoopHandler]</c> parameter inside its
    /// own type (<c>_loop.Register(fd, IoEvents.Readable, OnReadable)</c>). Registrations in other types are not seen.
    /// </summary>
    public ImmutableArray<IArgumentOperation> MethodGroupRegistrations(Compilation compilation, IMethodSymbol method, CancellationToken cancellationToken)
    {
        var found = ImmutableArray.CreateBuilder<IArgumentOperation>();
        foreach (var reference in method.ContainingType.DeclaringSyntaxReferences)
        {
            var typeSyntax = reference.GetSyntax(cancellationToken);
            var model = compilation.GetSemanticModel(typeSyntax.SyntaxTree);
            foreach (var identifier in typeSyntax.DescendantNodes().OfType<IdentifierNameSyntax>())
            {
                if (identifier.Identifier.ValueText != method.Name)
                {
                    continue;
                }

                var expression = identifier.Parent is MemberAccessExpressionSyntax access && access.Name == identifier ? (SyntaxNode)access : identifier;
                if (model.GetOperation(expression, cancellationToken) is IMethodReferenceOperation methodReference
                    && SymbolEqualityComparer.Default.Equals(methodReference.Method.OriginalDefinition, method.OriginalDefinition)
                    && RegistrationOf(methodReference) is { } registration)
                {
                    found.Add(registration);
                }
            }
        }

        return found.ToImmutable();
    }

    /// <summary>
    /// True when <paramref name="node"/> is itself a handler handed to the loop: a lambda or method group passed to an
    /// <c>[EventLoopHandler]</c> parameter (<c>loop.Post(async () =&gt; …)</c>, <c>loop.Post(OnTick)</c>).
    /// </summary>
    public bool IsRegisteredHandler(SemanticModel model, SyntaxNode node, CancellationToken cancellationToken) =>
        model.GetOperation(node, cancellationToken) switch
        {
            IAnonymousFunctionOperation function => RegistrationOf(function) is not null,
            IMethodReferenceOperation reference => RegistrationOf(reference) is not null,
            IDelegateCreationOperation { Target: { } target } => RegistrationOf(target) is not null,
            _ => false,
        };

    /// <summary>The argument a lambda or method group is passed as, when its parameter takes handlers.</summary>
    private IArgumentOperation? RegistrationOf(IOperation function)
    {
        return OperationHelpers.PassedTo(function) is IArgumentOperation { Parameter: { } parameter } argument && _roots.IsHandlerParameter(parameter) ? argument : null;
    }
}

/// <summary>A handler: its function (lambda or method declaration) and the calls that register it, where known.</summary>
internal sealed class HandlerSite
{
    public HandlerSite(SyntaxNode function, IMethodSymbol? symbol, ImmutableArray<IArgumentOperation> registrations)
    {
        Function = function;
        Symbol = symbol;
        Registrations = registrations;
    }

    /// <summary>The lambda or the method (accessor, …) declaration.</summary>
    public SyntaxNode Function { get; }

    public IMethodSymbol? Symbol { get; }

    /// <summary>The arguments through which it is registered: one for a handler lambda; for a method, those in its type.</summary>
    public ImmutableArray<IArgumentOperation> Registrations { get; }
}
