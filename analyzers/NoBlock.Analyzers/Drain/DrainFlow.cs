using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Text;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Drain;

/// <summary>
/// What, besides <c>epoll_wait</c> itself, means "this event is done" in the code around a call: moving an
/// events cursor on (the <c>i</c> of <c>events[i]</c>, a <c>foreach</c> over the events buffer), or calling a
/// small method of the type that waits ("poll once").
/// </summary>
internal sealed class DrainScope
{
    public static readonly DrainScope Empty = new(ImmutableHashSet.Create<ISymbol>(SymbolEqualityComparer.Default), ImmutableHashSet.Create<IMethodSymbol>(SymbolEqualityComparer.Default));

    public DrainScope(ImmutableHashSet<ISymbol> cursors, ImmutableHashSet<IMethodSymbol> waitWrappers)
    {
        Cursors = cursors;
        WaitWrappers = waitWrappers;
    }

    public ImmutableHashSet<ISymbol> Cursors { get; }

    public ImmutableHashSet<IMethodSymbol> WaitWrappers { get; }

    public bool IsWaitWrapper(IMethodSymbol method) => WaitWrappers.Contains(method.OriginalDefinition);
}

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
internal sealed class DrainFlow
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

    /// <summary>
    /// True when the call sits in a loop that is about this fd: a loop that neither waits for events nor moves
    /// the fd on (a <c>for</c> over the events array declares <c>i</c>, a <c>foreach</c> declares the event).
    /// </summary>
    private bool HasOwnLoop(IInvocationOperation call, LibcCallKind kind, DrainScope scope)
    {
        var fdSymbols = ReferencedSymbols(EdgeTriggeredCalls.FdArgument(call, kind)).Union(scope.Cursors);
        for (var current = call.Parent; current is not null; current = current.Parent)
        {
            if (current is IAnonymousFunctionOperation or ILocalFunctionOperation)
            {
                return false;
            }

            if (current is not ILoopOperation loop)
            {
                continue;
            }

            var ownsFd = true;
            foreach (var local in loop.Locals)
            {
                if (fdSymbols.Contains(local))
                {
                    ownsFd = false;
                }
            }

            foreach (var descendant in loop.Descendants())
            {
                if (!ownsFd)
                {
                    break;
                }

                switch (descendant)
                {
                    case IInvocationOperation invocation when _calls.Classify(invocation) == LibcCallKind.Wait || scope.IsWaitWrapper(invocation.TargetMethod):
                        ownsFd = false;
                        break;
                    case IAssignmentOperation assignment when IsAny(assignment.Target, fdSymbols):
                    case IIncrementOrDecrementOperation increment when IsAny(increment.Target, fdSymbols):
                        ownsFd = false;
                        break;
                    case IVariableDeclaratorOperation declarator when fdSymbols.Contains(declarator.Symbol):
                        ownsFd = false;
                        break;
                }
            }

            if (ownsFd)
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsAny(IOperation target, ImmutableHashSet<ISymbol> symbols) => target switch
    {
        ILocalReferenceOperation local => symbols.Contains(local.Local),
        IParameterReferenceOperation parameter => symbols.Contains(parameter.Parameter),
        _ => false,
    };

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

    /// <summary>A value as the success assumption sees it.</summary>
    private enum ValueKind
    {
        Unknown,
        Result,
        Errno,
        Count,
        Constant,
    }

    private sealed class PathState
    {
        public ImmutableHashSet<ISymbol> Results = ImmutableHashSet.Create<ISymbol>(SymbolEqualityComparer.Default);
        public ImmutableHashSet<ISymbol> Errnos = ImmutableHashSet.Create<ISymbol>(SymbolEqualityComparer.Default);
        public ImmutableHashSet<ISymbol> Dirty = ImmutableHashSet.Create<ISymbol>(SymbolEqualityComparer.Default);
        public ImmutableHashSet<CaptureId> ResultCaptures = ImmutableHashSet<CaptureId>.Empty;
        public ImmutableHashSet<CaptureId> ErrnoCaptures = ImmutableHashSet<CaptureId>.Empty;
        public bool Decided = true;

        public PathState Clone() => (PathState)MemberwiseClone();

        public string Key(BasicBlock block)
        {
            var key = new StringBuilder().Append(block.Ordinal).Append(Decided ? 'd' : 'u');
            Append(key, 'r', Results);
            Append(key, 'e', Errnos);
            Append(key, 'x', Dirty);
            key.Append('c').Append(ResultCaptures.Count).Append(ErrnoCaptures.Count);
            return key.ToString();
        }

        private static void Append(StringBuilder key, char tag, ImmutableHashSet<ISymbol> symbols)
        {
            var names = new List<string>();
            foreach (var symbol in symbols)
            {
                names.Add(symbol.Name + "@" + (symbol.Locations.Length > 0 ? symbol.Locations[0].SourceSpan.Start : -1));
            }

            names.Sort(StringComparer.Ordinal);
            key.Append(tag).Append(string.Join(",", names));
        }
    }

    private enum Step
    {
        Continue,
        CleanCycle,
        Leave,
    }

    private sealed class Walk
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

        private Step Writes(IOperation operation, PathState state)
        {
            var step = Step.Continue;
            foreach (var node in operation.DescendantsAndSelf())
            {
                switch (node)
                {
                    case IFlowCaptureOperation capture:
                        if (IsResult(capture.Value, state))
                        {
                            state.ResultCaptures = state.ResultCaptures.Add(capture.Id);
                        }
                        else if (IsErrno(capture.Value, state))
                        {
                            state.ErrnoCaptures = state.ErrnoCaptures.Add(capture.Id);
                        }

                        break;
                    case ISimpleAssignmentOperation assignment when Written(assignment.Target) is { } symbol:
                        state.Results = IsResult(assignment.Value, state) ? state.Results.Add(symbol) : state.Results.Remove(symbol);
                        state.Errnos = IsErrno(assignment.Value, state) ? state.Errnos.Add(symbol) : state.Errnos.Remove(symbol);
                        if (_tracked.Contains(symbol))
                        {
                            state.Dirty = IsStable(assignment.Value, state) ? state.Dirty.Remove(symbol) : state.Dirty.Add(symbol);
                        }

                        step = _scope.Cursors.Contains(symbol) ? Step.Leave : step;
                        break;
                    case ICompoundAssignmentOperation compound when Written(compound.Target) is { } symbol:
                        step = Clobber(symbol, state, step);
                        break;
                    case IIncrementOrDecrementOperation increment when Written(increment.Target) is { } symbol:
                        step = Clobber(symbol, state, step);
                        break;
                    case IArgumentOperation { Parameter.RefKind: RefKind.Ref or RefKind.Out } argument when Written(argument.Value) is { } symbol:
                        step = Clobber(symbol, state, step);
                        break;
                    case IDeconstructionAssignmentOperation deconstruction:
                        foreach (var target in deconstruction.Target.DescendantsAndSelf())
                        {
                            if (Written(target) is { } symbol)
                            {
                                step = Clobber(symbol, state, step);
                            }
                        }

                        break;
                }
            }

            return step;
        }

        /// <summary>The symbol changes in a way we do not follow; moving an events cursor on means the next event.</summary>
        private Step Clobber(ISymbol symbol, PathState state, Step step)
        {
            state.Results = state.Results.Remove(symbol);
            state.Errnos = state.Errnos.Remove(symbol);
            if (_tracked.Contains(symbol))
            {
                state.Dirty = state.Dirty.Add(symbol);
            }

            return _scope.Cursors.Contains(symbol) ? Step.Leave : step;
        }

        /// <summary>
        /// The fd's locals and, to a fixpoint, the locals and parameters assigned to them in the function
        /// (<c>fd = events[i].data.fd</c> makes <c>i</c> matter).
        /// </summary>
        private static ImmutableHashSet<ISymbol> TrackedSymbols(IOperation call, ImmutableHashSet<ISymbol> seed)
        {
            var root = call;
            while (root.Parent is not null)
            {
                root = root.Parent;
            }

            var assignments = new List<(ISymbol Target, IOperation Value)>();
            foreach (var node in root.Descendants())
            {
                switch (node)
                {
                    case IVariableDeclaratorOperation { Initializer.Value: { } initializer } declarator:
                        assignments.Add((declarator.Symbol, initializer));
                        break;
                    case IAssignmentOperation assignment when Written(assignment.Target) is { } target:
                        assignments.Add((target, assignment.Value));
                        break;
                }
            }

            var tracked = seed.ToBuilder();
            var changed = true;
            while (changed)
            {
                changed = false;
                foreach (var (target, value) in assignments)
                {
                    if (!tracked.Contains(target))
                    {
                        continue;
                    }

                    foreach (var symbol in ReferencedSymbols(value))
                    {
                        changed |= tracked.Add(symbol);
                    }
                }
            }

            return tracked.ToImmutable();
        }

        private static ISymbol? Written(IOperation target) => target switch
        {
            ILocalReferenceOperation local => local.Local,
            IParameterReferenceOperation parameter => parameter.Parameter,
            _ => null,
        };

        /// <summary>
        /// True when re-evaluating the value gives what it gave before: constants, fields, parameters and locals
        /// not changed on this path. An invocation, an enumerator's <c>Current</c>, or an index moved on is not.
        /// </summary>
        private bool IsStable(IOperation value, PathState state)
        {
            switch (value)
            {
                case { ConstantValue.HasValue: true }:
                case IInstanceReferenceOperation:
                    return true;
                case IConversionOperation conversion:
                    return IsStable(conversion.Operand, state);
                case ILocalReferenceOperation local:
                    return !state.Dirty.Contains(local.Local) && !state.Results.Contains(local.Local);
                case IParameterReferenceOperation parameter:
                    return !state.Dirty.Contains(parameter.Parameter);
                case IFieldReferenceOperation field:
                    return field.Instance is null || IsStable(field.Instance, state);
                case IPropertyReferenceOperation property:
                    if (property.Property.Name == "Current" || (property.Instance is { } instance && !IsStable(instance, state)))
                    {
                        return false;
                    }

                    foreach (var argument in property.Arguments)
                    {
                        if (!IsStable(argument.Value, state))
                        {
                            return false;
                        }
                    }

                    return true;
                case IArrayElementReferenceOperation element:
                    if (!IsStable(element.ArrayReference, state))
                    {
                        return false;
                    }

                    foreach (var index in element.Indices)
                    {
                        if (!IsStable(index, state))
                        {
                            return false;
                        }
                    }

                    return true;
                case IBinaryOperation binary:
                    return IsStable(binary.LeftOperand, state) && IsStable(binary.RightOperand, state);
                default:
                    return false;
            }
        }

        private bool IsResult(IOperation value, PathState state)
        {
            value = FlagEvaluator.Strip(value);
            return value switch
            {
                IInvocationOperation invocation => invocation.Syntax == _call.Syntax,
                ISimpleAssignmentOperation assignment => IsResult(assignment.Value, state),
                ILocalReferenceOperation local => state.Results.Contains(local.Local),
                IFlowCaptureReferenceOperation capture => state.ResultCaptures.Contains(capture.Id),
                _ => false,
            };
        }

        private static bool IsErrno(IOperation value, PathState state)
        {
            value = FlagEvaluator.Strip(value);
            switch (value)
            {
                case ISimpleAssignmentOperation assignment:
                    return IsErrno(assignment.Value, state);
                case ILocalReferenceOperation local:
                    return state.Errnos.Contains(local.Local);
                case IFlowCaptureReferenceOperation capture:
                    return state.ErrnoCaptures.Contains(capture.Id);
                case IPropertyReferenceOperation property:
                    return property.Property.Name == "errno";
                case IFieldReferenceOperation field:
                    return field.Field.Name == "errno";
                case IInvocationOperation invocation:
                    var method = invocation.TargetMethod;
                    var type = method.ContainingType?.ToDisplayString();
                    return (type == "System.Runtime.InteropServices.Marshal" && method.Name is "GetLastPInvokeError" or "GetLastWin32Error" or "GetLastSystemError")
                        || (type == "Mono.Unix.Native.Stdlib" && method.Name == "GetLastError")
                        || method.Name is "errno" or "GetErrno";
                default:
                    return false;
            }
        }

        /// <summary>The value of a condition when the call succeeded, or null when the success assumption does not decide it.</summary>
        private bool? Evaluate(IOperation condition, PathState state)
        {
            condition = FlagEvaluator.Strip(condition);
            if (condition.ConstantValue is { HasValue: true, Value: bool constant })
            {
                return constant;
            }

            switch (condition)
            {
                case IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } negation:
                    return !Evaluate(negation.Operand, state);
                case IBinaryOperation { OperatorKind: BinaryOperatorKind.ConditionalAnd or BinaryOperatorKind.And } both when IsBoolean(both):
                    return And(Evaluate(both.LeftOperand, state), Evaluate(both.RightOperand, state));
                case IBinaryOperation { OperatorKind: BinaryOperatorKind.ConditionalOr or BinaryOperatorKind.Or } either when IsBoolean(either):
                    return Or(Evaluate(either.LeftOperand, state), Evaluate(either.RightOperand, state));
                case IBinaryOperation binary:
                    return Compare(binary.LeftOperand, binary.OperatorKind, binary.RightOperand, state);
                case IIsPatternOperation isPattern:
                    return Match(isPattern.Value, isPattern.Pattern, state);
                default:
                    return null;
            }
        }

        private static bool IsBoolean(IBinaryOperation operation) => operation.Type?.SpecialType == SpecialType.System_Boolean;

        private static bool? And(bool? left, bool? right)
            => left == false || right == false ? false : left == true && right == true ? true : null;

        private static bool? Or(bool? left, bool? right)
            => left == true || right == true ? true : left == false && right == false ? false : null;

        private (ValueKind Kind, long Constant) Classify(IOperation operand, PathState state)
        {
            var stripped = FlagEvaluator.Strip(operand);
            if (IsResult(stripped, state))
            {
                return (ValueKind.Result, 0);
            }

            if (IsErrno(stripped, state))
            {
                return (ValueKind.Errno, 0);
            }

            if (stripped.ConstantValue is { HasValue: true, Value: { } value } && ToLong(value) is { } constant)
            {
                return (ValueKind.Constant, constant);
            }

            if (_countSyntax is not null && SyntaxFactory.AreEquivalent(stripped.Syntax, _countSyntax))
            {
                return (ValueKind.Count, 0);
            }

            return (ValueKind.Unknown, 0);
        }

        private bool? Compare(IOperation left, BinaryOperatorKind kind, IOperation right, PathState state)
        {
            var l = Classify(left, state);
            var r = Classify(right, state);
            if (l.Kind == ValueKind.Errno || r.Kind == ValueKind.Errno)
            {
                // errno is not EAGAIN (nor anything else we compare it with) after a successful call.
                return kind switch
                {
                    BinaryOperatorKind.Equals => false,
                    BinaryOperatorKind.NotEquals => true,
                    _ => null,
                };
            }

            if (r.Kind == ValueKind.Result && l.Kind != ValueKind.Result)
            {
                (l, r) = (r, l);
                kind = Flip(kind);
            }

            if (l.Kind != ValueKind.Result)
            {
                return null;
            }

            return r.Kind switch
            {
                ValueKind.Constant => InRange(kind, r.Constant),
                ValueKind.Count when _kind == LibcCallKind.Read => kind switch
                {
                    // A full read: the result equals the count.
                    BinaryOperatorKind.Equals or BinaryOperatorKind.LessThanOrEqual or BinaryOperatorKind.GreaterThanOrEqual => true,
                    BinaryOperatorKind.NotEquals or BinaryOperatorKind.LessThan or BinaryOperatorKind.GreaterThan => false,
                    _ => null,
                },
                _ => null,
            };
        }

        private bool? InRange(BinaryOperatorKind kind, long c) => kind switch
        {
            BinaryOperatorKind.Equals => c < _low || c > _high ? false : _low == _high ? true : null,
            BinaryOperatorKind.NotEquals => c < _low || c > _high ? true : _low == _high ? false : null,
            BinaryOperatorKind.LessThan => _high < c ? true : _low >= c ? false : null,
            BinaryOperatorKind.LessThanOrEqual => _high <= c ? true : _low > c ? false : null,
            BinaryOperatorKind.GreaterThan => _low > c ? true : _high <= c ? false : null,
            BinaryOperatorKind.GreaterThanOrEqual => _low >= c ? true : _high < c ? false : null,
            _ => null,
        };

        private static BinaryOperatorKind Flip(BinaryOperatorKind kind) => kind switch
        {
            BinaryOperatorKind.LessThan => BinaryOperatorKind.GreaterThan,
            BinaryOperatorKind.LessThanOrEqual => BinaryOperatorKind.GreaterThanOrEqual,
            BinaryOperatorKind.GreaterThan => BinaryOperatorKind.LessThan,
            BinaryOperatorKind.GreaterThanOrEqual => BinaryOperatorKind.LessThanOrEqual,
            _ => kind,
        };

        private bool? Match(IOperation value, IPatternOperation pattern, PathState state)
        {
            var subject = Classify(value, state);
            return MatchPattern(subject.Kind, pattern);
        }

        private bool? MatchPattern(ValueKind subject, IPatternOperation pattern)
        {
            switch (pattern)
            {
                case INegatedPatternOperation negated:
                    return !MatchPattern(subject, negated.Pattern);
                case IBinaryPatternOperation binary:
                    var left = MatchPattern(subject, binary.LeftPattern);
                    var right = MatchPattern(subject, binary.RightPattern);
                    return binary.OperatorKind == BinaryOperatorKind.Or ? Or(left, right) : And(left, right);
                case IConstantPatternOperation when subject == ValueKind.Errno:
                    return false;
                case IConstantPatternOperation constant when subject == ValueKind.Result:
                    return ConstantOf(constant.Value) is { } equal ? InRange(BinaryOperatorKind.Equals, equal) : null;
                case IRelationalPatternOperation relational when subject == ValueKind.Result:
                    return ConstantOf(relational.Value) is { } bound ? InRange(relational.OperatorKind, bound) : null;
                default:
                    return null;
            }
        }
    }

    private static long? ConstantOf(IOperation operation)
        => operation.ConstantValue.HasValue && operation.ConstantValue.Value is { } value ? ToLong(value) : null;

    private static long? ToLong(object value) => value switch
    {
        int i => i,
        long l => l,
        uint u => u,
        ulong ul when ul <= long.MaxValue => (long)ul,
        short s => s,
        ushort us => us,
        byte b => b,
        sbyte sb => sb,
        nint n => n,
        _ => null,
    };
}
