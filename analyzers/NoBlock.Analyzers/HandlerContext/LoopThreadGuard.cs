using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Operations;

namespace NoBlock.Analyzers.HandlerContext;

/// <summary>
/// Decides which branch of an <c>if</c> on "am I on the loop thread?" does not run on the loop:
/// <c>if (!executor.InEventLoop) { … }</c> (Netty's ports: <c>FixedBackoffRejectedExecutionHandler.Rejected</c>
/// sleeps only off the loop), the <c>else</c> of <c>if (loop.IsOnLoopThread) { … } else { … }</c>. The predicate is a
/// <c>bool</c> property or parameterless method named <c>InEventLoop</c>, <c>IsInEventLoop</c>, <c>IsOnLoopThread</c>,
/// <c>InLoop</c>, <c>IsInLoop</c> or <c>IsOnEventLoopThread</c> (NoBlock's <c>EventLoop.IsOnLoopThread</c> among them).
/// Code in the off-loop branch is not event-loop code. The check names one loop: a branch taken because another loop's
/// executor is not the current thread still runs on the current thread, so a guard on a different loop than the one
/// running is trusted as the author's statement, not proven.
/// </summary>
internal static class LoopThreadGuard
{
    /// <summary>The branch of <paramref name="conditional"/> that runs off the loop thread, or null when it is no such guard.</summary>
    public static IOperation? OffLoopBranch(IConditionalOperation conditional)
    {
        if (conditional.WhenFalse is null && !IsNegatedGuard(conditional.Condition))
        {
            return null; // if (InEventLoop) { … } with no else: nothing runs off the loop here
        }

        if (IsGuard(conditional.Condition))
        {
            return conditional.WhenFalse;
        }

        return IsNegatedGuard(conditional.Condition) ? conditional.WhenTrue : null;
    }

    private static bool IsNegatedGuard(IOperation condition)
    {
        condition = OperationHelpers.WalkDownConversion(condition);
        return condition switch
        {
            IUnaryOperation { OperatorKind: UnaryOperatorKind.Not, Operand: var operand } => IsGuard(operand),
            IBinaryOperation { OperatorKind: BinaryOperatorKind.Equals, LeftOperand: var left, RightOperand: var right }
                => (IsGuard(left) && IsFalse(right)) || (IsGuard(right) && IsFalse(left)),
            _ => false,
        };
    }

    private static bool IsFalse(IOperation operation) => operation.ConstantValue is { HasValue: true, Value: false };

    private static bool IsGuard(IOperation condition)
    {
        condition = OperationHelpers.WalkDownConversion(condition);
        var (name, type) = condition switch
        {
            IPropertyReferenceOperation { Arguments.Length: 0 } property => (property.Property.Name, property.Type),
            IInvocationOperation { Arguments.Length: 0 } invocation => (invocation.TargetMethod.Name, invocation.Type),
            _ => (null, null),
        };
        return type?.SpecialType == SpecialType.System_Boolean
            && name is "InEventLoop" or "IsInEventLoop" or "IsOnLoopThread" or "InLoop" or "IsInLoop" or "IsOnEventLoopThread";
    }
}
