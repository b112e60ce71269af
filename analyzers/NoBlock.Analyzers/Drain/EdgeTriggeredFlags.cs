using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace NoBlock.Analyzers.Drain;

/// <summary>Three-valued answer: precision first, so <see cref="Unknown"/> always means "say nothing".</summary>
internal enum Tri
{
    No,
    Yes,
    Unknown,
}

/// <summary>
/// What is known about the bits of a 32-bit epoll events mask (or an <c>IoEvents</c> value): the bits that are
/// set on every path (<see cref="Must"/>) and the bits that may be set on some path (<see cref="May"/>).
/// </summary>
internal readonly struct FlagBits
{
    public static readonly FlagBits Unknown = new(0, uint.MaxValue);

    public FlagBits(uint must, uint may)
    {
        Must = must;
        May = may | must;
    }

    public uint Must { get; }

    public uint May { get; }

    public static FlagBits Exactly(uint value) => new(value, value);

    public FlagBits Or(FlagBits other) => new(Must | other.Must, May | other.May);

    public FlagBits And(FlagBits other) => new(Must & other.Must, May & other.May);

    /// <summary>One of two values (two assignments, the arms of a conditional): only what both guarantee.</summary>
    public FlagBits Merge(FlagBits other) => new(Must & other.Must, May | other.May);

    public Tri Has(uint flag)
    {
        if ((Must & flag) == flag)
        {
            return Tri.Yes;
        }

        return (May & flag) == 0 ? Tri.No : Tri.Unknown;
    }
}

/// <summary>The epoll flags, by value: the flag is recognised by its value whatever the binding calls it.</summary>
internal static class EpollFlags
{
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLONESHOT = 1u << 30;
    public const uint EPOLLET = 1u << 31;

    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;

    /// <summary>
    /// Values of the epoll constants by name. Tmds.LibC exposes them as static properties (no constant value in
    /// metadata), and some hand-written bindings do the same (<c>static readonly</c> fields, properties).
    /// </summary>
    public static readonly ImmutableDictionary<string, uint> ValuesByName = new Dictionary<string, uint>(StringComparer.Ordinal)
    {
        ["EPOLLIN"] = 0x001,
        ["EPOLLPRI"] = 0x002,
        ["EPOLLOUT"] = 0x004,
        ["EPOLLERR"] = 0x008,
        ["EPOLLHUP"] = 0x010,
        ["EPOLLRDNORM"] = 0x040,
        ["EPOLLRDBAND"] = 0x080,
        ["EPOLLWRNORM"] = 0x100,
        ["EPOLLWRBAND"] = 0x200,
        ["EPOLLMSG"] = 0x400,
        ["EPOLLRDHUP"] = 0x2000,
        ["EPOLLEXCLUSIVE"] = 1u << 28,
        ["EPOLLWAKEUP"] = 1u << 29,
        ["EPOLLONESHOT"] = EPOLLONESHOT,
        ["EPOLLET"] = EPOLLET,
        ["EPOLL_CTL_ADD"] = EPOLL_CTL_ADD,
        ["EPOLL_CTL_DEL"] = EPOLL_CTL_DEL,
        ["EPOLL_CTL_MOD"] = EPOLL_CTL_MOD,

        // Names hand-written bindings give the two mode bits when they are not constants (static readonly, properties).
        ["ET"] = EPOLLET,
        ["EdgeTriggered"] = EPOLLET,
        ["ONESHOT"] = EPOLLONESHOT,
        ["OneShot"] = EPOLLONESHOT,
    }.ToImmutableDictionary(StringComparer.Ordinal);

    /// <summary>True for an <c>epoll_ctl</c> op that is <c>EPOLL_CTL_MOD</c>, by value or by name.</summary>
    public static bool IsModOperation(IOperation? op)
    {
        if (op is null)
        {
            return false;
        }

        op = FlagEvaluator.Strip(op);
        if (op.ConstantValue.HasValue)
        {
            return ToBits(op.ConstantValue.Value) == EPOLL_CTL_MOD;
        }

        return op switch
        {
            IPropertyReferenceOperation property => property.Property.Name == "EPOLL_CTL_MOD",
            IFieldReferenceOperation field => field.Field.Name == "EPOLL_CTL_MOD",
            _ => false,
        };
    }

