using System.Collections.Generic;
using System.Collections.Immutable;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace NoBlock.Analyzers.Infrastructure;

/// <summary>A read or accept on an edge-triggered fd that does not drain it.</summary>
internal readonly struct DrainFinding
{
    public DrainFinding(IInvocationOperation call, DrainCallKind kind, DrainVerdict verdict)
    {
        Call = call;
        Kind = kind;
        Verdict = verdict;
    }

    public IInvocationOperation Call { get; }

    public DrainCallKind Kind { get; }

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
    private readonly TypeOperations _type;
    private readonly FlagEvaluator _flags;
    private readonly DrainFlow _flow;
    private readonly CancellationToken _cancellationToken;
    private readonly HashSet<SyntaxNode> _checked = new();
    private readonly List<DrainFinding> _findings = new();

    public EdgeTriggeredTypeAnalysis(EdgeTriggeredKnownSymbols known, EdgeTriggeredCalls calls, TypeOperations type, CancellationToken cancellationToken)
    {
        _known = known;
        _calls = calls;
        _type = type;
        _flags = new FlagEvaluator(type);
        _flow = new DrainFlow(calls, cancellationToken);
        _cancellationToken = cancellationToken;
    }

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
                case DrainCallKind.EpollCtl:
                    epollCtls.Add(invocation);
                    break;
                case DrainCallKind.Wait:
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
            CheckDispatchLoops(waits);
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

        var fdSymbols = ImmutableHashSet.Create<ISymbol>(SymbolEqualityComparer.Default);
        if (SymbolOf(EdgeTriggeredCalls.Argument(register, 0)) is { } registeredFd)
        {
            fdSymbols = fdSymbols.Add(registeredFd);
        }

        var handler = EdgeTriggeredCalls.Argument(register, 2);
        if (handler is IDelegateCreationOperation creation)
        {
            handler = creation.Target;
        }

        switch (handler)
        {
            case IAnonymousFunctionOperation lambda:
                var eventParameter = lambda.Symbol.Parameters.Length > 0 ? lambda.Symbol.Parameters[0] : null;
                CheckHandler(lambda.Body, new EventFd(eventParameter, fdSymbols), 0, new HashSet<IMethodSymbol>(SymbolEqualityComparer.Default));
                break;
            case IMethodReferenceOperation reference when _type.RootOf(reference.Method) is { } root:
                var method = reference.Method.OriginalDefinition;
                var parameter = method.Parameters.Length > 0 ? method.Parameters[0] : null;
                CheckHandler(root, new EventFd(parameter, fdSymbols), 0, new HashSet<IMethodSymbol>(SymbolEqualityComparer.Default) { method });
                break;
        }
    }

    private void CheckHandler(IOperation body, EventFd eventFd, int depth, HashSet<IMethodSymbol> visited)
    {
        foreach (var node in body.Descendants())
        {
            if (node is not IInvocationOperation invocation)
            {
                continue;
            }

            var kind = _calls.Classify(invocation);
            if (kind is DrainCallKind.Read or DrainCallKind.Accept)
            {
                if (IsEventFd(EdgeTriggeredCalls.FdArgument(invocation, kind), eventFd, 0))
                {
                    Check(invocation, kind, DrainScope.Empty);
                }

                continue;
            }

            if (depth >= MaxCallDepth || _type.RootOf(invocation.TargetMethod) is not { } calleeRoot)
            {
                continue;
            }

            var callee = invocation.TargetMethod.OriginalDefinition;
            IParameterSymbol? eventParameter = null;
            var fdParameters = ImmutableHashSet.Create<ISymbol>(SymbolEqualityComparer.Default);
            foreach (var argument in invocation.Arguments)
            {
                if (argument.Parameter is not { } parameter || parameter.Ordinal >= callee.Parameters.Length)
                {
                    continue;
                }

                var value = FlagEvaluator.Strip(argument.Value);
                if (eventFd.Event is not null && value is IParameterReferenceOperation p && SymbolEqualityComparer.Default.Equals(p.Parameter, eventFd.Event))
                {
                    eventParameter = callee.Parameters[parameter.Ordinal];
                }
                else if (IsEventFd(value, eventFd, 0))
                {
                    fdParameters = fdParameters.Add(callee.Parameters[parameter.Ordinal]);
                }
            }

            if ((eventParameter is not null || !fdParameters.IsEmpty) && visited.Add(callee))
            {
                CheckHandler(calleeRoot, new EventFd(eventParameter, fdParameters), depth + 1, visited);
            }
        }
    }

    /// <summary>The event's fd inside a handler: <c>e.Fd</c>, the fd passed to Register, or a local holding one of them.</summary>
    private sealed class EventFd
    {
        public EventFd(IParameterSymbol? eventParameter, ImmutableHashSet<ISymbol> fdSymbols)
        {
            Event = eventParameter;
            Symbols = fdSymbols;
        }

        public IParameterSymbol? Event { get; }

        public ImmutableHashSet<ISymbol> Symbols { get; }
    }

    private bool IsEventFd(IOperation? fd, EventFd eventFd, int depth)
    {
        if (fd is null || depth > 2)
        {
            return false;
        }

        fd = FlagEvaluator.Strip(fd);
        if (fd is IPropertyReferenceOperation { Property.Name: "Fd", Instance: IParameterReferenceOperation owner }
            && eventFd.Event is not null
            && SymbolEqualityComparer.Default.Equals(owner.Parameter, eventFd.Event))
        {
            return true;
        }

        if (SymbolOf(fd) is not { } symbol)
        {
            return false;
        }

        if (eventFd.Symbols.Contains(symbol))
        {
            return true;
        }

        if (symbol is not ILocalSymbol)
        {
            return false;
        }

        var writes = _type.WritesTo(symbol);
        if (writes.Count == 0)
        {
            return false;
        }

        foreach (var write in writes)
        {
            var value = write switch
            {
                IVariableDeclaratorOperation declarator => declarator.Initializer?.Value,
                ISimpleAssignmentOperation assignment => assignment.Value,
                _ => null,
            };
            if (!IsEventFd(value, eventFd, depth + 1))
            {
                return false;
            }
        }

        return true;
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

    private void CheckDispatchLoops(List<IInvocationOperation> waits)
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

        var scope = BuildScope(waits, pollOnceMethods);
        var visited = new HashSet<IMethodSymbol>(SymbolEqualityComparer.Default);
        var work = new Queue<(IOperation Region, int Depth)>();
        foreach (var region in regions)
        {
            work.Enqueue((region, 0));
        }

        while (work.Count > 0)
        {
            _cancellationToken.ThrowIfCancellationRequested();
            var (region, depth) = work.Dequeue();
            foreach (var node in region.DescendantsAndSelf())
            {
                if (node is not IInvocationOperation invocation)
                {
                    continue;
                }

                var kind = _calls.Classify(invocation);
                if (kind is DrainCallKind.Read or DrainCallKind.Accept)
                {
                    if (!IsCounterRead(invocation, kind))
                    {
                        Check(invocation, kind, scope);
                    }
                }
                else if (depth < MaxCallDepth && _type.RootOf(invocation.TargetMethod) is { } calleeRoot && visited.Add(invocation.TargetMethod.OriginalDefinition))
                {
                    work.Enqueue((calleeRoot, depth + 1));
                }
            }
        }
    }

    /// <summary>
    /// The events cursors of the type (locals indexing the buffer epoll_wait fills, foreach variables over it) and
    /// its poll-once methods: moving a cursor on or calling such a method means this event is done.
    /// </summary>
    private DrainScope BuildScope(List<IInvocationOperation> waits, List<IMethodSymbol> pollOnceMethods)
    {
        var buffers = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
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
                if (node is IForEachLoopOperation forEach && SymbolOf(forEach.Collection) is { } collection && buffers.Contains(collection))
                {
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

    private static bool IsCounterRead(IInvocationOperation invocation, DrainCallKind kind)
        => kind == DrainCallKind.Read
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

    private void Check(IInvocationOperation call, DrainCallKind kind, DrainScope scope)
    {
        if (!_checked.Add(call.Syntax) || KeepsMayHaveMoreFlag(call))
        {
            return;
        }

        var verdict = _flow.Analyze(TopOf(call), call, kind, scope);
        if (verdict != DrainVerdict.Drains)
        {
            _findings.Add(new DrainFinding(call, kind, verdict));
        }
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
