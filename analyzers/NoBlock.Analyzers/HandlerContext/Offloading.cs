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
        => RunsInline(function, isHandlerParameter, depth: 0);

    private static bool RunsInline(IOperation function, System.Func<IParameterSymbol, bool> isHandlerParameter, int depth)
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

        return target is not null && !IsHandedElsewhere(target)
            && RunsBeforeReturning(target, argument.Parameter, function.SemanticModel?.Compilation, depth);
    }

    /// <summary>
    /// Members whose delegate parameter is kept and run later, elsewhere, though it looks like a callback: (type, member).
    /// <c>Lazy&lt;T&gt;</c> runs its factory on the first <c>Value</c>, wherever that is read.
    /// </summary>
    private static readonly (string Type, string Member)[] KeptForLater =
    {
        ("System.Lazy`1", ".ctor"),
        ("System.Threading.ThreadLocal`1", ".ctor"),
        ("System.Runtime.InteropServices.PosixSignalRegistration", "Create"),
    };

    private const int MaxForwardingDepth = 4;

    /// <summary>Library method names that register a callback to run later (<c>SynchronizationContext.Post</c>, <c>RegisterWaitForSingleObject</c>).</summary>
    private static bool IsDeferringName(string name)
        => name.StartsWith("Register", System.StringComparison.Ordinal) || name.StartsWith("UnsafeRegister", System.StringComparison.Ordinal)
           || name.StartsWith("Subscribe", System.StringComparison.Ordinal) || name.StartsWith("Schedule", System.StringComparison.Ordinal)
           || name.StartsWith("Enqueue", System.StringComparison.Ordinal) || name is "Post" or "UnsafeQueueUserWorkItem" or "QueueUserWorkItem";

    /// <summary>
    /// True when the method runs the delegate passed for <paramref name="parameter"/> before it returns.
    /// A value parameter of a generic container (<c>List&lt;T&gt;.Add(T)</c>, <c>Queue&lt;T&gt;.Enqueue</c>,
    /// <c>ConcurrentQueue&lt;T&gt;.Enqueue</c>, <c>ChannelWriter&lt;T&gt;.TryWrite</c>, <c>Dictionary.Add</c>,
    /// <c>GetOrAdd(key, TValue)</c>) stores it. A method of this compilation runs it when its body invokes the
    /// parameter (<c>p()</c>, <c>p?.Invoke()</c>) or passes it on to a method that does; one that only stores it
    /// does not. A library method whose parameter is a delegate type (LINQ, <c>List.ForEach</c>,
    /// <c>ConcurrentDictionary.GetOrAdd(key, Func)</c>) is taken to run it, unless listed as handing it elsewhere.
    /// </summary>
    private static bool RunsBeforeReturning(IMethodSymbol target, IParameterSymbol? parameter, Compilation? compilation, int depth)
    {
        if (parameter is null)
        {
            return true;
        }

        target = target.ReducedFrom ?? target;
        var declared = parameter.OriginalDefinition;
        if (declared.Type is ITypeParameterSymbol || declared.Type is IArrayTypeSymbol { ElementType: ITypeParameterSymbol })
        {
            return false; // an element stored in a container, not a callback it runs
        }

        if (IsListed(target, KeptForLater))
        {
            return false;
        }

        var definition = target.OriginalDefinition;
        if (definition.DeclaringSyntaxReferences.Length == 0 && IsDeferringName(definition.Name))
        {
            return false; // a library's Register…/Subscribe…/Schedule…/Post…/Enqueue…: keeps the callback for later
        }

        if (compilation is null || depth > MaxForwardingDepth || definition.IsAbstract || definition.IsExtern || definition.DeclaringSyntaxReferences.Length == 0)
        {
            return true;
        }

        var ordinal = declared.Ordinal;
        if (ordinal >= definition.Parameters.Length)
        {
            return true;
        }

        var own = definition.Parameters[ordinal];
        var sawBody = false;
        foreach (var reference in definition.DeclaringSyntaxReferences)
        {
            var syntax = reference.GetSyntax();
            var model = OtherDocuments.ModelFor(compilation, syntax.SyntaxTree);
            if (model?.GetOperation(syntax) is not { } body)
            {
                continue;
            }

            sawBody = true;
            if (InvokesParameter(body, own, compilation, depth))
            {
                return true;
            }
        }

        return !sawBody; // a partial method without an implementation here, or nothing bound: keep the old assumption
    }

    /// <summary>Whether a method body invokes the parameter (also inside a lambda that itself runs inline), or forwards it to a method that runs it.</summary>
    private static bool InvokesParameter(IOperation body, IParameterSymbol parameter, Compilation compilation, int depth)
    {
        var stack = new System.Collections.Generic.Stack<IOperation>();
        stack.Push(body);
        while (stack.Count > 0)
        {
            var operation = stack.Pop();
            switch (operation)
            {
                case IAnonymousFunctionOperation nested when operation != body:
                    if (depth >= MaxForwardingDepth || !RunsInline(nested, static _ => false, depth + 1))
                    {
                        continue; // xs.ForEach(x => work(x)) runs work; a stored lambda does not
                    }

                    break;
                case ILocalFunctionOperation when operation != body:
                    continue; // runs when it is called; not decided here
                case IInvocationOperation { TargetMethod.MethodKind: MethodKind.DelegateInvoke, Instance: { } instance }
                    when IsParameter(OperationHelpers.ReadValue(instance), parameter):
                    return true;
                case IArgumentOperation forwarded when IsParameter(OperationHelpers.WalkDownConversion(forwarded.Value), parameter):
                    var callee = forwarded.Parent switch
                    {
                        IInvocationOperation invocation => invocation.TargetMethod,
                        IObjectCreationOperation creation => creation.Constructor,
                        _ => null,
                    };
                    if (callee is not null && !IsHandedElsewhere(callee) && RunsBeforeReturning(callee, forwarded.Parameter, compilation, depth + 1))
                    {
                        return true;
                    }

                    break;
            }

            foreach (var child in operation.ChildOperations)
            {
                stack.Push(child);
            }
        }

        return false;
    }

    private static bool IsParameter(IOperation operation, IParameterSymbol parameter)
        => operation is IParameterReferenceOperation reference && SymbolEqualityComparer.Default.Equals(reference.Parameter.OriginalDefinition, parameter.OriginalDefinition);

    private static bool IsListed(IMethodSymbol method, (string Type, string Member)[] list)
    {
        var name = method.MethodKind == MethodKind.Constructor ? ".ctor" : method.Name;
        var type = method.ContainingType?.OriginalDefinition;
        if (type is null)
        {
            return false;
        }

        var typeName = MetadataName(type);
        foreach (var (listedType, member) in list)
        {
            if (typeName == listedType && (member == "*" || member == name))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsHandedElsewhere(IMethodSymbol method)
    {
        var name = method.MethodKind == MethodKind.Constructor ? ".ctor" : method.Name;
        if (name.StartsWith("Begin", System.StringComparison.Ordinal) && method.MethodKind == MethodKind.Ordinary)
        {
            return true; // APM: the callback runs on an I/O thread
        }

        return IsListed(method, HandedElsewhere);
    }

    private static string MetadataName(INamedTypeSymbol type)
    {
        var ns = type.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() + "." : string.Empty;
        return ns + type.MetadataName;
    }
}
