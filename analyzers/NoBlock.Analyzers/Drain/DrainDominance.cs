// Decides dominance on the control-flow graph: every path from the entry to a call first passes one of some
// other calls ("this read runs after the fd was drained"), and every path to the exit passes a call ("this
// method drains the fd it is given"). Constant conditions (while (true)) go one way only.

using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;

namespace NoBlock.Analyzers.Drain;

internal sealed partial class DrainFlow
{
    /// <summary>
    /// True when every path from the function's entry to <paramref name="target"/> (a call) first passes one of
    /// <paramref name="dominators"/> (calls in the same function): used for "this read runs after the fd was drained".
    /// </summary>
    public bool IsDominatedBy(IOperation root, SyntaxNode target, IEnumerable<SyntaxNode> dominators)
    {
        var index = IndexOf(root);
        if (index is null || !index.TryGetValue(target, out var t) || !Reachable(t.Graph, t.Block, avoid: null))
        {
            return false;
        }

        foreach (var dominator in dominators)
        {
            if (!index.TryGetValue(dominator, out var d) || d.Graph != t.Graph)
            {
                continue;
            }

            if (d.Block == t.Block)
            {
                // Within a block the branch value (-1) is evaluated last.
                if ((d.Index < 0 ? int.MaxValue : d.Index) < (t.Index < 0 ? int.MaxValue : t.Index))
                {
                    return true;
                }

                continue;
            }

            if (!Reachable(t.Graph, t.Block, avoid: d.Block))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when every path from the function's entry to its exit passes <paramref name="call"/>.</summary>
    public bool DominatesExit(IOperation root, SyntaxNode call)
    {
        var index = IndexOf(root);
        if (index is null || !index.TryGetValue(call, out var position))
        {
            return false;
        }

        var exit = position.Graph.Blocks[position.Graph.Blocks.Length - 1];
        return Reachable(position.Graph, position.Block, avoid: null) && !Reachable(position.Graph, exit, avoid: position.Block);
    }

    private static bool Reachable(ControlFlowGraph graph, BasicBlock target, BasicBlock? avoid)
    {
        var seen = new HashSet<BasicBlock>();
        var work = new Stack<BasicBlock>();
        work.Push(graph.Blocks[0]);
        while (work.Count > 0)
        {
            var block = work.Pop();
            if (block == avoid || !seen.Add(block))
            {
                continue;
            }

            if (block == target)
            {
                return true;
            }

            // A constant condition (while (true)) goes one way only; the graph keeps both edges.
            var constant = block.ConditionKind != ControlFlowConditionKind.None && block.BranchValue?.ConstantValue is { HasValue: true, Value: bool value }
                ? value == (block.ConditionKind == ControlFlowConditionKind.WhenTrue)
                : (bool?)null;

            if (constant != true && block.FallThroughSuccessor?.Destination is { } next)
            {
                work.Push(next);
            }

            if (constant != false && block.ConditionalSuccessor?.Destination is { } conditional)
            {
                work.Push(conditional);
            }
        }

        return false;
    }
}
