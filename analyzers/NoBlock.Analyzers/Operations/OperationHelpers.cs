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
