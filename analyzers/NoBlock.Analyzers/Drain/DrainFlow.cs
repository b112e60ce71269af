// Decides whether one read/recv/accept on an edge-triggered fd drains it (the DrainVerdict), and owns the
// control-flow graphs it walks: one graph per function, indexed by call syntax. The parts of the decision
// live beside it: DrainWalk (the walk over the graph), DrainPathState (what a path knows), SuccessAssumption
// (how a branch goes when the call succeeded), DrainDominance (what every path passes), DrainOwnLoop (a loop
// that is about this fd).

using System.Collections.Generic;
using System.Collections.Immutable;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Drain;

/// <summary>What the control-flow graph says about one read or accept on an edge-triggered fd.</summary>
internal enum DrainVerdict
{
    /// <summary>After a successful call, every path reaches the same call on the same fd again (or we cannot tell).</summary>
    Drains,

    /// <summary>The call is not in any loop of its own: one call per readiness event.</summary>
    CallsOnce,

    /// <summary>The call is in a loop, but a successful call can leave it (break/return after success).</summary>
    LeavesAfterSuccess,
}

/// <summary>
/// Decides, on Roslyn's <see cref="ControlFlowGraph"/>, whether a read/recv/accept drains its fd: walking
/// forward from the call under the assumption that it succeeded (a full read, a valid fd, errno not EAGAIN),
/// branches on the result or on errno are decided, the others are followed both ways. A path "leaves" when it
/// reaches the end of the function, an <c>epoll_wait</c>, or the same call with a different fd (the next
/// event's). The call drains when some path comes back to a call on the same fd, and no path whose every
/// branch was decided leaves (a leave behind an undecided branch, such as <c>if (closed) break;</c>, is the
/// program's own business — precision first).
/// </summary>
internal sealed partial class DrainFlow
{
    /// <summary>Bounds the walk; a graph that needs more states is not judged (silent).</summary>
    private const int MaxStates = 4096;

    private readonly EdgeTriggeredCalls _calls;
    private readonly CancellationToken _cancellationToken;
    private readonly Dictionary<IOperation, Dictionary<SyntaxNode, (ControlFlowGraph Graph, BasicBlock Block, int Index)>?> _indexes = new();

    public DrainFlow(EdgeTriggeredCalls calls, CancellationToken cancellationToken)
    {
        _calls = calls;
        _cancellationToken = cancellationToken;
    }

    public DrainVerdict Analyze(IOperation root, IInvocationOperation call, LibcCallKind kind, DrainScope scope)
    {
        var index = IndexOf(root);
        if (index is null || !index.TryGetValue(call.Syntax, out var position))
        {
            return DrainVerdict.Drains;
        }

        var walk = new Walk(this, call, kind, scope);
        walk.Run(position.Block, position.Index);
        if (walk.GaveUp)
        {
            return DrainVerdict.Drains;
        }

        if (!walk.FoundCleanCycle)
        {
            if (!walk.FoundLeave)
            {
                return DrainVerdict.Drains;
            }

            return HasOwnLoop(call, kind, scope) ? DrainVerdict.LeavesAfterSuccess : DrainVerdict.CallsOnce;
        }

        return walk.FoundDecidedLeave ? DrainVerdict.LeavesAfterSuccess : DrainVerdict.Drains;
    }

    /// <summary>The locals and parameters an fd expression depends on (<c>fd</c>; <c>events</c>, <c>i</c> in <c>events[i].data.fd</c>).</summary>
    internal static ImmutableHashSet<ISymbol> ReferencedSymbols(IOperation? operation)
    {
        var builder = ImmutableHashSet.CreateBuilder<ISymbol>(SymbolEqualityComparer.Default);
        if (operation is not null)
        {
            foreach (var node in operation.DescendantsAndSelf())
            {
                switch (node)
                {
                    case ILocalReferenceOperation local:
                        builder.Add(local.Local);
                        break;
                    case IParameterReferenceOperation parameter:
                        builder.Add(parameter.Parameter);
                        break;
                }
            }
        }

        return builder.ToImmutable();
    }

    private Dictionary<SyntaxNode, (ControlFlowGraph Graph, BasicBlock Block, int Index)>? IndexOf(IOperation root)
    {
        if (_indexes.TryGetValue(root, out var cached))
        {
            return cached;
        }

        ControlFlowGraph? graph = root switch
        {
            IMethodBodyOperation body => ControlFlowGraph.Create(body, _cancellationToken),
            IConstructorBodyOperation body => ControlFlowGraph.Create(body, _cancellationToken),
            IBlockOperation block => ControlFlowGraph.Create(block, _cancellationToken),
            IFieldInitializerOperation initializer => ControlFlowGraph.Create(initializer, _cancellationToken),
            IPropertyInitializerOperation initializer => ControlFlowGraph.Create(initializer, _cancellationToken),
            _ => null,
        };

        Dictionary<SyntaxNode, (ControlFlowGraph, BasicBlock, int)>? index = null;
        if (graph is not null)
        {
            index = new Dictionary<SyntaxNode, (ControlFlowGraph, BasicBlock, int)>();
            AddToIndex(graph, index);
        }

        _indexes[root] = index;
        return index;
    }

    private void AddToIndex(ControlFlowGraph graph, Dictionary<SyntaxNode, (ControlFlowGraph, BasicBlock, int)> index)
    {
        foreach (var block in graph.Blocks)
        {
            for (var i = -1; i < block.Operations.Length; i++)
            {
                var operation = i < 0 ? block.BranchValue : block.Operations[i];
                if (operation is null)
                {
                    continue;
                }

                foreach (var node in operation.DescendantsAndSelf())
                {
                    switch (node)
                    {
                        case IInvocationOperation invocation:
                            index[invocation.Syntax] = (graph, block, i);
                            break;
                        case IFlowAnonymousFunctionOperation lambda:
                            AddToIndex(graph.GetAnonymousFunctionControlFlowGraph(lambda, _cancellationToken), index);
                            break;
                    }
                }
            }
        }

        foreach (var localFunction in graph.LocalFunctions)
        {
            AddToIndex(graph.GetLocalFunctionControlFlowGraph(localFunction, _cancellationToken), index);
        }
    }
}
