using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace NoBlock.Analyzers.Operations;

internal static class OperationHelpers
{
    /// <summary>Skips implicit and explicit conversions and parentheses.</summary>
    public static IOperation WalkDownConversion(IOperation operation)
    {
        while (true)
        {
            switch (operation)
            {
                case IConversionOperation conversion:
                    operation = conversion.Operand;
                    continue;
                case IParenthesizedOperation parenthesized:
                    operation = parenthesized.Operand;
                    continue;
                default:
                    return operation;
            }
        }
    }

    /// <summary>
    /// The operation a lambda or method group is handed to, past the delegate creation and conversions that wrap it:
    /// an <see cref="IArgumentOperation"/> when it is passed to a call, otherwise where it is stored or returned.
    /// </summary>
    public static IOperation? PassedTo(IOperation function)
    {
        var current = function.Parent;
        while (current is IDelegateCreationOperation or IConversionOperation or IParenthesizedOperation)
        {
            current = current.Parent;
        }

        return current;
    }

    /// <summary>The <c>a?.…</c> above <paramref name="operation"/> (for the instance of <c>a?.M()</c>: the access whose receiver it stands for).</summary>
    public static IConditionalAccessOperation? EnclosingConditionalAccess(IOperation operation)
    {
        for (var parent = operation.Parent; parent is not null; parent = parent.Parent)
        {
            if (parent is IConditionalAccessOperation access)
            {
                return access;
            }
        }

        return null;
    }

    /// <summary>
    /// The value an expression reads, conversions skipped; for the instance of <c>a?.Invoke(x)</c>, the <c>a</c> it
    /// stands for.
    /// </summary>
    public static IOperation ReadValue(IOperation operation)
    {
        var stripped = WalkDownConversion(operation);
        return stripped is IConditionalAccessInstanceOperation && EnclosingConditionalAccess(stripped) is { } access
            ? WalkDownConversion(access.Operation)
            : stripped;
    }

    /// <summary>The symbol a simple expression names (local, parameter, field or property of this), or null.</summary>
    public static ISymbol? ReferencedSymbol(IOperation? operation)
    {
        if (operation is null)
        {
            return null;
        }

        return WalkDownConversion(operation) switch
        {
            ILocalReferenceOperation local => local.Local,
            IParameterReferenceOperation parameter => parameter.Parameter,
            IFieldReferenceOperation field when field.Instance is null or IInstanceReferenceOperation => field.Field,
            IPropertyReferenceOperation property when property.Instance is null or IInstanceReferenceOperation && property.Arguments.Length == 0 => property.Property,
            _ => null,
        };
    }
}
