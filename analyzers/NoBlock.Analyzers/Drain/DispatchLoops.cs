// Decides, for raw epoll, whether a type is edge-triggered only (every epoll_ctl ADD/MOD sets EPOLLET and not
// EPOLLONESHOT), where its dispatch loops are (the outermost loop around each wait, or the callers' loops of a
// poll-once method), and what ends an event there (the DrainScope: events cursors and poll-once methods).

using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Drain;

internal sealed partial class EdgeTriggeredTypeAnalysis
{
    private bool AllRegistrationsEdgeTriggered(List<IInvocationOperation> epollCtls)
    {
        var any = false;
        foreach (var epollCtl in epollCtls)
        {
            var op = _flags.Evaluate(EdgeTriggeredCalls.Argument(epollCtl, 1));
            if (op.Must == op.May && op.Must == EpollFlags.EPOLL_CTL_DEL)
            {
                continue;
            }

            if (EdgeTriggeredCalls.Argument(epollCtl, 3) is not { } eventArgument)
            {
                return false;
            }

            var events = _flags.EvaluateEpollEventArgument(eventArgument);
            if (events.Has(EpollFlags.EPOLLET) != Tri.Yes || events.Has(EpollFlags.EPOLLONESHOT) != Tri.No)
            {
                // Level-triggered, one-shot (re-armed with EPOLL_CTL_MOD) or unknown: fds we cannot tell apart.
                return false;
            }

            any = true;
        }

        return any;
    }

    private void CheckDispatchLoops(List<IInvocationOperation> waits, List<IInvocationOperation> epollCtls)
    {
        var regions = new List<IOperation>();
        var pollOnceMethods = new List<IMethodSymbol>();
        foreach (var wait in waits)
        {
            if (OutermostLoop(wait) is { } loop)
            {
                regions.Add(loop);
            }
            else if (OwnerOf(wait) is { } method && method.MethodKind == MethodKind.Ordinary)
            {
                // "Poll once": the wait is not in a loop here, the loop is the caller's.
                regions.Add(TopOf(wait));
                pollOnceMethods.Add(method.OriginalDefinition);
            }
        }

        foreach (var method in pollOnceMethods)
        {
            foreach (var call in _type.CallsTo(method))
            {
                if (OutermostLoop(call) is { } loop)
                {
                    regions.Add(loop);
                }
            }
        }

        var scope = BuildScope(waits, pollOnceMethods, out var buffers);

        // Where event fds come from in a dispatch loop: the events buffer and its cursors, and the fields the type
        // registers with epoll_ctl (a listening socket kept in _listenFd).
        var sources = ImmutableHashSet.CreateBuilder<ISymbol>(SymbolEqualityComparer.Default);
        sources.UnionWith(buffers);
        sources.UnionWith(scope.Cursors);
        foreach (var epollCtl in epollCtls)
        {
            switch (SymbolOf(EdgeTriggeredCalls.FdArgument(epollCtl, LibcCallKind.EpollCtl)))
            {
                case IFieldSymbol field:
                    sources.Add(field);
                    break;
                case IParameterSymbol { ContainingSymbol: IMethodSymbol add } parameter:
                    // An Add(int fd) helper: the fields its callers pass.
                    foreach (var call in _type.CallsTo(add))
                    {
                        if (SymbolOf(EdgeTriggeredCalls.Argument(call, parameter.Ordinal)) is IFieldSymbol passed)
                        {
                            sources.Add(passed);
                        }
                    }

                    break;
            }
        }

        // if (events[i].data.fd == _listenFd): a field compared with the event's fd holds a registered fd.
        var fromBuffer = sources.ToImmutable();
        foreach (var (_, root) in _type.Roots)
        {
            foreach (var node in root.Descendants())
            {
                if (node is IBinaryOperation { OperatorKind: BinaryOperatorKind.Equals } comparison)
                {
                    if (SymbolOf(comparison.RightOperand) is IFieldSymbol right && IsFromEvent(comparison.LeftOperand, fromBuffer, 0))
                    {
                        sources.Add(right);
                    }
                    else if (SymbolOf(comparison.LeftOperand) is IFieldSymbol left && IsFromEvent(comparison.RightOperand, fromBuffer, 0))
                    {
                        sources.Add(left);
                    }
                }
            }
        }

        var eventSources = sources.ToImmutable();
        foreach (var region in regions)
        {
            _cancellationToken.ThrowIfCancellationRequested();
            CheckCode(region, eventSources, scope, 0, CallContext.Handler, new HashSet<IMethodSymbol>(SymbolEqualityComparer.Default));
        }
    }

