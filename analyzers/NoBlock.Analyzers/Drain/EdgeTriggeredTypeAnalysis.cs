using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Drain;

/// <summary>A read or accept on an edge-triggered fd that does not drain it.</summary>
internal readonly struct DrainFinding
{
    public DrainFinding(IInvocationOperation call, LibcCallKind kind, DrainVerdict verdict)
    {
        Call = call;
        Kind = kind;
        Verdict = verdict;
    }

    public IInvocationOperation Call { get; }

    public LibcCallKind Kind { get; }

    public DrainVerdict Verdict { get; }
}

/// <summary>
/// Finds, in one type, the reads and accepts that run on edge-triggered fds, and asks <see cref="DrainFlow"/>
/// whether each drains. Two routes:
/// <list type="bullet">
/// <item><c>EventLoop.Register(fd, … | IoEvents.EdgeTriggered, handler)</c>: the handler (lambda or method group
/// of the type) and the methods of the type it passes the event's fd to.</item>
/// <item>Raw epoll: a type whose every <c>epoll_ctl</c> ADD/MOD sets <c>EPOLLET</c> (and not <c>EPOLLONESHOT</c>):
/// its <c>epoll_wait</c> dispatch loops and the methods of the type they call. A type that also registers
/// level-triggered, one-shot or unknown masks is left alone: we cannot tell its fds apart.</item>
/// </list>
/// </summary>
internal sealed class EdgeTriggeredTypeAnalysis
{
    private const int MaxCallDepth = 4;

    /// <summary>An 8-byte read is how an eventfd or timerfd counter is consumed: one read drains it.</summary>
    private const long CounterReadSize = 8;

    private readonly EdgeTriggeredKnownSymbols _known;
    private readonly EdgeTriggeredCalls _calls;

    /// <summary>The body of a method of another type of this compilation (a helper the handler passes the fd to).</summary>
    private readonly System.Func<IMethodSymbol, IOperation?>? _externalBodies;
    private readonly TypeOperations _type;
    private readonly FlagEvaluator _flags;
    private readonly DrainFlow _flow;
    private readonly CancellationToken _cancellationToken;
    private readonly HashSet<SyntaxNode> _checked = new();
    private readonly Dictionary<SyntaxNode, DrainVerdict> _verdicts = new();
    private readonly Dictionary<(IMethodSymbol, int, LibcCallKind), bool> _drainsParameter = new();
    private readonly List<DrainFinding> _findings = new();
    private readonly List<Diagnostic> _failures = new();

    public EdgeTriggeredTypeAnalysis(EdgeTriggeredKnownSymbols known, EdgeTriggeredCalls calls, TypeOperations type, System.Func<IMethodSymbol, IOperation?>? externalBodies, CancellationToken cancellationToken)
    {
        _known = known;
        _externalBodies = externalBodies;
        _calls = calls;
        _type = type;
        _flags = new FlagEvaluator(type);
        _flow = new DrainFlow(calls, cancellationToken);
        _cancellationToken = cancellationToken;
    }

    /// <summary>NB9002 diagnostics for calls whose analysis threw (reported at the call).</summary>
    public IReadOnlyList<Diagnostic> Failures => _failures;

    public IReadOnlyList<DrainFinding> Run()
    {
        var registers = new List<IInvocationOperation>();
        var epollCtls = new List<IInvocationOperation>();
        var waits = new List<IInvocationOperation>();
        foreach (var invocation in _type.Invocations)
        {
            if (_known.IsRegister(invocation.TargetMethod))
            {
                registers.Add(invocation);
                continue;
            }

            switch (_calls.Classify(invocation))
            {
                case LibcCallKind.EpollCtl:
                    epollCtls.Add(invocation);
                    break;
                case LibcCallKind.Wait:
                    waits.Add(invocation);
                    break;
            }
        }

        foreach (var register in registers)
        {
            _cancellationToken.ThrowIfCancellationRequested();
            CheckRegistration(register);
        }

        if (epollCtls.Count > 0 && waits.Count > 0 && AllRegistrationsEdgeTriggered(epollCtls))
        {
            CheckDispatchLoops(waits, epollCtls);
        }

        return _findings;
    }

