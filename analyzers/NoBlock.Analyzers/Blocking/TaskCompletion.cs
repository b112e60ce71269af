using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Operations;

namespace NoBlock.Analyzers.Blocking;

/// <summary>
/// Knows when <c>.Result</c>, <c>.Wait()</c> or <c>GetResult()</c> reads a task that is already complete on this
/// path, so the call returns at once: after an <c>IsCompleted</c> / <c>IsCompletedSuccessfully</c> /
/// <c>Status == RanToCompletion</c> check, inside a <c>ContinueWith</c> on that task, after <c>await</c> of the
/// task, of <c>Task.WhenAll</c> including it, or of <c>Task.WhenAny</c> (the task it returns, or its only task).
/// </summary>
internal static class TaskCompletion
{
    /// <summary>How many callers up a "reached only after IsCompleted" check is looked for.</summary>
    private const int MaxCallerDepth = 2;

    public static bool IsKnownComplete(IOperation use)
    {
        var (taskExpression, awaiterExpression) = Receivers(use);
        var task = OperationHelpers.ReferencedSymbol(taskExpression);
        var awaiter = OperationHelpers.ReferencedSymbol(awaiterExpression);
        if (task is null && awaiter is null)
        {
            return false;
        }

        return IsCompleteAt(use, task, awaiter, depth: 0)
               || task is null && use is IInvocationOperation && ReadByTypeOutsideCallersCannotJudge(use)
                  && IsHandRolledAwaiterField(awaiter, use.SemanticModel?.Compilation);
    }

    /// <summary>
    /// The use sits in a non-private instance method: its callers are outside the type's view (another type drains a
    /// queue the type put itself on once the awaiter completed), so they cannot be checked the way a private
    /// helper's callers are. A private helper is still judged by its callers.
    /// </summary>
    private static bool ReadByTypeOutsideCallersCannotJudge(IOperation use)
        => use.SemanticModel?.GetEnclosingSymbol(use.Syntax.SpanStart) is IMethodSymbol { MethodKind: MethodKind.Ordinary, IsStatic: false } method
           && method.DeclaredAccessibility != Accessibility.Private;

