// Decides which reads and accepts of one type run on edge-triggered fds, by two routes: EventLoop.Register
// with IoEvents.EdgeTriggered (here), and raw epoll whose every registration sets EPOLLET (DispatchLoops).
// Where the event's fd goes is EventProvenance; which findings are excused is DrainExemptions and AfterDrain;
// whether a call drains is DrainFlow.

using System.Collections.Generic;
using System.Collections.Immutable;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
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
internal sealed partial class EdgeTriggeredTypeAnalysis
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
}