    // ---- EventLoop.Register ------------------------------------------------------------------------------

    private void CheckRegistration(IInvocationOperation register)
    {
        if (_known.IoEventsEdgeTriggered is not { } edgeTriggered)
        {
            return;
        }

        var interest = _flags.Evaluate(EdgeTriggeredCalls.Argument(register, 1));
        if (interest.Has(edgeTriggered) != Tri.Yes
            || (_known.IoEventsOneShot is { } oneShot && interest.Has(oneShot) != Tri.No))
        {
            return;
        }

        var sources = ImmutableHashSet.Create<ISymbol>(SymbolEqualityComparer.Default);
        if (SymbolOf(EdgeTriggeredCalls.Argument(register, 0)) is { } registeredFd)
        {
            sources = sources.Add(registeredFd);
        }

        var handler = EdgeTriggeredCalls.Argument(register, 2);
        if (handler is IDelegateCreationOperation creation)
        {
            handler = creation.Target;
        }

        var visited = new HashSet<IMethodSymbol>(SymbolEqualityComparer.Default);
        switch (handler)
        {
            case IAnonymousFunctionOperation lambda:
                if (lambda.Symbol.Parameters.Length > 0)
                {
                    sources = sources.Add(lambda.Symbol.Parameters[0]);
                }

                CheckCode(lambda.Body, sources, DrainScope.Empty, 0, CallContext.Handler, visited);
                break;
            case IMethodReferenceOperation reference when (_type.RootOf(reference.Method) ?? _externalBodies?.Invoke(reference.Method)) is { } root:
                var method = reference.Method.OriginalDefinition;
                if (method.Parameters.Length > 0)
                {
                    sources = sources.Add(method.Parameters[0]);
                }

                visited.Add(method);
                CheckCode(root, sources, DrainScope.Empty, 0, CallContext.Handler, visited);
                break;
        }
    }

    // ---- event-loop code: reads on the event's fd, and the methods of the type it calls ------------------

    /// <summary>
    /// Checks the reads and accepts in <paramref name="code"/> whose fd comes from the event (mentions one of
    /// <paramref name="sources"/>: the handler's <c>IoEvent</c>, the registered fd, the events buffer and its
    /// cursors, the fields registered with epoll_ctl, or a local or parameter holding one of them), then follows
    /// calls to methods of the type, mapping the arguments that carry the event to the callee's parameters.
    /// </summary>
    private void CheckCode(IOperation code, ImmutableHashSet<ISymbol> sources, DrainScope scope, int depth, CallContext context, HashSet<IMethodSymbol> visited)
    {
        foreach (var node in code.DescendantsAndSelf())
        {
            if (node is not IInvocationOperation invocation)
            {
                continue;
            }

            var kind = _calls.Classify(invocation);
            if (kind is LibcCallKind.Read or LibcCallKind.Accept)
            {
                if (IsFromEvent(EdgeTriggeredCalls.FdArgument(invocation, kind), sources, 0))
                {
                    Check(invocation, kind, scope, context);
                }

                continue;
            }

            var callee = invocation.TargetMethod.OriginalDefinition;
            if (depth >= MaxCallDepth || visited.Contains(callee))
            {
                continue;
            }

            var inThisType = SymbolEqualityComparer.Default.Equals(callee.ContainingType?.OriginalDefinition, _type.Type.OriginalDefinition);
            var calleeRoot = inThisType ? _type.RootOf(callee) : null;
            if (calleeRoot is null && !inThisType && HasEventArgument(invocation, sources))
            {
                // Another type's method is followed only when the event's fd is passed to it.
                calleeRoot = _externalBodies?.Invoke(callee);
            }

            if (calleeRoot is null)
            {
                continue;
            }

            // Fields keep meaning the same thing in a callee of the type; the caller's locals and parameters do not.
            var calleeSources = ImmutableHashSet.CreateBuilder<ISymbol>(SymbolEqualityComparer.Default);
            foreach (var source in sources)
            {
                if (source is IFieldSymbol && inThisType)
                {
                    calleeSources.Add(source);
                }
            }

            foreach (var argument in invocation.Arguments)
            {
                if (argument.Parameter is { } parameter && parameter.Ordinal < callee.Parameters.Length && IsFromEvent(argument.Value, sources, 0))
                {
                    calleeSources.Add(callee.Parameters[parameter.Ordinal]);
                }
            }

            if (calleeSources.Count > 0 && visited.Add(callee))
            {
                var calleeContext = new CallContext(
                    context.CalledInLoop || IsInOwnLoop(invocation, scope),
                    context.AfterDrain || IsAfterDrain(invocation, sources, scope));
                CheckCode(calleeRoot, calleeSources.ToImmutable(), scope, depth + 1, calleeContext, visited);
            }
        }
    }

