using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Operations;

namespace NoBlock.Analyzers.Blocking;

/// <summary>Decides, for one call or property read, whether a catalogue row's condition holds.</summary>
internal static class BlockingConditions
{
    /// <summary>True when the operation (invocation or property reference) blocks under the row's condition.</summary>
    public static bool Blocks(BlockingApi row, IOperation operation, IMethodSymbol method)
    {
        switch (row.Condition)
        {
            case BlockingCondition.Always:
                return true;
            case BlockingCondition.UnlessZeroTimeout:
                return !HasZeroTimeout(operation);
            case BlockingCondition.OnlyWithNonZeroTimeout:
                return FindTimeout(operation) is { } timeout && !IsZero(timeout);
            case BlockingCondition.UnlessTaskCompleted:
                return !HasZeroTimeout(operation) && !TaskCompletion.IsKnownComplete(operation);
            case BlockingCondition.UnlessInMemoryStream:
                return !IsInMemory(Receiver(operation), method);
            case BlockingCondition.UnlessZeroTimeoutArgument:
                return FindLibcTimeout(operation, row.TimeoutArgument) is not { } libcTimeout || !IsZero(libcTimeout);
            case BlockingCondition.OnConsoleWriter:
                return IsConsoleWriter(Receiver(operation));
            case BlockingCondition.OnPathArgument:
                return HasPathParameter(method);
            case BlockingCondition.UnlessNonBlockingSocket:
                return !SocketModes.IsNonBlocking(Receiver(operation));
            default:
                return false;
        }
    }

    /// <summary>
    /// For a row that blocks only on a blocking socket, called on a parameter of the walked method: that parameter
    /// (the call blocks unless every caller passes a non-blocking socket). Null otherwise.
    /// </summary>
    public static IParameterSymbol? UnlessNonBlockingParameter(BlockingApi row, IOperation operation)
        => row.Condition == BlockingCondition.UnlessNonBlockingSocket ? SocketModes.ReceiverParameter(Receiver(operation)) : null;

    private static bool HasPathParameter(IMethodSymbol method)
    {
        foreach (var parameter in method.Parameters)
        {
            if (parameter.Name == "path" && parameter.Type.SpecialType == SpecialType.System_String)
            {
                return true;
            }
        }

        return false;
    }

    private static bool HasZeroTimeout(IOperation operation) => FindTimeout(operation) is { } timeout && IsZero(timeout);

    /// <summary>The argument passed for a timeout parameter (by name: <c>millisecondsTimeout</c>, <c>timeout</c>, …).</summary>
    private static IOperation? FindTimeout(IOperation operation)
    {
        if (operation is not IInvocationOperation invocation)
        {
            return null;
        }

        foreach (var argument in invocation.Arguments)
        {
            var parameter = argument.Parameter;
            if (parameter is not null && IsTimeoutParameter(parameter))
            {
                return argument.Value;
            }
        }

        return null;
    }

    private static bool IsTimeoutParameter(IParameterSymbol parameter)
    {
        var name = parameter.Name;
        var isTimeoutName = name.IndexOf("imeout", System.StringComparison.OrdinalIgnoreCase) >= 0
            || name.Equals("milliseconds", System.StringComparison.OrdinalIgnoreCase)
            || name.Equals("microSeconds", System.StringComparison.OrdinalIgnoreCase);
        if (!isTimeoutName)
        {
            return false;
        }

        return parameter.Type.SpecialType is SpecialType.System_Int32 or SpecialType.System_Int64 or SpecialType.System_UInt32
            || parameter.Type is { Name: "TimeSpan", ContainingNamespace.Name: "System" };
    }

    private static IOperation? FindLibcTimeout(IOperation operation, int ordinal)
    {
        if (operation is not IInvocationOperation invocation)
        {
            return null;
        }

        IOperation? byOrdinal = null;
        foreach (var argument in invocation.Arguments)
        {
            if (argument.Parameter is null)
            {
                continue;
            }

            if (argument.Parameter.Name.IndexOf("timeout", System.StringComparison.OrdinalIgnoreCase) >= 0)
            {
                return argument.Value;
            }

            if (argument.Parameter.Ordinal == ordinal)
            {
                byOrdinal = argument.Value;
            }
        }

        return byOrdinal;
    }

