// Decides which fd expressions carry the event's fd (fd provenance): the handler's IoEvent, the registered fd,
// the events buffer and its cursors, registered fields, and locals that only ever hold one of them; and follows
// the calls that pass it on, mapping arguments to the callee's parameters (depth-bounded).

using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Drain;

internal sealed partial class EdgeTriggeredTypeAnalysis
{

    /// <summary>
    /// Checks the reads and accepts in <paramref name="code"/> whose fd comes from the event (mentions one of
    /// <paramref name="sources"/>: the handler's <c>IoEvent</c>, the registered fd, the events buffer and its
    /// cursors, the fields registered with epoll_ctl, or a local or parameter holding one of them), then follows
    /// calls to methods of the type, mapping the arguments that carry the event to the callee's parameters.
    /// </summary>
    private void CheckCode(IOperation code, ImmutableHashSet<ISymbol> sources, DrainScope scope, int depth, CallContext context, HashSet<IMethodSymbol> visited)
    {
        foreach (var node in code.DescendantsAndSelf())
        {
            if (node is not IInvocationOperation invocation)
            {
                continue;
            }

            var kind = _calls.Classify(invocation);
            if (kind is LibcCallKind.Read or LibcCallKind.Accept)
            {
                if (IsFromEvent(EdgeTriggeredCalls.FdArgument(invocation, kind), sources, 0))
                {
                    Check(invocation, kind, scope, context);
                }

                continue;
            }

            var callee = invocation.TargetMethod.OriginalDefinition;
            if (depth >= MaxCallDepth || visited.Contains(callee))
            {
                continue;
            }

            var inThisType = SymbolEqualityComparer.Default.Equals(callee.ContainingType?.OriginalDefinition, _type.Type.OriginalDefinition);
            var calleeRoot = inThisType ? _type.RootOf(callee) : null;
            if (calleeRoot is null && !inThisType && HasEventArgument(invocation, sources))
            {
                // Another type's method is followed only when the event's fd is passed to it.
                calleeRoot = _externalBodies?.Invoke(callee);
            }

            if (calleeRoot is null)
            {
                continue;
            }

            // Fields keep meaning the same thing in a callee of the type; the caller's locals and parameters do not.
            var calleeSources = ImmutableHashSet.CreateBuilder<ISymbol>(SymbolEqualityComparer.Default);
            foreach (var source in sources)
            {
                if (source is IFieldSymbol && inThisType)
                {
                    calleeSources.Add(source);
                }
            }

            foreach (var argument in invocation.Arguments)
            {
                if (argument.Parameter is { } parameter && parameter.Ordinal < callee.Parameters.Length && IsFromEvent(argument.Value, sources, 0))
                {
                    calleeSources.Add(callee.Parameters[parameter.Ordinal]);
                }
            }

            if (calleeSources.Count > 0 && visited.Add(callee))
            {
                var calleeContext = new CallContext(
                    context.CalledInLoop || IsInOwnLoop(invocation, scope),
                    context.AfterDrain || IsAfterDrain(invocation, sources, scope));
                CheckCode(calleeRoot, calleeSources.ToImmutable(), scope, depth + 1, calleeContext, visited);
            }
        }
    }

    private bool HasEventArgument(IInvocationOperation invocation, ImmutableHashSet<ISymbol> sources)
    {
        foreach (var argument in invocation.Arguments)
        {
            if (IsFromEvent(argument.Value, sources, 0))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when an fd expression mentions an event source, or a local that only ever holds one.</summary>
    private bool IsFromEvent(IOperation? fd, ImmutableHashSet<ISymbol> sources, int depth)
    {
        if (fd is null || depth > 2)
        {
            return false;
        }

        foreach (var symbol in SymbolsIn(fd))
        {
            if (sources.Contains(symbol))
            {
                return true;
            }

            if (symbol is not ILocalSymbol)
            {
                continue;
            }

            var writes = _type.WritesTo(symbol);
            var all = writes.Count > 0;
            foreach (var write in writes)
            {
                var value = write switch
                {
                    IVariableDeclaratorOperation declarator => declarator.Initializer?.Value,
                    ISimpleAssignmentOperation assignment => assignment.Value,
                    _ => null,
                };
                all &= IsFromEvent(value, sources, depth + 1);
            }

            if (all)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A call made from inside a loop of the caller that neither waits nor moves to the next event: the caller may
    /// be the drain (<c>while (ReadChunk(fd)) { }</c>), so a single read in the callee is not judged.
    /// </summary>
    private bool IsInOwnLoop(IOperation call, DrainScope scope)
    {
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

            var own = true;
            foreach (var local in loop.Locals)
            {
                own &= !scope.Cursors.Contains(local);
            }

            foreach (var descendant in loop.Descendants())
            {
                switch (descendant)
                {
                    case IInvocationOperation invocation when _calls.Classify(invocation) == LibcCallKind.Wait || scope.IsWaitWrapper(invocation.TargetMethod):
                        own = false;
                        break;
                    case IIncrementOrDecrementOperation { Target: ILocalReferenceOperation local } when scope.Cursors.Contains(local.Local):
                    case IAssignmentOperation { Target: ILocalReferenceOperation assigned } when scope.Cursors.Contains(assigned.Local):
                        own = false;
                        break;
                }
            }

            if (own)
            {
                return true;
            }
        }

        return false;
    }

    private static ISymbol? SymbolOf(IOperation? operation) => operation is null ? null : FlagEvaluator.Strip(operation) switch
    {
        ILocalReferenceOperation local => local.Local,
        IParameterReferenceOperation parameter => parameter.Parameter,
        IFieldReferenceOperation field => field.Field.OriginalDefinition,
        _ => null,
    };

    private static IEnumerable<ISymbol> SymbolsIn(IOperation? operation)
    {
        if (operation is null)
        {
            yield break;
        }

        foreach (var node in operation.DescendantsAndSelf())
        {
            if (node is ILocalReferenceOperation or IFieldReferenceOperation or IParameterReferenceOperation && SymbolOf(node) is { } symbol)
            {
                yield return symbol;
            }
        }
    }
}
