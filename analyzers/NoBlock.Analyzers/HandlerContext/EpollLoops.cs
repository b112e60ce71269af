using System.Collections.Generic;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Blocking;
using NoBlock.Analyzers.Operations;

namespace NoBlock.Analyzers.HandlerContext;

/// <summary>
/// Finds hand-written epoll dispatch loops: the innermost loop statement around a wait on epoll (direct, through a
/// small wrapper, or a <c>foreach</c> over an iterator that waits), skipping <c>EINTR</c> retry loops. Everything
/// such a loop runs, but its own wait, is event-loop code. A "poll once" method — a wait outside any loop of its
/// own, called from a loop of its type — runs event-loop code after its wait.
/// </summary>
internal sealed class EpollLoops
{
    private readonly Compilation _compilation;
    private readonly BlockingApis _apis;
    private readonly CallGraph _graph;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<IMethodSymbol, bool> _calledInLoop = new(SymbolEqualityComparer.Default);

    private readonly HandlerWalker _walker;

    public EpollLoops(Compilation compilation, BlockingApis apis, CallGraph graph, HandlerWalker walker)
    {
        _compilation = compilation;
        _apis = apis;
        _graph = graph;
        _walker = walker;
    }

    /// <summary>True when the call is a loop's own wait: epoll_wait/epoll_pwait, a wrapper of it, or an epoll iterator.</summary>
    public bool IsWait(IInvocationOperation invocation, CancellationToken cancellationToken)
    {
        var method = invocation.TargetMethod;
        if (IsDirectEpollWait(method))
        {
            return true;
        }

        var definition = (method.PartialImplementationPart ?? method).OriginalDefinition;
        if (method.MethodKind != MethodKind.Ordinary || !_walker.HasBodyHere(definition))
        {
            return false;
        }

        return _graph.IsEpollWrapper(definition, cancellationToken) || _graph.IsEpollIterator(definition, cancellationToken);
    }

    public bool IsDirectEpollWait(IMethodSymbol method) => _apis.IsEpollWait(method);

    /// <summary>
    /// The dispatch loop a wait belongs to, or null when it sits in no loop of its function (a wrapper or a poll-once
    /// method). Retry loops (<c>EINTR</c>) and a <c>foreach</c> over the events of a single wait are not dispatch loops.
    /// </summary>
    public ILoopOperation? FindDispatchLoop(IInvocationOperation wait, CancellationToken cancellationToken)
    {
        IOperation child = wait;
        for (var parent = wait.Parent; parent is not null; child = parent, parent = parent.Parent)
        {
            switch (parent)
            {
                case IAnonymousFunctionOperation:
                case ILocalFunctionOperation:
                    return null;
                case IForEachLoopOperation forEach when child == forEach.Collection:
                    // foreach (var e in Events()) is a dispatch loop when Events() is an iterator that waits;
                    // foreach (var e in WaitOnce()) just walks the result of one wait.
                    if (IsIteratorWait(wait, cancellationToken))
                    {
                        return forEach;
                    }

                    continue;
                case ILoopOperation loop:
                    if (RetryLoops.IsRetryLoop(loop, IsDirectEpollWait))
                    {
                        continue;
                    }

                    return loop;
            }
        }

        return null;
    }

    private bool IsIteratorWait(IInvocationOperation wait, CancellationToken cancellationToken)
    {
        var method = (wait.TargetMethod.PartialImplementationPart ?? wait.TargetMethod).OriginalDefinition;
        return _walker.HasBodyHere(method) && _graph.IsEpollIterator(method, cancellationToken);
    }

    /// <summary>Is the method called from inside a loop statement of a method of its own type? (Poll-once methods.)</summary>
    public bool IsCalledInLoopWithinType(IMethodSymbol method, CancellationToken cancellationToken)
        => _calledInLoop.GetOrAdd(method, m => ComputeCalledInLoop(m, cancellationToken));

    private bool ComputeCalledInLoop(IMethodSymbol method, CancellationToken cancellationToken)
    {
        var type = method.ContainingType;
        if (type is null)
        {
            return false;
        }

        foreach (var reference in type.DeclaringSyntaxReferences)
        {
            if (!_compilation.ContainsSyntaxTree(reference.SyntaxTree))
            {
                continue;
            }

            var declaration = reference.GetSyntax(cancellationToken);
            SemanticModel? model = null;
            foreach (var node in declaration.DescendantNodes())
            {
                if (node is not InvocationExpressionSyntax invocation || !NamesMethod(invocation.Expression, method.Name) || !InLoop(invocation))
                {
                    continue;
                }

                model ??= OtherDocuments.ModelFor(_compilation, reference.SyntaxTree)!; // only for the rare poll-once candidates
                if (model.GetSymbolInfo(invocation, cancellationToken).Symbol is IMethodSymbol target
                    && SymbolEqualityComparer.Default.Equals(target.OriginalDefinition, method.OriginalDefinition))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool NamesMethod(ExpressionSyntax expression, string name) => expression switch
    {
        IdentifierNameSyntax identifier => identifier.Identifier.ValueText == name,
        MemberAccessExpressionSyntax member => member.Name.Identifier.ValueText == name,
        _ => false,
    };

    private static bool InLoop(SyntaxNode node)
    {
        for (var current = node.Parent; current is not null; current = current.Parent)
        {
            switch (current)
            {
                case WhileStatementSyntax:
                case DoStatementSyntax:
                case ForStatementSyntax:
                case CommonForEachStatementSyntax:
                    return true;
                case AnonymousFunctionExpressionSyntax:
                case LocalFunctionStatementSyntax:
                case MemberDeclarationSyntax:
                    return false;
            }
        }

        return false;
    }

    /// <summary>The statement that holds a wait, as a direct child of a block (to find "the code after the wait").</summary>
    public static IOperation StatementOf(IOperation operation)
    {
        var current = operation;
        while (current.Parent is not null and not IBlockOperation)
        {
            current = current.Parent;
        }

        return current;
    }
}
