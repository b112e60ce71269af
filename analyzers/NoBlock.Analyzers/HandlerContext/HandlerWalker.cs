using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Blocking;

namespace NoBlock.Analyzers.HandlerContext;

/// <summary>What a walk over handler code finds.</summary>
internal interface IHandlerCodeSink
{
    /// <summary>
    /// A catalogued call or property read that blocks (or writes to the console) at this operation. With
    /// <paramref name="unlessNonBlocking"/>, it is socket I/O on that parameter: it blocks unless the caller passes a
    /// non-blocking socket (a sink that knows no caller treats it as blocking).
    /// </summary>
    void OnBlocking(IOperation operation, BlockingApis.Match match, IParameterSymbol? unlessNonBlocking);

    /// <summary>
    /// A method with source in this compilation that the operation runs (followed for NB0002), with how it was
    /// resolved. The operation is null for what a constructor runs implicitly (its base constructor). The call is the
    /// invocation or creation itself when there is one (its socket arguments' modes travel along the chain).
    /// </summary>
    void OnCallee(IOperation? operation, CallTarget target, bool insideLoop, IOperation? call);

    /// <summary>A call that waits on epoll (<c>epoll_wait</c>, <c>epoll_pwait</c>).</summary>
    void OnEpollWait(IInvocationOperation operation, bool insideLoop);
}

/// <summary>
/// Walks the code that runs when a region runs: the region's operations, lambdas and method groups that run
/// synchronously inside it, and local functions it calls — not work handed elsewhere, not <c>nameof</c>, not
/// calls to <c>[Conditional]</c> methods compiled out.
/// </summary>
internal sealed class HandlerWalker
{
    private readonly BlockingApis _apis;
    private readonly IAssemblySymbol _assembly;
    private readonly Func<IParameterSymbol, bool> _isHandlerParameter;
    private readonly CallTargets _targets;

    public HandlerWalker(BlockingApis apis, IAssemblySymbol assembly, Func<IParameterSymbol, bool> isHandlerParameter, CallTargets targets, BlockingSummaries? summaries = null)
    {
        _apis = apis;
        _assembly = assembly;
        _isHandlerParameter = isHandlerParameter;
        _targets = targets;
        Summaries = summaries ?? new BlockingSummaries(assembly);
    }

    public CallTargets Targets => _targets;

    /// <summary>What other assemblies' blocking summaries say about their members.</summary>
    public BlockingSummaries Summaries { get; }

    /// <summary>A callee NB0002 follows: its body is compiled here, or its assembly's summary says it blocks.</summary>
    public bool IsFollowed(IMethodSymbol method) => HasBodyHere(method) || Summaries.Find(method) is not null;

    /// <summary>
    /// Bodies NoBlock can follow: those compiled here. (A project reference exposes another project's source
    /// symbols, but its syntax trees are not part of this compilation.)
    /// </summary>
    public bool HasBodyHere(IMethodSymbol method)
        => !method.IsAbstract && !method.IsExtern
           && (method.DeclaringSyntaxReferences.Length > 0 || IsImplicitConstructorHere(method))
           && SymbolEqualityComparer.Default.Equals(method.ContainingAssembly, _assembly);

    /// <summary>An implicit instance constructor of a source type: no body, but it runs the initializers and the base constructor.</summary>
    private static bool IsImplicitConstructorHere(IMethodSymbol method)
        => method is { MethodKind: MethodKind.Constructor, IsStatic: false, IsImplicitlyDeclared: true }
           && method.ContainingType.DeclaringSyntaxReferences.Length > 0;

