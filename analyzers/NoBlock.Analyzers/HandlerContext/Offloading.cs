using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Operations;

namespace NoBlock.Analyzers.HandlerContext;

/// <summary>
/// Whether a lambda or method group runs synchronously where it is written (<c>List.ForEach</c>, LINQ, a helper
/// that takes a callback) — then it is handler code when its surroundings are — or is handed elsewhere:
/// to the thread pool (<c>Task.Run</c>, <c>EventLoop.Offload</c>, <c>ThreadPool</c>, <c>new Thread</c>, timers,
/// <c>Parallel</c>), to a later callback (<c>ContinueWith</c>, <c>Begin*</c>, <c>Register*</c>), or stored.
/// </summary>
internal static class Offloading
{
    /// <summary>Members whose delegate arguments do not run synchronously on the calling thread: (type, member).</summary>
    private static readonly (string Type, string Member)[] HandedElsewhere =
    {
        ("System.Threading.Tasks.Task", "Run"),
        ("System.Threading.Tasks.Task", "ContinueWith"),
        ("System.Threading.Tasks.Task`1", "ContinueWith"),
        ("System.Threading.Tasks.Task", ".ctor"),
        ("System.Threading.Tasks.Task`1", ".ctor"),
        ("System.Threading.Tasks.TaskFactory", "StartNew"),
        ("System.Threading.Tasks.TaskFactory`1", "StartNew"),
        ("System.Threading.ThreadPool", "*"),
        ("System.Threading.Thread", ".ctor"),
        ("System.Threading.Timer", ".ctor"),
        ("System.Threading.Tasks.Parallel", "*"),
        ("System.Linq.ParallelEnumerable", "ForAll"),
        ("System.Threading.CancellationToken", "Register"),
        ("System.Threading.CancellationToken", "UnsafeRegister"),
        ("NoBlock.EventLoop", "Offload"),
        ("NoBlock.EventLoop", "OffloadAndReport"),
    };

    /// <summary>
    /// True when a lambda / method group argument runs synchronously inside the call it is passed to. A delegate
    /// passed to an <c>[EventLoopHandler]</c> parameter does not: it is registered to run later, as a handler of its own.
    /// </summary>
    public static bool RunsInline(IOperation function, System.Func<IParameterSymbol, bool> isHandlerParameter)
    {
        if (OperationHelpers.PassedTo(function) is not IArgumentOperation argument)
        {
            return false; // stored, returned, subscribed to an event: runs later, not here
        }

        if (argument.Parameter is { } parameter && isHandlerParameter(parameter))
        {
            return false; // registered as a handler: analysed as one where it is passed
        }

        var target = argument.Parent switch
        {
            IInvocationOperation invocation => invocation.TargetMethod,
            IObjectCreationOperation creation => creation.Constructor,
            _ => null,
        };

        return target is not null && !IsHandedElsewhere(target);
    }

    private static bool IsHandedElsewhere(IMethodSymbol method)
    {
        var name = method.MethodKind == MethodKind.Constructor ? ".ctor" : method.Name;
        if (name.StartsWith("Begin", System.StringComparison.Ordinal) && method.MethodKind == MethodKind.Ordinary)
        {
            return true; // APM: the callback runs on an I/O thread
        }

        var type = method.ContainingType?.OriginalDefinition;
        if (type is null)
        {
            return false;
        }

        var typeName = MetadataName(type);
        foreach (var (handedType, member) in HandedElsewhere)
        {
            if (typeName == handedType && (member == "*" || member == name))
            {
                return true;
            }
        }

        return false;
    }

    private static string MetadataName(INamedTypeSymbol type)
    {
        var ns = type.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() + "." : string.Empty;
        return ns + type.MetadataName;
    }
}