    private bool HasEventArgument(IInvocationOperation invocation, ImmutableHashSet<ISymbol> sources)
    {
        foreach (var argument in invocation.Arguments)
        {
            if (IsFromEvent(argument.Value, sources, 0))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when an fd expression mentions an event source, or a local that only ever holds one.</summary>
    private bool IsFromEvent(IOperation? fd, ImmutableHashSet<ISymbol> sources, int depth)
    {
        if (fd is null || depth > 2)
        {
            return false;
        }

        foreach (var symbol in SymbolsIn(fd))
        {
            if (sources.Contains(symbol))
            {
                return true;
            }

            if (symbol is not ILocalSymbol)
            {
                continue;
            }

            var writes = _type.WritesTo(symbol);
            var all = writes.Count > 0;
            foreach (var write in writes)
            {
                var value = write switch
                {
                    IVariableDeclaratorOperation declarator => declarator.Initializer?.Value,
                    ISimpleAssignmentOperation assignment => assignment.Value,
                    _ => null,
                };
                all &= IsFromEvent(value, sources, depth + 1);
            }

            if (all)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A call made from inside a loop of the caller that neither waits nor moves to the next event: the caller may
    /// be the drain (<c>while (ReadChunk(fd)) { }</c>), so a single read in the callee is not judged.
    /// </summary>
    private bool IsInOwnLoop(IOperation call, DrainScope scope)
    {
        for (var current = call.Parent; current is not null; current = current.Parent)
        {
            if (current is IAnonymousFunctionOperation or ILocalFunctionOperation)
            {
                return false;
            }

            if (current is not ILoopOperation loop)
            {
                continue;
            }

            var own = true;
            foreach (var local in loop.Locals)
            {
                own &= !scope.Cursors.Contains(local);
            }

            foreach (var descendant in loop.Descendants())
            {
                switch (descendant)
                {
                    case IInvocationOperation invocation when _calls.Classify(invocation) == LibcCallKind.Wait || scope.IsWaitWrapper(invocation.TargetMethod):
                        own = false;
                        break;
                    case IIncrementOrDecrementOperation { Target: ILocalReferenceOperation local } when scope.Cursors.Contains(local.Local):
                    case IAssignmentOperation { Target: ILocalReferenceOperation assigned } when scope.Cursors.Contains(assigned.Local):
                        own = false;
                        break;
                }
            }

            if (own)
            {
                return true;
            }
        }

        return false;
    }

    private static ISymbol? SymbolOf(IOperation? operation) => operation is null ? null : FlagEvaluator.Strip(operation) switch
    {
        ILocalReferenceOperation local => local.Local,
        IParameterReferenceOperation parameter => parameter.Parameter,
        IFieldReferenceOperation field => field.Field.OriginalDefinition,
        _ => null,
    };

    // ---- raw epoll ---------------------------------------------------------------------------------------

    private bool AllRegistrationsEdgeTriggered(List<IInvocationOperation> epollCtls)
    {
        var any = false;
        foreach (var epollCtl in epollCtls)
        {
            var op = _flags.Evaluate(EdgeTriggeredCalls.Argument(epollCtl, 1));
            if (op.Must == op.May && op.Must == EpollFlags.EPOLL_CTL_DEL)
            {
                continue;
            }

            if (EdgeTriggeredCalls.Argument(epollCtl, 3) is not { } eventArgument)
            {
                return false;
            }

            var events = _flags.EvaluateEpollEventArgument(eventArgument);
            if (events.Has(EpollFlags.EPOLLET) != Tri.Yes || events.Has(EpollFlags.EPOLLONESHOT) != Tri.No)
            {
                // Level-triggered, one-shot (re-armed with EPOLL_CTL_MOD) or unknown: fds we cannot tell apart.
                return false;
            }

            any = true;
        }

        return any;
    }

    private void CheckDispatchLoops(List<IInvocationOperation> waits, List<IInvocationOperation> epollCtls)
    {
        var regions = new List<IOperation>();
        var pollOnceMethods = new List<IMethodSymbol>();
        foreach (var wait in waits)
        {
            if (OutermostLoop(wait) is { } loop)
            {
                regions.Add(loop);
            }
            else if (OwnerOf(wait) is { } method && method.MethodKind == MethodKind.Ordinary)
            {
                // "Poll once": the wait is not in a loop here, the loop is the caller's.
                regions.Add(TopOf(wait));
                pollOnceMethods.Add(method.OriginalDefinition);
            }
        }

        foreach (var method in pollOnceMethods)
        {
            foreach (var call in _type.CallsTo(method))
            {
                if (OutermostLoop(call) is { } loop)
                {
                    regions.Add(loop);
                }
            }
        }

        var scope = BuildScope(waits, pollOnceMethods, out var buffers);

        // Where event fds come from in a dispatch loop: the events buffer and its cursors, and the fields the type
        // registers with epoll_ctl (a listening socket kept in _listenFd).
        var sources = ImmutableHashSet.CreateBuilder<ISymbol>(SymbolEqualityComparer.Default);
        sources.UnionWith(buffers);
        sources.UnionWith(scope.Cursors);
        foreach (var epollCtl in epollCtls)
        {
            switch (SymbolOf(EdgeTriggeredCalls.FdArgument(epollCtl, LibcCallKind.EpollCtl)))
            {
                case IFieldSymbol field:
                    sources.Add(field);
                    break;
                case IParameterSymbol { ContainingSymbol: IMethodSymbol add } parameter:
                    // An Add(int fd) helper: the fields its callers pass.
                    foreach (var call in _type.CallsTo(add))
                    {
                        if (SymbolOf(EdgeTriggeredCalls.Argument(call, parameter.Ordinal)) is IFieldSymbol passed)
                        {
                            sources.Add(passed);
                        }
                    }

                    break;
            }
        }

        // if (events[i].data.fd == _listenFd): a field compared with the event's fd holds a registered fd.
        var fromBuffer = sources.ToImmutable();
        foreach (var (_, root) in _type.Roots)
        {
            foreach (var node in root.Descendants())
            {
                if (node is IBinaryOperation { OperatorKind: BinaryOperatorKind.Equals } comparison)
                {
                    if (SymbolOf(comparison.RightOperand) is IFieldSymbol right && IsFromEvent(comparison.LeftOperand, fromBuffer, 0))
                    {
                        sources.Add(right);
                    }
                    else if (SymbolOf(comparison.LeftOperand) is IFieldSymbol left && IsFromEvent(comparison.RightOperand, fromBuffer, 0))
                    {
                        sources.Add(left);
                    }
                }
            }
        }

        var eventSources = sources.ToImmutable();
        foreach (var region in regions)
        {
            _cancellationToken.ThrowIfCancellationRequested();
            CheckCode(region, eventSources, scope, 0, CallContext.Handler, new HashSet<IMethodSymbol>(SymbolEqualityComparer.Default));
        }
    }

    /// <summary>
    /// The events cursors of the type (locals indexing the buffer epoll_wait fills, foreach variables over it) and
    /// its poll-once methods: moving a cursor on or calling such a method means this event is done.
    /// </summary>
    private DrainScope BuildScope(List<IInvocationOperation> waits, List<IMethodSymbol> pollOnceMethods, out HashSet<ISymbol> buffers)
    {
        buffers = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        foreach (var wait in waits)
        {
            foreach (var symbol in SymbolsIn(EdgeTriggeredCalls.Argument(wait, 1)))
            {
                buffers.Add(symbol);
                if (symbol is ILocalSymbol)
                {
                    foreach (var write in _type.WritesTo(symbol))
                    {
                        if (write is IVariableDeclaratorOperation { Initializer.Value: { } initializer })
                        {
                            buffers.UnionWith(SymbolsIn(initializer));
                        }
                    }
                }
            }
        }

        var cursors = ImmutableHashSet.CreateBuilder<ISymbol>(SymbolEqualityComparer.Default);
        foreach (var (_, root) in _type.Roots)
        {
            foreach (var node in root.Descendants())
            {
                if (node is IForEachLoopOperation forEach && SymbolsIn(forEach.Collection).Any(buffers.Contains))
                {
                    // foreach (var ev in events), foreach (ref var ev in events.AsSpan(0, n))
                    cursors.UnionWith(forEach.Locals);
                    continue;
                }

                if (node.Syntax is not Microsoft.CodeAnalysis.CSharp.Syntax.ElementAccessExpressionSyntax access || node is IArgumentOperation)
                {
                    continue;
                }

                var indexesBuffer = false;
                var indexLocals = new List<ISymbol>();
                foreach (var part in node.DescendantsAndSelf())
                {
                    if (part is not (ILocalReferenceOperation or IFieldReferenceOperation or IParameterReferenceOperation) || SymbolOf(part) is not { } symbol)
                    {
                        continue;
                    }

                    if (access.Expression.Span.Contains(part.Syntax.Span))
                    {
                        indexesBuffer |= buffers.Contains(symbol);
                    }
                    else if (access.ArgumentList.Span.Contains(part.Syntax.Span) && symbol is ILocalSymbol)
                    {
                        indexLocals.Add(symbol);
                    }
                }

                if (indexesBuffer)
                {
                    cursors.UnionWith(indexLocals);
                }
            }
        }

        var wrappers = ImmutableHashSet.CreateRange<IMethodSymbol>(SymbolEqualityComparer.Default, pollOnceMethods);
        return new DrainScope(cursors.ToImmutable(), wrappers);
    }

    private static IEnumerable<ISymbol> SymbolsIn(IOperation? operation)
    {
        if (operation is null)
        {
            yield break;
        }

        foreach (var node in operation.DescendantsAndSelf())
        {
            if (node is ILocalReferenceOperation or IFieldReferenceOperation or IParameterReferenceOperation && SymbolOf(node) is { } symbol)
            {
                yield return symbol;
            }
        }
    }

    private static bool IsCounterRead(IInvocationOperation invocation, LibcCallKind kind)
        => kind == LibcCallKind.Read
            && EdgeTriggeredCalls.CountArgument(invocation) is { ConstantValue: { HasValue: true, Value: { } count } }
            && System.Convert.ToInt64(count, System.Globalization.CultureInfo.InvariantCulture) == CounterReadSize;

    /// <summary>The outermost loop around an operation in its own function (an EINTR retry loop sits inside the dispatch loop).</summary>
    private static ILoopOperation? OutermostLoop(IOperation operation)
    {
        ILoopOperation? outermost = null;
        for (var current = operation.Parent; current is not null; current = current.Parent)
        {
            if (current is IAnonymousFunctionOperation or ILocalFunctionOperation)
            {
                break;
            }

            if (current is ILoopOperation loop)
            {
                outermost = loop;
            }
        }

        return outermost;
    }

    private IMethodSymbol? OwnerOf(IOperation operation)
    {
        var top = TopOf(operation);
        foreach (var (owner, root) in _type.Roots)
        {
            if (root == top)
            {
                return owner as IMethodSymbol;
            }
        }

        return null;
    }

    private static IOperation TopOf(IOperation operation)
    {
        while (operation.Parent is not null)
        {
            operation = operation.Parent;
        }

        return operation;
    }

    // ---- the check ---------------------------------------------------------------------------------------

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

    /// <summary>True when every path to <paramref name="target"/> in its function first passes a draining read/accept of <paramref name="fd"/>.</summary>
    private bool IsAfterDrain(IOperation target, IOperation? fd, LibcCallKind kind, DrainScope scope)
    {
        if (fd is null)
        {
            return false;
        }

        var root = TopOf(target);
        var drains = new List<SyntaxNode>();
        foreach (var node in root.Descendants())
        {
            if (node is not IInvocationOperation candidate || candidate.Syntax == target.Syntax)
            {
                continue;
            }

            if (_calls.Classify(candidate) == kind)
            {
                if (EdgeTriggeredCalls.FdArgument(candidate, kind) is { } candidateFd
                    && SameSyntax(candidateFd, fd)
                    && Verdict(candidate, kind, scope) == DrainVerdict.Drains)
                {
                    drains.Add(candidate.Syntax);
                }

                continue;
            }

            // A call to a method that drains the fd it is given (Fds.Drain(e.Fd)).
            foreach (var argument in candidate.Arguments)
            {
                if (argument.Parameter is { } parameter && SameSyntax(FlagEvaluator.Strip(argument.Value), fd)
                    && DrainsParameter(candidate.TargetMethod.OriginalDefinition, parameter.Ordinal, kind, scope))
                {
                    drains.Add(candidate.Syntax);
                    break;
                }
            }
        }

        return drains.Count > 0 && _flow.IsDominatedBy(root, target.Syntax, drains);
    }

    private static bool SameSyntax(IOperation left, IOperation right)
        => Microsoft.CodeAnalysis.CSharp.SyntaxFactory.AreEquivalent(left.Syntax, right.Syntax);

    /// <summary>True when the method reads (accepts) from its parameter in a drain loop that every path passes.</summary>
    private bool DrainsParameter(IMethodSymbol method, int ordinal, LibcCallKind kind, DrainScope scope)
    {
        var key = (method, ordinal, kind);
        if (_drainsParameter.TryGetValue(key, out var drains))
        {
            return drains;
        }

        _drainsParameter[key] = false; // recursion guard
        var inThisType = SymbolEqualityComparer.Default.Equals(method.ContainingType?.OriginalDefinition, _type.Type.OriginalDefinition);
        var root = inThisType ? _type.RootOf(method) : _externalBodies?.Invoke(method);
        if (root is not null && ordinal < method.Parameters.Length)
        {
            var parameter = method.Parameters[ordinal];
            foreach (var node in root.Descendants())
            {
                if (node is IInvocationOperation read
                    && _calls.Classify(read) == kind
                    && EdgeTriggeredCalls.FdArgument(read, kind) is IParameterReferenceOperation reference
                    && SymbolEqualityComparer.Default.Equals(reference.Parameter.OriginalDefinition, parameter)
                    && Verdict(read, kind, scope) == DrainVerdict.Drains
                    && _flow.DominatesExit(TopOf(read), read.Syntax))
                {
                    drains = true;
                    break;
                }
            }
        }

        _drainsParameter[key] = drains;
        return drains;
    }

    /// <summary>A call site passing the event's fd, after a drain of that fd in the caller.</summary>
    private bool IsAfterDrain(IInvocationOperation callSite, ImmutableHashSet<ISymbol> sources, DrainScope scope)
    {
        foreach (var argument in callSite.Arguments)
        {
            if (IsFromEvent(argument.Value, sources, 0)
                && (IsAfterDrain(callSite, FlagEvaluator.Strip(argument.Value), LibcCallKind.Read, scope)
                    || IsAfterDrain(callSite, FlagEvaluator.Strip(argument.Value), LibcCallKind.Accept, scope)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>How a method was reached from event-loop code.</summary>
    private readonly struct CallContext
    {
        public static readonly CallContext Handler = new(calledInLoop: false, afterDrain: false);

        public CallContext(bool calledInLoop, bool afterDrain)
        {
            CalledInLoop = calledInLoop;
            AfterDrain = afterDrain;
        }

        /// <summary>A caller calls it inside a loop of its own (that loop may be the drain).</summary>
        public bool CalledInLoop { get; }

        /// <summary>A caller calls it after draining the fd it passes.</summary>
        public bool AfterDrain { get; }
    }

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