    public void Walk(IOperation root, IHandlerCodeSink sink, Func<IOperation, bool>? exclude = null)
    {
        var localFunctions = new Dictionary<IMethodSymbol, ILocalFunctionOperation>(SymbolEqualityComparer.Default);
        var walkedLocalFunctions = new HashSet<IMethodSymbol>(SymbolEqualityComparer.Default);
        var stack = new Stack<IOperation>();
        var sites = new List<CallSite>();
        var targets = new List<CallTarget>(); // scratch for Check, one per walk (a callee's facts start walks of their own)
        stack.Push(root);
        while (stack.Count > 0)
        {
            var operation = stack.Pop();
            if (exclude is not null && exclude(operation))
            {
                continue;
            }

            var descend = true;
            switch (operation)
            {
                case IAnonymousFunctionOperation lambda when operation != root:
                    descend = Offloading.RunsInline(lambda, _isHandlerParameter);
                    break;
                case IConditionalOperation conditional when LoopThreadGuard.OffLoopBranch(conditional) is { } offLoop:
                    // if (!executor.InEventLoop) { … }: that branch runs elsewhere; the condition and the other branch are walked.
                    descend = false;
                    if (conditional.WhenFalse is { } whenFalse && whenFalse != offLoop)
                    {
                        stack.Push(whenFalse);
                    }

                    if (conditional.WhenTrue != offLoop)
                    {
                        stack.Push(conditional.WhenTrue);
                    }

                    stack.Push(conditional.Condition);
                    break;
                case ILocalFunctionOperation localFunction when operation != root:
                    localFunctions[localFunction.Symbol] = localFunction;
                    descend = false;
                    break;
                case INameOfOperation:
                case ITypeOfOperation:
                    descend = false;
                    break;
                case IInvocationOperation invocation when IsCompiledOut(invocation):
                    descend = false;
                    break;
                case IInvocationOperation invocation when invocation.TargetMethod.MethodKind == MethodKind.LocalFunction:
                    var called = invocation.TargetMethod.OriginalDefinition;
                    if (walkedLocalFunctions.Add(called) && FindLocalFunction(root, called, localFunctions) is { } calledBody)
                    {
                        stack.Push(calledBody.Body ?? (IOperation)calledBody);
                        // the local function's own node would be skipped above, so push its body
                    }

                    break;
                case IMethodReferenceOperation reference when Offloading.RunsInline(reference, _isHandlerParameter):
                    if (reference.Method.MethodKind == MethodKind.LocalFunction)
                    {
                        var target = reference.Method.OriginalDefinition;
                        if (walkedLocalFunctions.Add(target) && FindLocalFunction(root, target, localFunctions) is { Body: { } body })
                        {
                            stack.Push(body);
                        }
                    }
                    else
                    {
                        Check(reference, new CallSite(reference.Method, reference.Instance, SynchronousCallees.DispatchOf(reference.Method, reference.Instance), reference.Method.Name), sink, targets);
                    }

                    break;
            }

            if (operation is not IInvocationOperation { TargetMethod.MethodKind: MethodKind.LocalFunction } && operation is not IMethodReferenceOperation && descend)
            {
                sites.Clear();
                SynchronousCallees.Collect(operation, sites);
                foreach (var site in sites)
                {
                    Check(operation, site, sink, targets);
                }
            }

            if (descend)
            {
                PushChildren(stack, operation);
            }
        }
    }

    private void Check(IOperation operation, CallSite site, IHandlerCodeSink sink, List<CallTarget> targets)
    {
        var method = site.Method;
        var match = _apis.Find(method);
        if (match.IsHit)
        {
            if (match.Row!.IsEpollWait && operation is IInvocationOperation wait)
            {
                sink.OnEpollWait(wait, IsInsideLoop(operation, loop => !RetryLoops.IsRetryLoop(loop, _apis.IsEpollWait)));
            }

            if (BlockingConditions.Blocks(match.Row, operation, method))
            {
                sink.OnBlocking(operation, match, BlockingConditions.UnlessNonBlockingParameter(match.Row, operation));
            }

            return;
        }

        targets.Clear();
        _targets.Resolve(site, targets);
        var reportAt = SynchronousCallees.ReportedAt(operation);
        foreach (var target in targets)
        {
            var definition = target.Method.PartialImplementationPart ?? target.Method;
            if (IsFollowedKind(definition.MethodKind, target.Reason is not null) && IsFollowed(definition))
            {
                sink.OnCallee(reportAt, target.WithMethod(definition.OriginalDefinition), IsInsideLoop(operation), operation);
            }
        }
    }