    /// <summary>A constant's value as the 32 bits epoll sees (an <c>int</c> <c>EPOLLET</c> is negative).</summary>
    public static uint? ToBits(object? constant) => constant switch
    {
        int i => unchecked((uint)i),
        uint u => u,
        long l => unchecked((uint)l),
        ulong ul => unchecked((uint)ul),
        short s => unchecked((uint)s),
        ushort us => us,
        byte b => b,
        sbyte sb => unchecked((uint)sb),
        _ => null,
    };
}

/// <summary>
/// Evaluates an events mask (or an <c>IoEvents</c> interest) to <see cref="FlagBits"/>: constants, the
/// binding's named flags, <c>|</c> / <c>+</c> combinations, conversions, and locals, fields and parameters
/// followed to their assignments inside the type being analyzed. Anything else is <see cref="FlagBits.Unknown"/>.
/// </summary>
internal sealed class FlagEvaluator
{
    private const int MaxDepth = 6;
    private readonly TypeOperations _type;

    public FlagEvaluator(TypeOperations type)
    {
        _type = type;
    }

    public FlagBits Evaluate(IOperation? value) => Evaluate(value, 0);

    private FlagBits Evaluate(IOperation? value, int depth)
    {
        if (value is null || depth > MaxDepth)
        {
            return FlagBits.Unknown;
        }

        if (value.ConstantValue.HasValue)
        {
            var bits = EpollFlags.ToBits(value.ConstantValue.Value);
            return bits is { } b ? FlagBits.Exactly(b) : FlagBits.Unknown;
        }

        switch (value)
        {
            case IConversionOperation conversion:
                return Evaluate(conversion.Operand, depth + 1);
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.Or or BinaryOperatorKind.Add } either:
                return Evaluate(either.LeftOperand, depth + 1).Or(Evaluate(either.RightOperand, depth + 1));
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.And } both:
                return Evaluate(both.LeftOperand, depth + 1).And(Evaluate(both.RightOperand, depth + 1));
            case IConditionalOperation conditional when conditional.WhenFalse is not null:
                return Evaluate(conditional.WhenTrue, depth + 1).Merge(Evaluate(conditional.WhenFalse, depth + 1));
            case IPropertyReferenceOperation property:
                return ByName(property.Property.Name);
            case IFieldReferenceOperation field:
                return FromAssignments(field.Field, depth);
            case ILocalReferenceOperation local:
                return FromAssignments(local.Local, depth);
            case IParameterReferenceOperation parameter:
                return FromCallSites(parameter.Parameter, depth);
            default:
                return FlagBits.Unknown;
        }
    }

    private static FlagBits ByName(string name)
        => EpollFlags.ValuesByName.TryGetValue(name, out var bits) ? FlagBits.Exactly(bits) : FlagBits.Unknown;

    /// <summary>A local or field: every value assigned to it in the type, merged; <c>|=</c> adds its bits.</summary>
    private FlagBits FromAssignments(ISymbol symbol, int depth)
    {
        FlagBits? merged = null;
        var orBits = FlagBits.Exactly(0);
        foreach (var write in _type.WritesTo(symbol))
        {
            switch (write)
            {
                case IVariableDeclaratorOperation declarator:
                    var initializer = declarator.Initializer?.Value ?? (declarator.Parent as IVariableDeclarationOperation)?.Initializer?.Value;
                    if (initializer is null)
                    {
                        continue;
                    }

                    merged = Combine(merged, Evaluate(initializer, depth + 1));
                    break;
                case IFieldInitializerOperation fieldInitializer:
                    merged = Combine(merged, Evaluate(fieldInitializer.Value, depth + 1));
                    break;
                case ISimpleAssignmentOperation assignment:
                    merged = Combine(merged, Evaluate(assignment.Value, depth + 1));
                    break;
                case ICompoundAssignmentOperation { OperatorKind: BinaryOperatorKind.Or } compound:
                    orBits = orBits.Or(Evaluate(compound.Value, depth + 1));
                    break;
                default:
                    // &=, ^=, ref/out arguments, increments: we cannot say.
                    return FlagBits.Unknown;
            }
        }

        if (merged is null)
        {
            // A field we never saw assigned may still be a named flag of a hand-written binding (static readonly).
            return symbol is IFieldSymbol ? ByName(symbol.Name) : FlagBits.Unknown;
        }

        return merged.Value.Or(orBits);
    }

    private static FlagBits Combine(FlagBits? merged, FlagBits next) => merged is { } m ? m.Merge(next) : next;

    /// <summary>A parameter of a method of the type: the arguments passed at its call sites in the type.</summary>
    private FlagBits FromCallSites(IParameterSymbol parameter, int depth)
    {
        if (parameter.ContainingSymbol is not IMethodSymbol method)
        {
            return FlagBits.Unknown;
        }

        FlagBits? merged = null;
        foreach (var invocation in _type.CallsTo(method))
        {
            IOperation? argumentValue = null;
            foreach (var argument in invocation.Arguments)
            {
                if (argument.Parameter is { } p && p.Ordinal == parameter.Ordinal)
                {
                    argumentValue = argument.Value;
                }
            }

            merged = Combine(merged, Evaluate(argumentValue, depth + 1));
        }

        return merged ?? FlagBits.Unknown;
    }

    /// <summary>
    /// The events mask of an <c>epoll_ctl</c> call: either the argument itself (Mono.Posix passes the flags) or
    /// the <c>events</c> field of the <c>epoll_event</c> it points to, followed to its assignments.
    /// </summary>
    public FlagBits EvaluateEpollEventArgument(IOperation argument)
    {
        var value = Strip(argument);
        if (value.Type is { } type && (type.SpecialType is not SpecialType.None || type.TypeKind == TypeKind.Enum))
        {
            return Evaluate(value);
        }

        if (value is IAddressOfOperation addressOf)
        {
            value = Strip(addressOf.Reference);
        }

        ISymbol? structSymbol = value switch
        {
            ILocalReferenceOperation local => local.Local,
            IFieldReferenceOperation field => field.Field,
            IParameterReferenceOperation => null,
            _ => null,
        };

        if (structSymbol is null)
        {
            return FlagBits.Unknown;
        }

        // A pointer local (epoll_event* p = &ev): follow it once to the struct.
        if (structSymbol is ILocalSymbol { Type: IPointerTypeSymbol })
        {
            IOperation? target = null;
            foreach (var write in _type.WritesTo(structSymbol))
            {
                var assigned = write switch
                {
                    IVariableDeclaratorOperation d => d.Initializer?.Value,
                    ISimpleAssignmentOperation a => a.Value,
                    _ => null,
                };
                if (assigned is null || target is not null)
                {
                    return FlagBits.Unknown;
                }

                target = assigned;
            }

            return target is null ? FlagBits.Unknown : EvaluateEpollEventArgument(target);
        }

        FlagBits? merged = null;
        var orBits = FlagBits.Exactly(0);
        foreach (var (written, isOr) in _type.EventsFieldValues(structSymbol))
        {
            if (written is null)
            {
                return FlagBits.Unknown;
            }

            if (isOr)
            {
                orBits = orBits.Or(Evaluate(written));
            }
            else
            {
                merged = Combine(merged, Evaluate(written));
            }
        }

        return merged is { } m ? m.Or(orBits) : FlagBits.Unknown;
    }

    public static IOperation Strip(IOperation operation)
    {
        while (true)
        {
            switch (operation)
            {
                case IConversionOperation conversion:
                    operation = conversion.Operand;
                    break;
                case IArgumentOperation argument:
                    operation = argument.Value;
                    break;
                default:
                    return operation;
            }
        }
    }

    /// <summary>True when a field of an epoll_event-like struct holds the events mask.</summary>
    public static bool IsEventsField(IFieldSymbol field) => field.Name.Equals("events", StringComparison.OrdinalIgnoreCase);
}
