// Decides what one path of the walk knows and how each write changes it: which locals hold the call's
// result or errno, which locals the fd depends on (tracked to a fixpoint through assignments) and which of
// those changed on this path ("dirty": the next call is on another fd), and which values are stable.

using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Drain;

internal sealed partial class DrainFlow
{
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

    private sealed partial class Walk
    {
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
    }
}