    /// <summary>0, <c>TimeSpan.Zero</c>, <c>default</c>, <c>new TimeSpan(0)</c>, <c>TimeSpan.FromMilliseconds(0)</c>.</summary>
    public static bool IsZero(IOperation value)
    {
        value = OperationHelpers.WalkDownConversion(value);
        if (value.ConstantValue is { HasValue: true, Value: var constant })
        {
            return constant switch
            {
                int i => i == 0,
                long l => l == 0,
                uint u => u == 0,
                ulong ul => ul == 0,
                double d => d == 0,
                null => false,
                _ => false,
            };
        }

        switch (value)
        {
            case IDefaultValueOperation:
                return true;
            case IFieldReferenceOperation { Field: { Name: "Zero", ContainingType: { Name: "TimeSpan" } } }:
                return true;
            case IObjectCreationOperation { Constructor.ContainingType.Name: "TimeSpan" } creation:
                return creation.Arguments.Length > 0 && AllZero(creation.Arguments);
            case IInvocationOperation { TargetMethod: { ContainingType.Name: "TimeSpan", IsStatic: true } target } call when target.Name.StartsWith("From", System.StringComparison.Ordinal):
                return call.Arguments.Length > 0 && AllZero(call.Arguments);
            default:
                return false;
        }
    }

    private static bool AllZero(System.Collections.Immutable.ImmutableArray<IArgumentOperation> arguments)
    {
        foreach (var argument in arguments)
        {
            if (!IsZero(argument.Value))
            {
                return false;
            }
        }

        return true;
    }

    private static IOperation? Receiver(IOperation operation) => operation switch
    {
        IInvocationOperation invocation => invocation.Instance,
        IPropertyReferenceOperation property => property.Instance,
        _ => null,
    };

    private static bool IsInMemory(IOperation? receiver, IMethodSymbol method)
    {
        if (IsInMemoryType(method.ContainingType))
        {
            return true;
        }

        if (receiver is null)
        {
            return false;
        }

        receiver = OperationHelpers.WalkDownConversion(receiver);
        if (IsInMemoryType(receiver.Type))
        {
            return true;
        }

        // new StreamReader(new MemoryStream(...)) and the like, inline or through a local initialised so
        if (receiver is ILocalReferenceOperation local && InitializerOf(receiver, local.Local) is { } initializer)
        {
            receiver = OperationHelpers.WalkDownConversion(initializer);
        }

        if (receiver is IObjectCreationOperation creation && creation.Arguments.Length > 0)
        {
            var inner = OperationHelpers.WalkDownConversion(creation.Arguments[0].Value);
            return IsInMemoryType(inner.Type);
        }

        return false;
    }

    private static IOperation? InitializerOf(IOperation use, ILocalSymbol local)
    {
        var top = use;
        while (top.Parent is not null)
        {
            top = top.Parent;
        }

        foreach (var operation in top.Descendants())
        {
            if (operation is IVariableDeclaratorOperation declarator && SymbolEqualityComparer.Default.Equals(declarator.Symbol, local))
            {
                return declarator.Initializer?.Value;
            }
        }

        return null;
    }

    private static bool IsInMemoryType(ITypeSymbol? type)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current is { Name: "MemoryStream" or "UnmanagedMemoryStream" or "StringReader" or "StringWriter", ContainingNamespace: { Name: "IO", ContainingNamespace.Name: "System" } })
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsConsoleWriter(IOperation? receiver)
    {
        receiver = receiver is null ? null : OperationHelpers.WalkDownConversion(receiver);
        return receiver is IPropertyReferenceOperation { Property: { Name: "Out" or "Error", ContainingType: { Name: "Console", ContainingNamespace.Name: "System" } } };
    }
}
