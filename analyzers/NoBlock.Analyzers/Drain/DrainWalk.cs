// Decides the three facts the verdict is made of (a clean cycle back to the same call on the same fd, a
// leave, a leave on a path whose every branch was decided) by walking the control-flow graph forward from
// the call, one path state per block, bounded by MaxStates. A wait, a poll-once call, a moved cursor or a
// changed fd is a leave; the same call on the same fd, or an EPOLL_CTL_MOD re-arm of it, closes the cycle.

using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Drain;

internal sealed partial class DrainFlow
{
    private enum Step
    {
        Continue,
        CleanCycle,
        Leave,
    }

    private sealed partial class Walk
    {
        private readonly DrainFlow _owner;
        private readonly DrainScope _scope;
        private readonly IInvocationOperation _call;
        private readonly LibcCallKind _kind;
        private readonly SyntaxNode? _fdSyntax;
        private readonly SyntaxNode? _countSyntax;
        private readonly ImmutableHashSet<ISymbol> _fdSymbols;

        /// <summary>The locals whose changes matter: the fd's, and what they are computed from (keeps the walk small).</summary>
        private readonly ImmutableHashSet<ISymbol> _tracked;
        private readonly long _low;
        private readonly long _high;
        private readonly HashSet<string> _visited = new(StringComparer.Ordinal);
        private readonly Stack<(BasicBlock Block, int From, PathState State)> _work = new();

        public Walk(DrainFlow owner, IInvocationOperation call, LibcCallKind kind, DrainScope scope)
        {
            _owner = owner;
            _scope = scope;
            _call = call;
            _kind = kind;
            var fd = EdgeTriggeredCalls.FdArgument(call, kind);
            _fdSyntax = fd?.Syntax;
            _fdSymbols = ReferencedSymbols(fd);
            _tracked = TrackedSymbols(call, _fdSymbols.Union(scope.Cursors));
            var count = kind == LibcCallKind.Read ? EdgeTriggeredCalls.CountArgument(call) : null;
            _countSyntax = count?.Syntax;

            // The success assumption: a full read (the whole count, when it is a constant), or a valid fd.
            if (kind == LibcCallKind.Accept)
            {
                (_low, _high) = (0, long.MaxValue);
            }
            else if (count?.ConstantValue is { HasValue: true, Value: { } countValue } && ToLong(countValue) is > 0 and var full)
            {
                (_low, _high) = (full, full);
            }
            else
            {
                (_low, _high) = (1, long.MaxValue);
            }
        }

        public bool FoundCleanCycle { get; private set; }

        public bool FoundLeave { get; private set; }

        public bool FoundDecidedLeave { get; private set; }

        public bool GaveUp { get; private set; }

        public void Run(BasicBlock start, int index)
        {
            var state = new PathState();
            if (index >= 0)
            {
                if (Writes(start.Operations[index], state) is var first && first != Step.Continue)
                {
                    Record(first, state);
                    return;
                }

                Visit(start, index + 1, state, branchDone: false);
            }
            else
            {
                Writes(start.BranchValue!, state);
                Visit(start, start.Operations.Length, state, branchDone: true);
            }

            while (_work.Count > 0)
            {
                _owner._cancellationToken.ThrowIfCancellationRequested();
                if (_visited.Count > MaxStates)
                {
                    GaveUp = true;
                    return;
                }

                var (block, from, next) = _work.Pop();
                Visit(block, from, next, branchDone: false);
            }
        }

        private void Enqueue(BasicBlock block, PathState state)
        {
            if (_visited.Add(state.Key(block)))
            {
                _work.Push((block, 0, state));
            }
        }

        private void Record(Step step, PathState state)
        {
            if (step == Step.CleanCycle)
            {
                FoundCleanCycle = true;
            }
            else if (step == Step.Leave)
            {
                FoundLeave = true;
                FoundDecidedLeave |= state.Decided;
            }
        }

        private void Visit(BasicBlock block, int from, PathState state, bool branchDone)
        {
            if (block.Kind == BasicBlockKind.Exit)
            {
                Record(Step.Leave, state);
                return;
            }

            for (var i = from; i < block.Operations.Length; i++)
            {
                var step = Process(block.Operations[i], state);
                if (step != Step.Continue)
                {
                    Record(step, state);
                    return;
                }
            }

            if (block.BranchValue is { } branchValue && !branchDone)
            {
                var step = Process(branchValue, state);
                if (step != Step.Continue)
                {
                    Record(step, state);
                    return;
                }
            }

            if (block.ConditionKind == ControlFlowConditionKind.None)
            {
                Follow(block.FallThroughSuccessor, state);
                return;
            }

            var value = Evaluate(block.BranchValue!, state);
            var whenTrue = block.ConditionKind == ControlFlowConditionKind.WhenTrue;
            if (value is null)
            {
                var undecided = state.Clone();
                undecided.Decided = false;
                Follow(block.ConditionalSuccessor, undecided);
                Follow(block.FallThroughSuccessor, undecided.Clone());
            }
            else if (value.Value == whenTrue)
            {
                Follow(block.ConditionalSuccessor, state);
            }
            else
            {
                Follow(block.FallThroughSuccessor, state);
            }
        }

        private void Follow(ControlFlowBranch? branch, PathState state)
        {
            if (branch?.Destination is { } destination)
            {
                Enqueue(destination, state);
            }

            // No destination: a throw, the end of a finally/catch, program termination. Not a leave we judge.
        }

        private Step Process(IOperation operation, PathState state)
        {
            foreach (var node in operation.DescendantsAndSelf())
            {
                if (node is not IInvocationOperation invocation)
                {
                    continue;
                }

                var kind = _owner._calls.Classify(invocation);
                if (kind == LibcCallKind.Wait || _scope.IsWaitWrapper(invocation.TargetMethod))
                {
                    return Step.Leave;
                }

                if (IsRearm(invocation, kind))
                {
                    // EPOLL_CTL_MOD on this fd (Registration.Modify) re-checks readiness: data left behind raises a new event.
                    return Step.CleanCycle;
                }

                if (kind == _kind && SameFdExpression(invocation))
                {
                    foreach (var symbol in _fdSymbols)
                    {
                        if (state.Dirty.Contains(symbol))
                        {
                            return Step.Leave;
                        }
                    }

                    return Step.CleanCycle;
                }
            }

            return Writes(operation, state);
        }

        private bool SameFdExpression(IInvocationOperation invocation, LibcCallKind? kind = null)
        {
            var fd = EdgeTriggeredCalls.FdArgument(invocation, kind ?? _kind);
            return fd is not null && _fdSyntax is not null && SyntaxFactory.AreEquivalent(fd.Syntax, _fdSyntax);
        }

        private bool IsRearm(IInvocationOperation invocation, LibcCallKind kind)
        {
            if (kind == LibcCallKind.EpollCtl)
            {
                return EpollFlags.IsModOperation(EdgeTriggeredCalls.Argument(invocation, 1)) && SameFdExpression(invocation, LibcCallKind.EpollCtl);
            }

            var method = invocation.TargetMethod;
            return method.Name == "Modify" && method.ContainingType?.ToDisplayString() == "NoBlock.Registration";
        }
    }
}