    /// <summary>
    /// The events cursors of the type (locals indexing the buffer epoll_wait fills, foreach variables over it) and
    /// its poll-once methods: moving a cursor on or calling such a method means this event is done.
    /// </summary>
    private DrainScope BuildScope(List<IInvocationOperation> waits, List<IMethodSymbol> pollOnceMethods, out HashSet<ISymbol> buffers)
    {
        buffers = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        foreach (var wait in waits)
        {
            foreach (var symbol in SymbolsIn(EdgeTriggeredCalls.Argument(wait, 1)))
            {
                buffers.Add(symbol);
                if (symbol is ILocalSymbol)
                {
                    foreach (var write in _type.WritesTo(symbol))
                    {
                        if (write is IVariableDeclaratorOperation { Initializer.Value: { } initializer })
                        {
                            buffers.UnionWith(SymbolsIn(initializer));
                        }
                    }
                }
            }
        }

        var cursors = ImmutableHashSet.CreateBuilder<ISymbol>(SymbolEqualityComparer.Default);
        foreach (var (_, root) in _type.Roots)
        {
            foreach (var node in root.Descendants())
            {
                if (node is IForEachLoopOperation forEach && SymbolsIn(forEach.Collection).Any(buffers.Contains))
                {
                    // foreach (var ev in events), foreach (ref var ev in events.AsSpan(0, n))
                    cursors.UnionWith(forEach.Locals);
                    continue;
                }

                if (node.Syntax is not Microsoft.CodeAnalysis.CSharp.Syntax.ElementAccessExpressionSyntax access || node is IArgumentOperation)
                {
                    continue;
                }

                var indexesBuffer = false;
                var indexLocals = new List<ISymbol>();
                foreach (var part in node.DescendantsAndSelf())
                {
                    if (part is not (ILocalReferenceOperation or IFieldReferenceOperation or IParameterReferenceOperation) || SymbolOf(part) is not { } symbol)
                    {
                        continue;
                    }

                    if (access.Expression.Span.Contains(part.Syntax.Span))
                    {
                        indexesBuffer |= buffers.Contains(symbol);
                    }
                    else if (access.ArgumentList.Span.Contains(part.Syntax.Span) && symbol is ILocalSymbol)
                    {
                        indexLocals.Add(symbol);
                    }
                }

                if (indexesBuffer)
                {
                    cursors.UnionWith(indexLocals);
                }
            }
        }

        var wrappers = ImmutableHashSet.CreateRange<IMethodSymbol>(SymbolEqualityComparer.Default, pollOnceMethods);
        return new DrainScope(cursors.ToImmutable(), wrappers);
    }

    /// <summary>The outermost loop around an operation in its own function (an EINTR retry loop sits inside the dispatch loop).</summary>
    private static ILoopOperation? OutermostLoop(IOperation operation)
    {
        ILoopOperation? outermost = null;
        for (var current = operation.Parent; current is not null; current = current.Parent)
        {
            if (current is IAnonymousFunctionOperation or ILocalFunctionOperation)
            {
                break;
            }

            if (current is ILoopOperation loop)
            {
                outermost = loop;
            }
        }

        return outermost;
    }

    private IMethodSymbol? OwnerOf(IOperation operation)
    {
        var top = TopOf(operation);
        foreach (var (owner, root) in _type.Roots)
        {
            if (root == top)
            {
                return owner as IMethodSymbol;
            }
        }

        return null;
    }

    private static IOperation TopOf(IOperation operation)
    {
        while (operation.Parent is not null)
        {
            operation = operation.Parent;
        }

        return operation;
    }
}