    /// <summary>Kinds of methods followed into; lambdas and local functions only as a delegate's targets (called directly, they are walked inline).</summary>
    private static bool IsFollowedKind(MethodKind kind, bool resolved) => kind switch
    {
        MethodKind.Ordinary or MethodKind.Constructor or MethodKind.PropertyGet or MethodKind.PropertySet or MethodKind.ExplicitInterfaceImplementation
            or MethodKind.UserDefinedOperator or MethodKind.Conversion or MethodKind.EventAdd or MethodKind.EventRemove => true,
        MethodKind.AnonymousFunction or MethodKind.LocalFunction => resolved,
        _ => false,
    };

    /// <summary>
    /// True when the operation sits inside a loop statement of its own function (not crossing lambdas), counting only
    /// the loops <paramref name="counts"/> accepts (all, by default). A foreach's collection is evaluated once, before it.
    /// </summary>
    public static bool IsInsideLoop(IOperation operation, Func<ILoopOperation, bool>? counts = null)
    {
        IOperation child = operation;
        for (var parent = operation.Parent; parent is not null; child = parent, parent = parent.Parent)
        {
            switch (parent)
            {
                case IForEachLoopOperation forEach when child == forEach.Collection:
                    continue; // evaluated once, before the loop
                case ILoopOperation loop when counts is null || counts(loop):
                    return true;
                case IAnonymousFunctionOperation:
                case ILocalFunctionOperation:
                    return false;
            }
        }

        return false;
    }

    private static ILocalFunctionOperation? FindLocalFunction(IOperation root, IMethodSymbol symbol, Dictionary<IMethodSymbol, ILocalFunctionOperation> seen)
    {
        if (seen.TryGetValue(symbol, out var known))
        {
            return known;
        }

        // Local functions may be declared after their first call, and in enclosing scopes of the region.
        var top = root;
        while (top.Parent is not null)
        {
            top = top.Parent;
        }

        foreach (var candidate in top.DescendantsAndSelf().OfType<ILocalFunctionOperation>())
        {
            seen[candidate.Symbol] = candidate;
        }

        return seen.TryGetValue(symbol, out known) ? known : null;
    }

    private static void PushChildren(Stack<IOperation> stack, IOperation operation)
    {
        // Push in reverse so that children are visited in source order (the first finding is the first in the code).
        foreach (var child in operation.ChildOperations.Reverse())
        {
            stack.Push(child);
        }
    }

    /// <summary>A call to a <c>[Conditional("X")]</c> method where X is not defined: the compiler removes it.</summary>
    private static bool IsCompiledOut(IInvocationOperation invocation)
    {
        var method = invocation.TargetMethod;
        List<string>? conditions = null;
        foreach (var attribute in method.GetAttributes())
        {
            if (attribute.AttributeClass is { Name: "ConditionalAttribute", ContainingNamespace: { Name: "Diagnostics" } }
                && attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is string symbol)
            {
                (conditions ??= new List<string>()).Add(symbol);
            }
        }

        if (conditions is null)
        {
            return false;
        }

        var tree = invocation.Syntax.SyntaxTree;
        var defined = new HashSet<string>(tree.Options is CSharpParseOptions options ? options.PreprocessorSymbolNames : Enumerable.Empty<string>(), StringComparer.Ordinal);
        // #define and #undef may only come before the file's first token (CS1032), so the scan stops there instead of
        // walking every #if and #region of the file up to the call.
        var root = (CSharpSyntaxNode)tree.GetRoot();
        var firstToken = root.GetFirstToken(includeZeroWidth: true, includeSkipped: true);
        var end = System.Math.Min(invocation.Syntax.SpanStart, firstToken.SpanStart);
        for (var directive = root.GetFirstDirective(); directive is not null; directive = directive.GetNextDirective())
        {
            if (directive.SpanStart > end)
            {
                break;
            }

            switch (directive)
            {
                case DefineDirectiveTriviaSyntax define:
                    defined.Add(define.Name.ValueText);
                    break;
                case UndefDirectiveTriviaSyntax undefine:
                    defined.Remove(undefine.Name.ValueText);
                    break;
            }
        }

        foreach (var condition in conditions)
        {
            if (defined.Contains(condition))
            {
                return false;
            }
        }

        return true;
    }
}
