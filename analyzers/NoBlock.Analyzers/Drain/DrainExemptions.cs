// Decides which non-draining calls are still correct and are not reported: an 8-byte counter read (eventfd,
// timerfd), a read-first design that records "no more data" under an EAGAIN test, a single read called in the
// caller's own loop, and a read after a drain (AfterDrain). Each call is judged once; a crash is reported at it.

using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Drain;

internal sealed partial class EdgeTriggeredTypeAnalysis
{
    private void Check(IInvocationOperation call, LibcCallKind kind, DrainScope scope, CallContext context)
    {
        if (!_checked.Add(call.Syntax))
        {
            return;
        }

        // One call that cannot be analyzed must not cost the others their analysis: the failure is reported at it.
        AnalyzerFailure.Guard(NoBlock.Analyzers.Rules.EdgeTriggeredDrainAnalyzer.AnalysisName, call.Syntax.GetLocation(), _failures.Add, () => CheckCore(call, kind, scope, context));
    }

    private void CheckCore(IInvocationOperation call, LibcCallKind kind, DrainScope scope, CallContext context)
    {
        if (IsCounterRead(call, kind) || KeepsMayHaveMoreFlag(call))
        {
            return;
        }

        var verdict = Verdict(call, kind, scope);
        if (verdict == DrainVerdict.CallsOnce && context.CalledInLoop)
        {
            // The caller calls this method in a loop of its own: that loop may be the drain.
            return;
        }

        if (verdict != DrainVerdict.Drains && (context.AfterDrain || IsAfterDrain(call, EdgeTriggeredCalls.FdArgument(call, kind), kind, scope)))
        {
            // The fd was already drained to EAGAIN on every path here: data read now arrived later, with its own edge.
            return;
        }

        if (verdict != DrainVerdict.Drains)
        {
            _findings.Add(new DrainFinding(call, kind, verdict));
        }
    }

    private DrainVerdict Verdict(IInvocationOperation call, LibcCallKind kind, DrainScope scope)
    {
        if (!_verdicts.TryGetValue(call.Syntax, out var verdict))
        {
            verdict = _flow.Analyze(TopOf(call), call, kind, scope);
            _verdicts[call.Syntax] = verdict;
        }

        return verdict;
    }

    private static bool IsCounterRead(IInvocationOperation invocation, LibcCallKind kind)
        => kind == LibcCallKind.Read
            && EdgeTriggeredCalls.CountArgument(invocation) is { ConstantValue: { HasValue: true, Value: { } count } }
            && System.Convert.ToInt64(count, System.Globalization.CultureInfo.InvariantCulture) == CounterReadSize;

    /// <summary>
    /// Read first, wait later: the function records "no more data" in a flag (a bool field or property set
    /// under an errno/EAGAIN test) and reads again only when asked; the edge is awaited only after EAGAIN, so one
    /// read per call is correct there.
    /// </summary>
    private static bool KeepsMayHaveMoreFlag(IInvocationOperation call)
    {
        IOperation function = call;
        while (function.Parent is not null && function is not (IAnonymousFunctionOperation or ILocalFunctionOperation))
        {
            function = function.Parent;
        }

        foreach (var node in function.Descendants())
        {
            if (node is IConditionalOperation conditional && MentionsEagain(conditional.Condition) && SetsBoolMember(conditional.WhenTrue))
            {
                return true;
            }
        }

        return false;
    }

    private static bool MentionsEagain(IOperation condition)
    {
        foreach (var node in condition.DescendantsAndSelf())
        {
            var name = node switch
            {
                IPropertyReferenceOperation property => property.Property.Name,
                IFieldReferenceOperation field => field.Field.Name,
                IInvocationOperation invocation => invocation.TargetMethod.Name,
                _ => null,
            };
            if (name is "errno" or "EAGAIN" or "EWOULDBLOCK" or "GetLastPInvokeError" or "GetLastWin32Error" or "GetLastSystemError")
            {
                return true;
            }
        }

        return false;
    }

    private static bool SetsBoolMember(IOperation operation)
    {
        foreach (var node in operation.DescendantsAndSelf())
        {
            if (node is ISimpleAssignmentOperation { Target: IFieldReferenceOperation or IPropertyReferenceOperation, Value.ConstantValue: { HasValue: true, Value: bool } })
            {
                return true;
            }
        }

        return false;
    }
}
