// Decides "the fd was already drained here": every path to a read first passes a draining read of the same fd,
// or a call to a method that drains the fd it is given (every path of that method passes its drain). Data read
// after that arrived later, with its own edge, so a single read there is correct.

using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Drain;

internal sealed partial class EdgeTriggeredTypeAnalysis
{
    /// <summary>True when every path to <paramref name="target"/> in its function first passes a draining read/accept of <paramref name="fd"/>.</summary>
    private bool IsAfterDrain(IOperation target, IOperation? fd, LibcCallKind kind, DrainScope scope)
    {
        if (fd is null)
        {
            return false;
        }

        var root = TopOf(target);
        var drains = new List<SyntaxNode>();
        foreach (var node in root.Descendants())
        {
            if (node is not IInvocationOperation candidate || candidate.Syntax == target.Syntax)
            {
                continue;
            }

            if (_calls.Classify(candidate) == kind)
            {
                if (EdgeTriggeredCalls.FdArgument(candidate, kind) is { } candidateFd
                    && SameSyntax(candidateFd, fd)
                    && Verdict(candidate, kind, scope) == DrainVerdict.Drains)
                {
                    drains.Add(candidate.Syntax);
                }

                continue;
            }

            // A call to a method that drains the fd it is given (Fds.Drain(e.Fd)).
            foreach (var argument in candidate.Arguments)
            {
                if (argument.Parameter is { } parameter && SameSyntax(FlagEvaluator.Strip(argument.Value), fd)
                    && DrainsParameter(candidate.TargetMethod.OriginalDefinition, parameter.Ordinal, kind, scope))
                {
                    drains.Add(candidate.Syntax);
                    break;
                }
            }
        }

        return drains.Count > 0 && _flow.IsDominatedBy(root, target.Syntax, drains);
    }

    private static bool SameSyntax(IOperation left, IOperation right)
        => Microsoft.CodeAnalysis.CSharp.SyntaxFactory.AreEquivalent(left.Syntax, right.Syntax);

    /// <summary>True when the method reads (accepts) from its parameter in a drain loop that every path passes.</summary>
    private bool DrainsParameter(IMethodSymbol method, int ordinal, LibcCallKind kind, DrainScope scope)
    {
        var key = (method, ordinal, kind);
        if (_drainsParameter.TryGetValue(key, out var drains))
        {
            return drains;
        }

        _drainsParameter[key] = false; // recursion guard
        var inThisType = SymbolEqualityComparer.Default.Equals(method.ContainingType?.OriginalDefinition, _type.Type.OriginalDefinition);
        var root = inThisType ? _type.RootOf(method) : _externalBodies?.Invoke(method);
        if (root is not null && ordinal < method.Parameters.Length)
        {
            var parameter = method.Parameters[ordinal];
            foreach (var node in root.Descendants())
            {
                if (node is IInvocationOperation read
                    && _calls.Classify(read) == kind
                    && EdgeTriggeredCalls.FdArgument(read, kind) is IParameterReferenceOperation reference
                    && SymbolEqualityComparer.Default.Equals(reference.Parameter.OriginalDefinition, parameter)
                    && Verdict(read, kind, scope) == DrainVerdict.Drains
                    && _flow.DominatesExit(TopOf(read), read.Syntax))
                {
                    drains = true;
                    break;
                }
            }
        }

        _drainsParameter[key] = drains;
        return drains;
    }

    /// <summary>A call site passing the event's fd, after a drain of that fd in the caller.</summary>
    private bool IsAfterDrain(IInvocationOperation callSite, ImmutableHashSet<ISymbol> sources, DrainScope scope)
    {
        foreach (var argument in callSite.Arguments)
        {
            if (IsFromEvent(argument.Value, sources, 0)
                && (IsAfterDrain(callSite, FlagEvaluator.Strip(argument.Value), LibcCallKind.Read, scope)
                    || IsAfterDrain(callSite, FlagEvaluator.Strip(argument.Value), LibcCallKind.Accept, scope)))
            {
                return true;
            }
        }

        return false;
    }
}
