// Decides whether a call that can leave after success sits in a loop of its own: a loop that neither waits
// for events nor moves the fd on. Tells LeavesAfterSuccess (a loop that stops too early) from CallsOnce.

using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Drain;

internal sealed partial class DrainFlow
{
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
}
