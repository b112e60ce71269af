// Decides how a branch goes when the call succeeded: a full read (the whole count, when it is a constant),
// a valid fd from accept, errno not EAGAIN (nor anything else it is compared with). Conditions on the result,
// on errno, and patterns over them are decided; anything else is undecided and the walk follows both ways.

using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.FlowAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Drain;

internal sealed partial class DrainFlow
{
    /// <summary>A value as the success assumption sees it.</summary>
    private enum ValueKind
    {
        Unknown,
        Result,
        Errno,
        Count,
        Constant,
    }

    private sealed partial class Walk
    {
        private bool IsResult(IOperation value, PathState state)
        {
            value = FlagEvaluator.Strip(value);
            return value switch
            {
                IInvocationOperation invocation => invocation.Syntax == _call.Syntax,
                ISimpleAssignmentOperation assignment => IsResult(assignment.Value, state),
                ILocalReferenceOperation local => state.Results.Contains(local.Local),
                IFlowCaptureReferenceOperation capture => state.ResultCaptures.Contains(capture.Id),
                _ => false,
            };
        }

        private static bool IsErrno(IOperation value, PathState state)
        {
            value = FlagEvaluator.Strip(value);
            switch (value)
            {
                case ISimpleAssignmentOperation assignment:
                    return IsErrno(assignment.Value, state);
                case ILocalReferenceOperation local:
                    return state.Errnos.Contains(local.Local);
                case IFlowCaptureReferenceOperation capture:
                    return state.ErrnoCaptures.Contains(capture.Id);
                case IPropertyReferenceOperation property:
                    return property.Property.Name == "errno";
                case IFieldReferenceOperation field:
                    return field.Field.Name == "errno";
                case IInvocationOperation invocation:
                    var method = invocation.TargetMethod;
                    var type = method.ContainingType?.ToDisplayString();
                    return (type == "System.Runtime.InteropServices.Marshal" && method.Name is "GetLastPInvokeError" or "GetLastWin32Error" or "GetLastSystemError")
                        || (type == "Mono.Unix.Native.Stdlib" && method.Name == "GetLastError")
                        || method.Name is "errno" or "GetErrno";
                default:
                    return false;
            }
        }

        /// <summary>The value of a condition when the call succeeded, or null when the success assumption does not decide it.</summary>
        private bool? Evaluate(IOperation condition, PathState state)
        {
            condition = FlagEvaluator.Strip(condition);
            if (condition.ConstantValue is { HasValue: true, Value: bool constant })
            {
                return constant;
            }

            switch (condition)
            {
                case IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } negation:
                    return !Evaluate(negation.Operand, state);
                case IBinaryOperation { OperatorKind: BinaryOperatorKind.ConditionalAnd or BinaryOperatorKind.And } both when IsBoolean(both):
                    return And(Evaluate(both.LeftOperand, state), Evaluate(both.RightOperand, state));
                case IBinaryOperation { OperatorKind: BinaryOperatorKind.ConditionalOr or BinaryOperatorKind.Or } either when IsBoolean(either):
                    return Or(Evaluate(either.LeftOperand, state), Evaluate(either.RightOperand, state));
                case IBinaryOperation binary:
                    return Compare(binary.LeftOperand, binary.OperatorKind, binary.RightOperand, state);
                case IIsPatternOperation isPattern:
                    return Match(isPattern.Value, isPattern.Pattern, state);
                default:
                    return null;
            }
        }

        private static bool IsBoolean(IBinaryOperation operation) => operation.Type?.SpecialType == SpecialType.System_Boolean;

        private static bool? And(bool? left, bool? right)
            => left == false || right == false ? false : left == true && right == true ? true : null;

        private static bool? Or(bool? left, bool? right)
            => left == true || right == true ? true : left == false && right == false ? false : null;

        private (ValueKind Kind, long Constant) Classify(IOperation operand, PathState state)
        {
            var stripped = FlagEvaluator.Strip(operand);
            if (IsResult(stripped, state))
            {
                return (ValueKind.Result, 0);
            }

            if (IsErrno(stripped, state))
            {
                return (ValueKind.Errno, 0);
            }

            if (stripped.ConstantValue is { HasValue: true, Value: { } value } && ToLong(value) is { } constant)
            {
                return (ValueKind.Constant, constant);
            }

            if (_countSyntax is not null && SyntaxFactory.AreEquivalent(stripped.Syntax, _countSyntax))
            {
                return (ValueKind.Count, 0);
            }

            return (ValueKind.Unknown, 0);
        }

