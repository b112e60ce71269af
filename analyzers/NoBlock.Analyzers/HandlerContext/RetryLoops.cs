using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Operations;

namespace NoBlock.Analyzers.HandlerContext;

/// <summary>An <c>EINTR</c> retry loop around a wait is not a dispatch loop: the wait in it is still "one wait".</summary>
internal static class RetryLoops
{
    /// <summary>
    /// <c>do { n = epoll_wait(…); } while (n &lt; 0 &amp;&amp; errno == EINTR);</c>: mentions EINTR and calls nothing but
    /// the wait and errno getters.
    /// </summary>
    public static bool IsRetryLoop(ILoopOperation loop, System.Func<IMethodSymbol, bool> isEpollWait)
    {
        var mentionsEintr = false;
        foreach (var operation in loop.Descendants())
        {
            switch (operation)
            {
                case IFieldReferenceOperation { Field.Name: "EINTR" }:
                case ILocalReferenceOperation { Local.Name: "EINTR" }:
                case IPropertyReferenceOperation { Property.Name: "EINTR" }:
                    mentionsEintr = true;
                    break;
                case IBinaryOperation { OperatorKind: BinaryOperatorKind.Equals } equals
                    when IsErrnoRead(equals.LeftOperand) && equals.RightOperand.ConstantValue is { HasValue: true, Value: 4 }
                      || IsErrnoRead(equals.RightOperand) && equals.LeftOperand.ConstantValue is { HasValue: true, Value: 4 }:
                    mentionsEintr = true; // EINTR is 4 on Linux
                    break;
                case IInvocationOperation invocation when !isEpollWait(invocation.TargetMethod) && !IsErrnoRead(invocation):
                    return false;
            }
        }

        return mentionsEintr;
    }

    private static bool IsErrnoRead(IOperation operation)
    {
        operation = OperationHelpers.WalkDownConversion(operation);
        return operation switch
        {
            IInvocationOperation { TargetMethod.Name: "GetLastPInvokeError" or "GetLastWin32Error" or "GetLastError" or "GetLastSystemError" } => true,
            IPropertyReferenceOperation { Property.Name: "errno" } => true,
            IFieldReferenceOperation { Field.Name: "errno" } => true,
            ILocalReferenceOperation { Local.Name: "errno" } => true,
            _ => false,
        };
    }
}
