using System.Collections.Concurrent;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Drain;

/// <summary>
/// Classifies invocations by native entry point (through <see cref="LibcFunctions"/>), once per method per
/// compilation, and knows where the fd and count arguments sit.
/// </summary>
internal sealed class EdgeTriggeredCalls
{
    private readonly ConcurrentDictionary<IMethodSymbol, LibcCallKind> _kinds = new(SymbolEqualityComparer.Default);

    public LibcCallKind Classify(IMethodSymbol method)
        => _kinds.GetOrAdd(method.OriginalDefinition, static m => LibcFunctions.Classify(m));

    public LibcCallKind Classify(IInvocationOperation invocation) => Classify(invocation.TargetMethod);

    /// <summary>The argument passed for the parameter at <paramref name="ordinal"/>, conversions stripped.</summary>
    public static IOperation? Argument(IInvocationOperation invocation, int ordinal)
    {
        foreach (var argument in invocation.Arguments)
        {
            if (argument.Parameter is { } parameter && parameter.Ordinal == ordinal)
            {
                return FlagEvaluator.Strip(argument.Value);
            }
        }

        return null;
    }

    /// <summary>The fd every read-like call, accept and epoll_ctl call takes (epoll_ctl: the third argument).</summary>
    public static IOperation? FdArgument(IInvocationOperation invocation, LibcCallKind kind)
        => Argument(invocation, kind == LibcCallKind.EpollCtl ? 2 : 0);

    /// <summary>The byte count of read, recv and recvfrom (readv and recvmsg have none).</summary>
    public static IOperation? CountArgument(IInvocationOperation invocation)
    {
        var name = LibcFunctions.GetNativeName(invocation.TargetMethod);
        return name is "read" or "recv" or "recvfrom" ? Argument(invocation, 2) : null;
    }
}
