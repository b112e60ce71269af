using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Operations;

namespace NoBlock.Analyzers.HandlerContext;

/// <summary>An <c>EINTR</c> retry loop around a wait is not a dispatch loop: the wait in it is still "one wait".</summary>
internal static class RetryLoops
{
    /// <summary>
    /// <c>do { n = epoll_wait(…); } while (n &lt; 0 &amp;&amp; errno == EINTR);</c>: mentions EINTR and calls nothing but
    /// the wait, errno getters and what a retry does between tries — backs off (<c>Thread.Yield</c>,
    /// <c>Thread.SpinWait</c>, <c>SpinWait.SpinOnce</c>, <c>Thread.Sleep</c>) or logs (console, <c>TextWriter</c>,
    /// <c>Debug</c>/<c>Trace</c>, <c>Microsoft.Extensions.Logging</c>, a method named <c>Log…</c> or on a type named
    /// <c>…Log…</c>, string formatting) — without touching the events the wait returned: a loop that reads them
    /// dispatches.
    /// </summary>
    public static bool IsRetryLoop(ILoopOperation loop, System.Func<IMethodSymbol, bool> isEpollWait)
    {
        var mentionsEintr = false;
        var buffers = EventBuffers(loop, isEpollWait);
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
                case IInvocationOperation invocation when isEpollWait(invocation.TargetMethod) || IsErrnoRead(invocation):
                    break;
                case IInvocationOperation invocation when IsBetweenTries(invocation.TargetMethod) && !ReadsAny(invocation, buffers):
                    break;
                case IInvocationOperation:
                    return false;
            }
        }

        return mentionsEintr;
    }

    /// <summary>The locals, fields and parameters passed as a wait's events buffer (pointer, array or span arguments).</summary>
    private static HashSet<ISymbol> EventBuffers(ILoopOperation loop, System.Func<IMethodSymbol, bool> isEpollWait)
    {
        var buffers = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        foreach (var operation in loop.Descendants())
        {
            if (operation is not IInvocationOperation wait || !isEpollWait(wait.TargetMethod))
            {
                continue;
            }

            foreach (var argument in wait.Arguments)
            {
                if (argument.Parameter?.Type is IPointerTypeSymbol or IArrayTypeSymbol or INamedTypeSymbol { Name: "Span" or "Memory" }
                    && OperationHelpers.ReferencedSymbol(argument.Value) is { } buffer)
                {
                    buffers.Add(buffer);
                }
            }
        }

        return buffers;
    }

    private static bool ReadsAny(IOperation operation, HashSet<ISymbol> buffers)
    {
        if (buffers.Count == 0)
        {
            return false;
        }

        foreach (var inner in operation.DescendantsAndSelf())
        {
            if (OperationHelpers.ReferencedSymbol(inner) is { } symbol && buffers.Contains(symbol))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>What a retry loop does between tries: back off, log, format the message.</summary>
    private static bool IsBetweenTries(IMethodSymbol method)
    {
        var type = method.ContainingType;
        if (type is null)
        {
            return false;
        }

        var ns = type.ContainingNamespace?.ToDisplayString() ?? string.Empty;
        switch (ns, type.Name)
        {
            case ("System.Threading", "Thread"):
                return method.Name is "Yield" or "SpinWait" or "Sleep";
            case ("System.Threading", "SpinWait"):
                return method.Name is "SpinOnce" or "Reset";
            case ("System", "Console"):
                return method.Name.StartsWith("Write", System.StringComparison.Ordinal);
            case ("System.IO", "TextWriter"):
                return method.Name.StartsWith("Write", System.StringComparison.Ordinal) || method.Name == "Flush";
            case ("System.Diagnostics", "Debug" or "Trace"):
            case ("System", "String"):
                return true;
            case ("System.Runtime.InteropServices", "Marshal"):
                return method.Name is "GetPInvokeErrorMessage" or "GetLastPInvokeErrorMessage";
        }

        if (method.Name == "ToString" || ns.StartsWith("Microsoft.Extensions.Logging", System.StringComparison.Ordinal) || ns == "System.Runtime.CompilerServices" && type.Name.StartsWith("DefaultInterpolatedStringHandler", System.StringComparison.Ordinal))
        {
            return true;
        }

        return method.Name.StartsWith("Log", System.StringComparison.Ordinal) || type.Name.IndexOf("Log", System.StringComparison.Ordinal) >= 0;
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