        private bool? Compare(IOperation left, BinaryOperatorKind kind, IOperation right, PathState state)
        {
            var l = Classify(left, state);
            var r = Classify(right, state);
            if (l.Kind == ValueKind.Errno || r.Kind == ValueKind.Errno)
            {
                // errno is not EAGAIN (nor anything else we compare it with) after a successful call.
                return kind switch
                {
                    BinaryOperatorKind.Equals => false,
                    BinaryOperatorKind.NotEquals => true,
                    _ => null,
                };
            }

            if (r.Kind == ValueKind.Result && l.Kind != ValueKind.Result)
            {
                (l, r) = (r, l);
                kind = Flip(kind);
            }

            if (l.Kind != ValueKind.Result)
            {
                return null;
            }

            return r.Kind switch
            {
                ValueKind.Constant => InRange(kind, r.Constant),
                ValueKind.Count when _kind == LibcCallKind.Read => kind switch
                {
                    // A full read: the result equals the count.
                    BinaryOperatorKind.Equals or BinaryOperatorKind.LessThanOrEqual or BinaryOperatorKind.GreaterThanOrEqual => true,
                    BinaryOperatorKind.NotEquals or BinaryOperatorKind.LessThan or BinaryOperatorKind.GreaterThan => false,
                    _ => null,
                },
                _ => null,
            };
        }

        private bool? InRange(BinaryOperatorKind kind, long c) => kind switch
        {
            BinaryOperatorKind.Equals => c < _low || c > _high ? false : _low == _high ? true : null,
            BinaryOperatorKind.NotEquals => c < _low || c > _high ? true : _low == _high ? false : null,
            BinaryOperatorKind.LessThan => _high < c ? true : _low >= c ? false : null,
            BinaryOperatorKind.LessThanOrEqual => _high <= c ? true : _low > c ? false : null,
            BinaryOperatorKind.GreaterThan => _low > c ? true : _high <= c ? false : null,
            BinaryOperatorKind.GreaterThanOrEqual => _low >= c ? true : _high < c ? false : null,
            _ => null,
        };

        private static BinaryOperatorKind Flip(BinaryOperatorKind kind) => kind switch
        {
            BinaryOperatorKind.LessThan => BinaryOperatorKind.GreaterThan,
            BinaryOperatorKind.LessThanOrEqual => BinaryOperatorKind.GreaterThanOrEqual,
            BinaryOperatorKind.GreaterThan => BinaryOperatorKind.LessThan,
            BinaryOperatorKind.GreaterThanOrEqual => BinaryOperatorKind.LessThanOrEqual,
            _ => kind,
        };

        private bool? Match(IOperation value, IPatternOperation pattern, PathState state)
        {
            var subject = Classify(value, state);
            return MatchPattern(subject.Kind, pattern);
        }

        private bool? MatchPattern(ValueKind subject, IPatternOperation pattern)
        {
            switch (pattern)
            {
                case INegatedPatternOperation negated:
                    return !MatchPattern(subject, negated.Pattern);
                case IBinaryPatternOperation binary:
                    var left = MatchPattern(subject, binary.LeftPattern);
                    var right = MatchPattern(subject, binary.RightPattern);
                    return binary.OperatorKind == BinaryOperatorKind.Or ? Or(left, right) : And(left, right);
                case IConstantPatternOperation when subject == ValueKind.Errno:
                    return false;
                case IConstantPatternOperation constant when subject == ValueKind.Result:
                    return ConstantOf(constant.Value) is { } equal ? InRange(BinaryOperatorKind.Equals, equal) : null;
                case IRelationalPatternOperation relational when subject == ValueKind.Result:
                    return ConstantOf(relational.Value) is { } bound ? InRange(relational.OperatorKind, bound) : null;
                default:
                    return null;
            }
        }
    }

    private static long? ConstantOf(IOperation operation)
        => operation.ConstantValue.HasValue && operation.ConstantValue.Value is { } value ? ToLong(value) : null;

    private static long? ToLong(object value) => value switch
    {
        int i => i,
        long l => l,
        uint u => u,
        ulong ul when ul <= long.MaxValue => (long)ul,
        short s => s,
        ushort us => us,
        byte b => b,
        sbyte sb => sb,
        nint n => n,
        _ => null,
    };
}