    /// <summary>
    /// <c>GetResult()</c> in a non-private method, on a private instance field holding an awaiter that its type runs by
    /// hand: the type registers a continuation on it (<c>_readAwaiter.UnsafeOnCompleted(…)</c> / <c>OnCompleted(…)</c>),
    /// or hands its completion to callers, returning <c>_readAwaiter.IsCompleted</c> from a non-private member
    /// (<c>bool TryStartRead() { _a = …GetAwaiter(); return _a.IsCompleted; }</c>, so that a caller queues the object
    /// only once it completed and a loop reads the result later). Either way the type checks <c>IsCompleted</c> or waits
    /// for the continuation in one place and reads the result in another (a helper, a queue drained later).
    /// Sync-over-async is <c>t.GetAwaiter().GetResult()</c>, or an awaiter whose completion is neither awaited by a
    /// continuation nor told to anyone; both are still reported. An <c>IsCompleted</c> only tested inside the type
    /// (not returned) is not this evidence: the use itself must then be reached after it.
    /// </summary>
    private static bool IsHandRolledAwaiterField(ISymbol? awaiter, Compilation? compilation)
    {
        if (compilation is null || awaiter is not IFieldSymbol { IsStatic: false, DeclaredAccessibility: Accessibility.Private } field)
        {
            return false;
        }

        foreach (var reference in field.ContainingType.DeclaringSyntaxReferences)
        {
            var model = OtherDocuments.ModelFor(compilation, reference.SyntaxTree);
            if (model is null)
            {
                continue;
            }

            foreach (var node in reference.GetSyntax().DescendantNodes())
            {
                if (node is Microsoft.CodeAnalysis.CSharp.Syntax.IdentifierNameSyntax name && name.Identifier.ValueText == field.Name
                    && model.GetOperation(name) is IFieldReferenceOperation use && SymbolEqualityComparer.Default.Equals(use.Field, field)
                    && (RegistersContinuation(use) || HandsCompletionToCallers(use, model)))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary><c>_field.OnCompleted(…)</c> / <c>_field.UnsafeOnCompleted(…)</c>.</summary>
    private static bool RegistersContinuation(IFieldReferenceOperation use)
        => use.Parent is IInvocationOperation { TargetMethod.Name: "OnCompleted" or "UnsafeOnCompleted", TargetMethod.Parameters.Length: 1 } registration
           && registration.Instance == use;

    /// <summary><c>return _field.IsCompleted;</c> (or <c>=> _field.IsCompleted</c>) in a non-private member: the callers decide when to read the result.</summary>
    private static bool HandsCompletionToCallers(IFieldReferenceOperation use, SemanticModel model)
    {
        if (use.Parent is not IPropertyReferenceOperation { Property.Name: "IsCompleted" } completed || completed.Instance != use)
        {
            return false;
        }

        IOperation? returned = completed.Parent;
        while (returned is IConversionOperation or IParenthesizedOperation)
        {
            returned = returned.Parent;
        }

        return returned is IReturnOperation
               && model.GetEnclosingSymbol(use.Syntax.SpanStart) is IMethodSymbol { IsStatic: false } member
               && (member.AssociatedSymbol ?? member).DeclaredAccessibility != Accessibility.Private;
    }

    private static bool IsCompleteAt(IOperation use, ISymbol? task, ISymbol? awaiter, int depth)
    {
        IOperation child = use;
        for (var parent = use.Parent; parent is not null; child = parent, parent = parent.Parent)
        {
            switch (parent)
            {
                case IConditionalOperation conditional when conditional.Condition != child:
                    if (child == conditional.WhenTrue && AssertsComplete(conditional.Condition, task, awaiter, negated: false))
                    {
                        return true;
                    }

                    if (child == conditional.WhenFalse && AssertsComplete(conditional.Condition, task, awaiter, negated: true))
                    {
                        return true;
                    }

                    break;
                case IBinaryOperation { OperatorKind: BinaryOperatorKind.ConditionalAnd } conjunction when conjunction.RightOperand == child:
                    if (AssertsComplete(conjunction.LeftOperand, task, awaiter, negated: false))
                    {
                        return true;
                    }

                    break;
                case IBinaryOperation { OperatorKind: BinaryOperatorKind.ConditionalOr } disjunction when disjunction.RightOperand == child:
                    if (AssertsComplete(disjunction.LeftOperand, task, awaiter, negated: true))
                    {
                        return true;
                    }

                    break;
                case IBlockOperation block:
                    if (PrecedingStatementsComplete(block, child, task) || PrecedingStatementsComplete(block, child, awaiter))
                    {
                        return true;
                    }

                    break;
                case IAnonymousFunctionOperation lambda:
                    return InsideContinuation(lambda, task) || InsideContinuation(lambda, awaiter);
                case ILocalFunctionOperation:
                    return false;
                case IMethodBodyOperation:
                    return AfterCompletionInCaller(use, task ?? awaiter, depth);
            }
        }

        return AfterCompletionInCaller(use, task ?? awaiter, depth);
    }

    /// <summary>The method the use sits in is reached only once the awaiter completed (its own GetResult, or every caller checked).</summary>
    private static bool AfterCompletionInCaller(IOperation use, ISymbol? receiver, int depth)
        => receiver is not null && use.SemanticModel is { } model
           && model.GetEnclosingSymbol(use.Syntax.SpanStart) is IMethodSymbol { MethodKind: MethodKind.Ordinary } method
           && (InsideAwaiterGetResult(method, receiver, model.Compilation)
               || depth < MaxCallerDepth && ReachedOnlyAfterCompletion(method, receiver, model.Compilation, depth));

    /// <summary>
    /// In an awaiter's own <c>GetResult</c> (a type with <c>IsCompleted</c> and <c>OnCompleted</c> /
    /// <c>UnsafeOnCompleted</c>), the task it wraps is complete when <c>IsCompleted</c> reports on it: the awaiter
    /// pattern calls <c>GetResult</c> only after <c>IsCompleted</c> was true or the continuation ran. An explicit,
    /// unguarded <c>GetResult()</c> call on such an awaiter is the caller's sync-over-async, not the awaiter's.
    /// </summary>
    private static bool InsideAwaiterGetResult(IMethodSymbol method, ISymbol? wrapped, Compilation compilation)
    {
        if (wrapped is not (IFieldSymbol or IPropertySymbol) || method.Name != "GetResult" || method.IsStatic
            || !SymbolEqualityComparer.Default.Equals(wrapped.ContainingType, method.ContainingType))
        {
            return false;
        }

        var type = method.ContainingType;
        var hasContinuation = false;
        foreach (var member in type.GetMembers())
        {
            hasContinuation |= member is IMethodSymbol { Name: "OnCompleted" or "UnsafeOnCompleted", Parameters.Length: 1 };
        }

        if (!hasContinuation)
        {
            return false;
        }

        foreach (var member in type.GetMembers("IsCompleted"))
        {
            if (member is IPropertySymbol { Type.SpecialType: SpecialType.System_Boolean, GetMethod: { } getter } && BodyMentions(getter, wrapped, compilation))
            {
                return true;
            }
        }

        return false;
    }

    private static bool BodyMentions(IMethodSymbol method, ISymbol symbol, Compilation compilation)
    {
        foreach (var reference in method.DeclaringSyntaxReferences)
        {
            var syntax = reference.GetSyntax();
            if (OtherDocuments.ModelFor(compilation, syntax.SyntaxTree)?.GetOperation(syntax) is { } body && Mentions(body, symbol))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A private method whose every use in its type comes after the awaiter was seen complete: called under an
    /// <c>IsCompleted</c> guard (on the same field, or on the argument passed for the parameter), or handed as the
    /// continuation to that awaiter's <c>OnCompleted</c> / <c>UnsafeOnCompleted</c>.
    /// </summary>
    private static bool ReachedOnlyAfterCompletion(IMethodSymbol method, ISymbol? receiver, Compilation compilation, int depth)
    {
        if (receiver is null || method.DeclaredAccessibility != Accessibility.Private || method.MethodKind != MethodKind.Ordinary)
        {
            return false;
        }

        var isParameter = receiver is IParameterSymbol;
        if (!isParameter && (receiver is not (IFieldSymbol or IPropertySymbol) || !SymbolEqualityComparer.Default.Equals(receiver.ContainingType, method.ContainingType)))
        {
            return false;
        }

        var uses = 0;
        foreach (var reference in method.ContainingType.DeclaringSyntaxReferences)
        {
            var model = OtherDocuments.ModelFor(compilation, reference.SyntaxTree);
            if (model is null)
            {
                return false;
            }

            foreach (var node in reference.GetSyntax().DescendantNodes())
            {
                if (node is not Microsoft.CodeAnalysis.CSharp.Syntax.SimpleNameSyntax name || name.Identifier.ValueText != method.Name)
                {
                    continue;
                }

                SyntaxNode used = name;
                if (used.Parent is Microsoft.CodeAnalysis.CSharp.Syntax.MemberAccessExpressionSyntax access && access.Name == used)
                {
                    used = access;
                }

                if (used.Parent is Microsoft.CodeAnalysis.CSharp.Syntax.InvocationExpressionSyntax invocation && invocation.Expression == used)
                {
                    used = invocation;
                }

                switch (model.GetOperation(used))
                {
                    case IInvocationOperation call when SymbolEqualityComparer.Default.Equals(call.TargetMethod.OriginalDefinition, method.OriginalDefinition):
                        uses++;
                        var atCall = isParameter ? ArgumentFor(call, (IParameterSymbol)receiver) : receiver;
                        if (atCall is null || !IsCompleteAt(call, atCall, atCall, depth + 1))
                        {
                            return false;
                        }

                        break;
                    case IMethodReferenceOperation group when SymbolEqualityComparer.Default.Equals(group.Method.OriginalDefinition, method.OriginalDefinition):
                        uses++;
                        if (isParameter || !IsContinuationOf(group, receiver) && !IsStoredContinuationOf(group, receiver, compilation))
                        {
                            return false;
                        }

                        break;
                    default:
                        if (model.GetSymbolInfo(name).Symbol is IMethodSymbol named && SymbolEqualityComparer.Default.Equals(named.OriginalDefinition, method.OriginalDefinition))
                        {
                            return false; // used some other way (nameof aside, which binds no method)
                        }

                        break;
                }
            }
        }

        return uses > 0;
    }

    private static ISymbol? ArgumentFor(IInvocationOperation call, IParameterSymbol parameter)
    {
        foreach (var argument in call.Arguments)
        {
            if (argument.Parameter?.Ordinal == parameter.Ordinal)
            {
                return OperationHelpers.ReferencedSymbol(argument.Value);
            }
        }

        return null;
    }

    /// <summary>
    /// <c>_onRead = OnRead;</c> (or a field initializer) where every other use of the private field <c>_onRead</c>
    /// in its type is <c>awaiter.OnCompleted(_onRead)</c> / <c>UnsafeOnCompleted(_onRead)</c> on this receiver: the
    /// delegate cached once so that registering the continuation allocates nothing.
    /// </summary>
    private static bool IsStoredContinuationOf(IMethodReferenceOperation group, ISymbol receiver, Compilation compilation)
    {
        var stored = OperationHelpers.PassedTo(group) switch
        {
            ISimpleAssignmentOperation assignment => OperationHelpers.ReferencedSymbol(assignment.Target),
            IFieldInitializerOperation initializer when initializer.InitializedFields.Length == 1 => initializer.InitializedFields[0],
            _ => null,
        };

        if (stored is not IFieldSymbol { DeclaredAccessibility: Accessibility.Private } field)
        {
            return false;
        }

        var registered = 0;
        foreach (var reference in field.ContainingType.DeclaringSyntaxReferences)
        {
            var model = OtherDocuments.ModelFor(compilation, reference.SyntaxTree);
            if (model is null)
            {
                return false;
            }

            foreach (var node in reference.GetSyntax().DescendantNodes())
            {
                if (node is not Microsoft.CodeAnalysis.CSharp.Syntax.IdentifierNameSyntax name || name.Identifier.ValueText != field.Name
                    || model.GetOperation(name) is not IFieldReferenceOperation use || !SymbolEqualityComparer.Default.Equals(use.Field, field))
                {
                    continue;
                }

                var parent = use.Parent is IConversionOperation conversion ? conversion.Parent : use.Parent;
                if (parent is ISimpleAssignmentOperation assignment && assignment.Target == use)
                {
                    continue; // the assignment that stores the method group
                }

                if (!IsContinuationOf(use, receiver))
                {
                    return false;
                }

                registered++;
            }
        }

        return registered > 0;
    }

    /// <summary><c>awaiter.OnCompleted(f)</c> / <c>UnsafeOnCompleted(f)</c>, or <c>task.GetAwaiter().OnCompleted(f)</c>, on this symbol.</summary>
    private static bool IsContinuationOf(IOperation function, ISymbol receiver)
    {
        if (OperationHelpers.PassedTo(function) is not IArgumentOperation { Parent: IInvocationOperation { TargetMethod.Name: "OnCompleted" or "UnsafeOnCompleted", Instance: { } instance } })
        {
            return false;
        }

        instance = OperationHelpers.WalkDownConversion(instance);
        if (instance is IInvocationOperation { TargetMethod.Name: "GetAwaiter", Instance: { } awaited })
        {
            instance = awaited;
        }

        return SymbolEqualityComparer.Default.Equals(OperationHelpers.ReferencedSymbol(instance), receiver);
    }

    private static (IOperation? Task, IOperation? Awaiter) Receivers(IOperation use)
    {
        switch (use)
        {
            case IPropertyReferenceOperation property:
                return (property.Instance, null);
            case IInvocationOperation { TargetMethod.Name: "GetResult" } getResult:
                var awaiter = getResult.Instance is null ? null : OperationHelpers.WalkDownConversion(getResult.Instance);
                if (awaiter is IInvocationOperation { TargetMethod.Name: "GetAwaiter" } getAwaiter)
                {
                    var task = getAwaiter.Instance is null ? null : OperationHelpers.WalkDownConversion(getAwaiter.Instance);
                    if (task is IInvocationOperation { TargetMethod.Name: "ConfigureAwait" } configure)
                    {
                        task = configure.Instance;
                    }

                    return (task, null);
                }

                return (null, awaiter);
            case IInvocationOperation invocation:
                return (invocation.Instance, null);
            default:
                return (null, null);
        }
    }

    /// <summary>True when <paramref name="condition"/> being true (or false, if negated) means the task is complete.</summary>
    private static bool AssertsComplete(IOperation condition, ISymbol? task, ISymbol? awaiter, bool negated)
    {
        condition = OperationHelpers.WalkDownConversion(condition);
        switch (condition)
        {
            case IUnaryOperation { OperatorKind: UnaryOperatorKind.Not } not:
                return AssertsComplete(not.Operand, task, awaiter, !negated);
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.ConditionalAnd } conjunction when !negated:
                return AssertsComplete(conjunction.LeftOperand, task, awaiter, false) || AssertsComplete(conjunction.RightOperand, task, awaiter, false);
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.ConditionalOr } disjunction when negated:
                // !(a || b) is !a && !b: either being false is enough
                return AssertsComplete(disjunction.LeftOperand, task, awaiter, true) || AssertsComplete(disjunction.RightOperand, task, awaiter, true);
            case IPropertyReferenceOperation { Property.Name: "IsCompleted" or "IsCompletedSuccessfully" } property when !negated:
                return IsSame(property.Instance, task, awaiter);
            case IBinaryOperation { OperatorKind: BinaryOperatorKind.Equals or BinaryOperatorKind.NotEquals } equals:
                var expectsEqual = equals.OperatorKind == BinaryOperatorKind.Equals;
                if (expectsEqual == negated)
                {
                    return false;
                }

                return IsRanToCompletion(equals.LeftOperand, equals.RightOperand, task) || IsRanToCompletion(equals.RightOperand, equals.LeftOperand, task)
                    || IsCompletedFlagEquals(equals.LeftOperand, equals.RightOperand, task, awaiter) || IsCompletedFlagEquals(equals.RightOperand, equals.LeftOperand, task, awaiter);
            default:
                return false;
        }
    }

    private static bool IsRanToCompletion(IOperation status, IOperation value, ISymbol? task)
        => OperationHelpers.WalkDownConversion(status) is IPropertyReferenceOperation { Property.Name: "Status" } property
           && IsSame(property.Instance, task, null)
           && OperationHelpers.WalkDownConversion(value) is IFieldReferenceOperation { Field.Name: "RanToCompletion" };

    private static bool IsCompletedFlagEquals(IOperation flag, IOperation value, ISymbol? task, ISymbol? awaiter)
        => OperationHelpers.WalkDownConversion(flag) is IPropertyReferenceOperation { Property.Name: "IsCompleted" or "IsCompletedSuccessfully" } property
           && IsSame(property.Instance, task, awaiter)
           && value.ConstantValue is { HasValue: true, Value: true };

    private static bool IsSame(IOperation? instance, ISymbol? task, ISymbol? awaiter)
    {
        var symbol = OperationHelpers.ReferencedSymbol(instance);
        return symbol is not null && (SymbolEqualityComparer.Default.Equals(symbol, task) || SymbolEqualityComparer.Default.Equals(symbol, awaiter));
    }

    /// <summary>Statements before <paramref name="child"/> in the block that leave the task complete.</summary>
    private static bool PrecedingStatementsComplete(IBlockOperation block, IOperation child, ISymbol? task)
    {
        if (task is null)
        {
            return false;
        }

        foreach (var statement in block.Operations)
        {
            if (statement == child)
            {
                return false;
            }

            // if (!t.IsCompleted) return;  (or throw / break / continue)
            if (statement is IConditionalOperation { WhenFalse: null } guard && Exits(guard.WhenTrue) && AssertsComplete(guard.Condition, task, null, negated: true))
            {
                return true;
            }

            foreach (var operation in statement.DescendantsAndSelf())
            {
                if (operation is IAwaitOperation awaited && AwaitCompletes(awaited, task))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool Exits(IOperation operation)
    {
        if (operation is IBlockOperation { Operations.Length: > 0 } block)
        {
            operation = block.Operations[block.Operations.Length - 1];
        }

        return operation is IReturnOperation or IThrowOperation or IBranchOperation { BranchKind: BranchKind.Break or BranchKind.Continue }
            || operation is IExpressionStatementOperation { Operation: IThrowOperation };
    }

    private static bool AwaitCompletes(IAwaitOperation awaited, ISymbol task)
    {
        var operand = OperationHelpers.WalkDownConversion(awaited.Operation);
        if (operand is IInvocationOperation { TargetMethod.Name: "ConfigureAwait" } configure && configure.Instance is not null)
        {
            operand = OperationHelpers.WalkDownConversion(configure.Instance);
        }

        if (SymbolEqualityComparer.Default.Equals(OperationHelpers.ReferencedSymbol(operand), task))
        {
            return true; // await t; … t.Result
        }

        if (operand is not IInvocationOperation { TargetMethod: { Name: "WhenAll" or "WhenAny", ContainingType.Name: "Task" } } when)
        {
            return false;
        }

        if (when.TargetMethod.Name == "WhenAll")
        {
            return Mentions(when, task);
        }

        // var done = await Task.WhenAny(a, b); done.Result  — or WhenAny of the task alone.
        if (awaited.Parent is IVariableInitializerOperation { Parent: IVariableDeclaratorOperation declarator }
            && SymbolEqualityComparer.Default.Equals(declarator.Symbol, task))
        {
            return true;
        }

        // WhenAny of one task (through its params array or span) completes that task.
        ISymbol? only = null;
        foreach (var descendant in when.Descendants())
        {
            if (descendant.Type is INamedTypeSymbol { Name: "Task" })
            {
                var referenced = OperationHelpers.ReferencedSymbol(descendant);
                if (referenced is null || only is not null && !SymbolEqualityComparer.Default.Equals(only, referenced))
                {
                    return false;
                }

                only = referenced;
            }
        }

        return SymbolEqualityComparer.Default.Equals(only, task);
    }

    private static bool Mentions(IOperation operation, ISymbol symbol)
    {
        foreach (var descendant in operation.Descendants())
        {
            if (SymbolEqualityComparer.Default.Equals(OperationHelpers.ReferencedSymbol(descendant), symbol))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary><c>t.ContinueWith(p =&gt; p.Result)</c> and <c>t.ContinueWith(_ =&gt; t.Result)</c>.</summary>
    private static bool InsideContinuation(IAnonymousFunctionOperation lambda, ISymbol? task)
    {
        if (task is null)
        {
            return false;
        }

        if (IsContinuationOf(lambda, task))
        {
            return true; // awaiter.OnCompleted(() => awaiter.GetResult())
        }

        if (OperationHelpers.PassedTo(lambda) is not IArgumentOperation { Parent: IInvocationOperation { TargetMethod.Name: "ContinueWith" } continueWith })
        {
            return false;
        }

        if (lambda.Symbol.Parameters.Length > 0 && SymbolEqualityComparer.Default.Equals(lambda.Symbol.Parameters[0], task))
        {
            return true;
        }

        return continueWith.Instance is { } antecedent
            && (SymbolEqualityComparer.Default.Equals(OperationHelpers.ReferencedSymbol(antecedent), task)
                || antecedent is IInvocationOperation { TargetMethod.Name: "WhenAll" } whenAll && Mentions(whenAll, task));
    }
}
