using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.HandlerContext;
using NoBlock.Analyzers.Operations;

namespace NoBlock.Analyzers.Blocking;

/// <summary>What one method body does, found by one walk: the first blocking call, the source methods it calls, its epoll waits.</summary>
internal sealed class MethodFacts
{
    public static readonly MethodFacts Empty = new(null, ImmutableArray<Callee>.Empty, false, false, false);

    public MethodFacts(BlockingStep? firstBlocking, ImmutableArray<Callee> callees, bool epollWaitOutsideLoop, bool epollWaitInLoop, bool isIterator)
    {
        FirstBlocking = firstBlocking;
        Callees = callees;
        EpollWaitOutsideLoop = epollWaitOutsideLoop;
        EpollWaitInLoop = epollWaitInLoop;
        IsIterator = isIterator;
    }

    public BlockingStep? FirstBlocking { get; }

    public ImmutableArray<Callee> Callees { get; }

    public bool EpollWaitOutsideLoop { get; }

    public bool EpollWaitInLoop { get; }

    public bool IsIterator { get; }

    /// <summary>The first synchronous console write (NB0005's catalogue rows), for chains to console output.</summary>
    public BlockingStep? FirstConsoleWrite { get; set; }

    /// <summary>
    /// Socket I/O on a parameter (<c>socket.Disconnect(false)</c> in <c>SafeClose(this Socket socket)</c>): the step
    /// blocks unless the parameter at <c>Ordinal</c> is given a non-blocking socket. The first per parameter.
    /// </summary>
    public ImmutableArray<(int Ordinal, BlockingStep Step)> ParameterSteps { get; set; } = ImmutableArray<(int, BlockingStep)>.Empty;

    public readonly struct Callee
    {
        public Callee(IMethodSymbol method, bool calledOutsideLoop, string? reason, ulong nonBlockingArguments = 0, ImmutableArray<(int Ordinal, int From)> passedOn = default, CallTarget? target = null)
        {
            Method = method;
            CalledOutsideLoop = calledOutsideLoop;
            Reason = reason;
            NonBlockingArguments = nonBlockingArguments;
            PassedOn = passedOn.IsDefault ? ImmutableArray<(int, int)>.Empty : passedOn;
            ThisBound = target?.ThisBound;
            OnThis = target?.OnThis ?? false;
            Dispatched = target?.Dispatched;
        }

        private Callee(Callee edge, bool calledOutsideLoop, ulong nonBlockingArguments, ImmutableArray<(int Ordinal, int From)> passedOn)
            : this(edge.Method, calledOutsideLoop, edge.Reason, nonBlockingArguments, passedOn)
        {
            ThisBound = edge.ThisBound;
            OnThis = edge.OnThis;
            Dispatched = edge.Dispatched;
        }

        /// <summary>The same edge with the socket modes of its arguments.</summary>
        public Callee WithSockets(ulong nonBlockingArguments, ImmutableArray<(int Ordinal, int From)> passedOn) => new(this, CalledOutsideLoop, nonBlockingArguments, passedOn);

        /// <summary>The same edge, now known to be called outside a loop too.</summary>
        public Callee CalledOutsideLoopToo() => new(this, true, NonBlockingArguments, PassedOn);

        public IMethodSymbol Method { get; }

        /// <summary>See <see cref="CallTarget.ThisBound"/>: what the callee's <c>this</c> is known to be from the receiver.</summary>
        public ITypeSymbol? ThisBound { get; }

        /// <summary>The call is on the caller's own <c>this</c>: what the search knows of the caller's <c>this</c> holds in the callee.</summary>
        public bool OnThis { get; }

        /// <summary>The interface or virtual member the call names, when the callee is one of its implementations.</summary>
        public IMethodSymbol? Dispatched { get; }

        /// <summary>Bit k: every call passes a socket known non-blocking as the callee's parameter k.</summary>
        public ulong NonBlockingArguments { get; }

        /// <summary>(k, j): every call passes the caller's own parameter j as the callee's socket parameter k.</summary>
        public ImmutableArray<(int Ordinal, int From)> PassedOn { get; }

        /// <summary>The callee's non-blocking socket parameters, given the caller's (<paramref name="callerMask"/>).</summary>
        public ulong MaskFor(ulong callerMask)
        {
            var mask = NonBlockingArguments;
            foreach (var (ordinal, from) in PassedOn)
            {
                if ((callerMask & (1UL << from)) != 0)
                {
                    mask |= 1UL << ordinal;
                }
            }

            return mask;
        }

        /// <summary>How an interface, virtual or delegate call was resolved to this method (null: called by name).</summary>
        public string? Reason { get; }

        public bool CalledOutsideLoop { get; }
    }
}

/// <summary>
/// The blocking call at the end of a chain: <c>Thread.Sleep (Lookup.cs:42)</c>, or the chain tail another assembly's
/// summary recorded for a member of its own (<c>Helper.Read → File.ReadAllText (Storage: Repo.cs:12)</c>).
/// </summary>
internal sealed class BlockingStep
{
    private readonly string? _summary;

    public BlockingStep(string api, Location location)
    {
        Api = api;
        Location = location;
    }

    private BlockingStep(string summary)
    {
        Api = summary;
        Location = Location.None;
        _summary = summary;
    }

    /// <summary>The step a summarised member of another assembly ends with: the tail that assembly recorded.</summary>
    public static BlockingStep FromSummary(string tail) => new(tail);

    public string Api { get; }

    public Location Location { get; }

    public override string ToString() => Describe(null);

    /// <summary>As in a message; with <paramref name="assemblyName"/>, the location names the assembly too (<c>(Storage: Repo.cs:12)</c>).</summary>
    public string Describe(string? assemblyName)
    {
        if (_summary is not null)
        {
            return _summary;
        }

        var span = Location.GetLineSpan();
        if (!span.IsValid)
        {
            return Api;
        }

        var where = $"{Path.GetFileName(span.Path)}:{span.StartLinePosition.Line + 1}";
        return assemblyName is null ? $"{Api} ({where})" : $"{Api} ({assemblyName}: {where})";
    }
}

/// <summary>A path from a callee to a blocking call: the methods in order (each with how it was reached), then the blocking step.</summary>
internal sealed class BlockingChain
{
    public BlockingChain(ImmutableArray<(IMethodSymbol Method, string? Reason)> methods, BlockingStep step)
    {
        Methods = methods;
        Step = step;
    }

    /// <summary>The first is the chain's start (its reason is the caller's to give); the others say how their caller reached them.</summary>
    public ImmutableArray<(IMethodSymbol Method, string? Reason)> Methods { get; }

    public BlockingStep Step { get; }
}

/// <summary>
/// Per-compilation call graph over the methods whose source is in the compilation. Each body is walked at most
/// once (memoised <see cref="MethodFacts"/>); "does this method reach a blocking call, and through what?" is a
/// breadth-first search over those facts, so cycles terminate and the chain reported is a shortest one.
/// </summary>
internal sealed class CallGraph
{
    /// <summary>How deep an epoll wrapper may nest (<c>Poll → WaitOnce → epoll_wait</c>) and still count as the loop's wait.</summary>
    private const int MaxWrapperDepth = 3;

    private readonly Compilation _compilation;
    private readonly HandlerWalker _walker;
    private readonly ConcurrentDictionary<IMethodSymbol, Lazy<MethodFacts>> _facts = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentDictionary<IMethodSymbol, BlockingChain?> _chains = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentDictionary<IMethodSymbol, byte> _reachesNothing = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentDictionary<IMethodSymbol, BlockingChain?> _consoleChains = new(SymbolEqualityComparer.Default);

    public CallGraph(Compilation compilation, HandlerWalker walker)
    {
        _compilation = compilation;
        _walker = walker;
    }

    /// <summary>Members whose chains end here: the <c>!</c> lines of <c>NoBlock.Blocking.txt</c> ("this member is fine").</summary>
    public ISet<IMethodSymbol> NotBlocking { get; set; } = new HashSet<IMethodSymbol>(SymbolEqualityComparer.Default);

    /// <summary>The compilation whose source this graph walks.</summary>
    public Compilation Compilation => _compilation;

    /// <summary>
    /// The facts of one method, computed once. The walk of one body is short and is not cancelled half-way, so that
    /// a cancelled request can never leave a cached exception behind for the next one.
    /// </summary>
    public MethodFacts GetFacts(IMethodSymbol method, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return _facts.GetOrAdd(method, m => new Lazy<MethodFacts>(() => ComputeFacts(m), LazyThreadSafetyMode.ExecutionAndPublication)).Value;
    }

    /// <summary>The shortest chain from <paramref name="start"/> to a blocking call, or null.</summary>
    public BlockingChain? FindBlockingChain(IMethodSymbol start, CancellationToken cancellationToken) => FindBlockingChain(start, 0, cancellationToken);

    /// <summary>
    /// The shortest chain from <paramref name="start"/> to a blocking call, or null, when the call gives it a
    /// non-blocking socket at each parameter ordinal set in <paramref name="nonBlockingParameters"/>. A method is
    /// visited once per set of non-blocking socket parameters (almost always the empty set); what is learnt with the
    /// empty set — "reaches nothing", the chain — holds for every other, so only it is cached.
    /// </summary>
    public BlockingChain? FindBlockingChain(IMethodSymbol start, ulong nonBlockingParameters, CancellationToken cancellationToken)
        => FindBlockingChain(start, nonBlockingParameters, null, cancellationToken);

    /// <summary>
    /// The same, also knowing that <c>this</c> in <paramref name="start"/> is a <paramref name="thisBound"/> (null:
    /// only its own type). Along the chain, a call on <c>this</c> keeps what is known of it, so an interface or
    /// virtual call on <c>this</c> reaches only the implementations such an object can run (a base class's template
    /// method called on a subclass runs that subclass's overrides, not a sibling's). A node is a method with its
    /// non-blocking socket parameters and its <c>this</c> bound; what is learnt with neither holds for every other
    /// (both only remove paths), so only that is cached.
    /// </summary>
    public BlockingChain? FindBlockingChain(IMethodSymbol start, ulong nonBlockingParameters, ITypeSymbol? thisBound, CancellationToken cancellationToken)
    {
        if (_reachesNothing.ContainsKey(start) || NotBlocking.Contains(start.OriginalDefinition))
        {
            return null;
        }

        thisBound = Canonical(thisBound, start);
        var unconstrained = nonBlockingParameters == 0 && thisBound is null;
        if (unconstrained && _chains.TryGetValue(start, out var known))
        {
            return known;
        }

        var first = (start, new Context(nonBlockingParameters, thisBound));
        var previous = new Dictionary<(IMethodSymbol Method, Context Key), ((IMethodSymbol Method, Context Key)? Caller, string? Reason)>(MethodKeyComparer<Context>.Instance) { [first] = (null, null) };
        var queue = new Queue<(IMethodSymbol Method, Context Key)>();
        queue.Enqueue(first);
        BlockingChain? found = null;
        while (queue.Count > 0 && found is null)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var node = queue.Dequeue();
            var facts = GetFacts(node.Method, cancellationToken);
            if ((facts.FirstBlocking ?? ParameterStep(facts, node.Key.Mask)) is { } step)
            {
                found = new BlockingChain(Path(previous, node), step);
                break;
            }

            foreach (var callee in facts.Callees)
            {
                if (_reachesNothing.ContainsKey(callee.Method) || NotBlocking.Contains(callee.Method))
                {
                    continue;
                }

                var reason = callee.Reason;
                var bound = callee.ThisBound;
                if (callee.OnThis && node.Key.This is { } thisIs)
                {
                    if (callee.Dispatched is { } dispatched)
                    {
                        // this.Step() where this is known to be a `thisIs`: only what such an object runs.
                        var under = _walker.Targets.ImplementationsUnder(thisIs, node.Method.ContainingType, dispatched);
                        if (!under.Contains(callee.Method.OriginalDefinition, SymbolEqualityComparer.Default))
                        {
                            continue;
                        }

                        reason = CallTargets.Describe(dispatched, under.Length, thisIs, onThis: true);
                    }

                    bound = bound is not null && CallTargets.IsSubtype(bound, thisIs) ? bound : thisIs;
                }

                var next = (callee.Method, new Context(callee.MaskFor(node.Key.Mask), Canonical(bound, callee.Method)));
                if (previous.ContainsKey(next))
                {
                    continue;
                }

                previous[next] = (node, reason);
                queue.Enqueue(next);
            }
        }

        if (found is null)
        {
            // Everything the search saw unconstrained reaches nothing blocking (it explored all of their callees); one
            // seen only with a non-blocking socket parameter or a this bound may block when called otherwise.
            foreach (var seen in previous.Keys)
            {
                if (seen.Key.Mask == 0 && seen.Key.This is null)
                {
                    _reachesNothing.TryAdd(seen.Method, 0);
                }
            }
        }
        else if (unconstrained)
        {
            _chains.TryAdd(start, found);
        }

        return found;
    }

    /// <summary>A <c>this</c> bound that says no more than the method's own type is no bound (one node, one cache entry).</summary>
    private static ITypeSymbol? Canonical(ITypeSymbol? bound, IMethodSymbol method)
        => bound is null || method.IsStatic || method.ContainingType is null || CallTargets.IsSubtype(method.ContainingType, bound) ? null : bound;

    /// <summary>What a search node knows besides its method: the non-blocking socket parameters, what <c>this</c> is.</summary>
    private readonly struct Context : IEquatable<Context>
    {
        public Context(ulong mask, ITypeSymbol? @this)
        {
            Mask = mask;
            This = @this;
        }

        public ulong Mask { get; }

        public ITypeSymbol? This { get; }

        public bool Equals(Context other) => Mask == other.Mask && SymbolEqualityComparer.Default.Equals(This, other.This);

        public override bool Equals(object? obj) => obj is Context other && Equals(other);

        public override int GetHashCode() => Mask.GetHashCode() ^ SymbolEqualityComparer.Default.GetHashCode(This);
    }

    /// <summary>The first socket step on a parameter that is not given a non-blocking socket.</summary>
    private static BlockingStep? ParameterStep(MethodFacts facts, ulong nonBlockingParameters)
    {
        foreach (var (ordinal, step) in facts.ParameterSteps)
        {
            if ((nonBlockingParameters & (1UL << ordinal)) == 0)
            {
                return step;
            }
        }

        return null;
    }

    /// <summary>Equality of (method, key) pairs: the method by symbol, the key by value.</summary>
    private sealed class MethodKeyComparer<TKey> : IEqualityComparer<(IMethodSymbol Method, TKey Key)>
    {
        public static readonly MethodKeyComparer<TKey> Instance = new();

        public bool Equals((IMethodSymbol Method, TKey Key) x, (IMethodSymbol Method, TKey Key) y)
            => EqualityComparer<TKey>.Default.Equals(x.Key, y.Key) && SymbolEqualityComparer.Default.Equals(x.Method, y.Method);

        public int GetHashCode((IMethodSymbol Method, TKey Key) pair)
            => SymbolEqualityComparer.Default.GetHashCode(pair.Method) ^ EqualityComparer<TKey>.Default.GetHashCode(pair.Key!);
    }

    /// <summary>
    /// The shortest chain from <paramref name="start"/> to a synchronous console write (NB0005), over the same
    /// memoised facts as <see cref="FindBlockingChain"/>; asked only when that found no blocking call.
    /// </summary>
    public BlockingChain? FindConsoleChain(IMethodSymbol start, CancellationToken cancellationToken)
    {
        if (_consoleChains.TryGetValue(start, out var known))
        {
            return known;
        }

        var previous = new Dictionary<IMethodSymbol, (IMethodSymbol? Caller, string? Reason)>(SymbolEqualityComparer.Default) { [start] = (null, null) };
        var queue = new Queue<IMethodSymbol>();
        queue.Enqueue(start);
        BlockingChain? found = null;
        while (queue.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var method = queue.Dequeue();
            var facts = GetFacts(method, cancellationToken);
            if (facts.FirstConsoleWrite is { } step)
            {
                found = new BlockingChain(Path(previous, method), step);
                break;
            }

            foreach (var callee in facts.Callees)
            {
                if (!previous.ContainsKey(callee.Method))
                {
                    previous[callee.Method] = (method, callee.Reason);
                    queue.Enqueue(callee.Method);
                }
            }
        }

        _consoleChains.TryAdd(start, found);
        return found;
    }

    /// <summary>
    /// A method whose call is the dispatch loop's own wait: it waits on epoll outside any loop of its own (a thin
    /// wrapper or a "poll once" method), directly or through such wrappers up to <see cref="MaxWrapperDepth"/>.
    /// </summary>
    public bool IsEpollWrapper(IMethodSymbol method, CancellationToken cancellationToken) => IsEpollWrapper(method, MaxWrapperDepth, cancellationToken);

    private bool IsEpollWrapper(IMethodSymbol method, int depth, CancellationToken cancellationToken)
    {
        var facts = GetFacts(method, cancellationToken);
        if (facts.EpollWaitOutsideLoop)
        {
            return true;
        }

        if (depth <= 1)
        {
            return false;
        }

        foreach (var callee in facts.Callees)
        {
            if (callee.CalledOutsideLoop && !SymbolEqualityComparer.Default.Equals(callee.Method, method) && IsEpollWrapper(callee.Method, depth - 1, cancellationToken))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>An iterator that waits on epoll in its own loop and yields the events: a <c>foreach</c> over it is a dispatch loop.</summary>
    public bool IsEpollIterator(IMethodSymbol method, CancellationToken cancellationToken)
    {
        var facts = GetFacts(method, cancellationToken);
        if (!facts.IsIterator)
        {
            return false;
        }

        if (facts.EpollWaitInLoop || facts.EpollWaitOutsideLoop)
        {
            return true;
        }

        foreach (var callee in facts.Callees)
        {
            if (!SymbolEqualityComparer.Default.Equals(callee.Method, method) && IsEpollWrapper(callee.Method, MaxWrapperDepth - 1, cancellationToken))
            {
                return true;
            }
        }

        return false;
    }

    private static ImmutableArray<(IMethodSymbol, string?)> Path(Dictionary<(IMethodSymbol Method, Context Key), ((IMethodSymbol Method, Context Key)? Caller, string? Reason)> previous, (IMethodSymbol Method, Context Key) last)
    {
        var path = new List<(IMethodSymbol, string?)>();
        for ((IMethodSymbol Method, Context Key)? current = last; current is { } node; current = previous[node].Caller)
        {
            path.Add((node.Method, previous[node].Reason));
        }

        path.Reverse();
        return path.ToImmutableArray();
    }

    private static ImmutableArray<(IMethodSymbol, string?)> Path(Dictionary<IMethodSymbol, (IMethodSymbol? Caller, string? Reason)> previous, IMethodSymbol last)
    {
        var path = new List<(IMethodSymbol, string?)>();
        for (IMethodSymbol? current = last; current is not null; current = previous[current].Caller)
        {
            path.Add((current, previous[current].Reason));
        }

        path.Reverse();
        return path.ToImmutableArray();
    }

    private MethodFacts ComputeFacts(IMethodSymbol method)
    {
        // A member of another assembly is followed only when that assembly's summary says it blocks: the recorded
        // rest of its chain ends the search there.
        if (_walker.Summaries.Find(method) is { } recorded)
        {
            return new MethodFacts(BlockingStep.FromSummary(recorded), ImmutableArray<MethodFacts.Callee>.Empty, false, false, false);
        }

        var sink = new FactsSink(method);
        var isIterator = false;
        foreach (var reference in method.DeclaringSyntaxReferences)
        {
            if (OtherDocuments.ModelFor(_compilation, reference.SyntaxTree) is not { } model)
            {
                continue; // a project reference's source: not ours to bind
            }

            var syntax = reference.GetSyntax(CancellationToken.None);
            isIterator |= MayBeIterator(method) && IsIterator(syntax);
            var body = model.GetOperation(syntax, CancellationToken.None);
            if (body is not null)
            {
                _walker.Walk(body, sink);
            }
        }

        if (method.MethodKind == MethodKind.Constructor && !method.IsStatic)
        {
            WalkConstructorPrologue(method, sink);
        }

        return sink.ToFacts(isIterator);
    }

    /// <summary>
    /// What an instance constructor runs besides its body: the field and property initializers of its type (unless it
    /// chains to <c>: this(...)</c>, which runs them) and the base constructor it calls implicitly (an implicit
    /// constructor has no body of its own; a primary constructor's <c>: Base(args)</c> is walked here too).
    /// </summary>
    private void WalkConstructorPrologue(IMethodSymbol constructor, FactsSink sink)
    {
        var declaration = constructor.DeclaringSyntaxReferences.Length > 0 ? constructor.DeclaringSyntaxReferences[0].GetSyntax(CancellationToken.None) : null;
        var initializer = (declaration as ConstructorDeclarationSyntax)?.Initializer;
        if (initializer is not null && initializer.ThisOrBaseKeyword.IsKind(Microsoft.CodeAnalysis.CSharp.SyntaxKind.ThisKeyword))
        {
            return; // the chained constructor runs the initializers and the base call
        }

        var type = constructor.ContainingType;
        foreach (var reference in type.DeclaringSyntaxReferences)
        {
            if (OtherDocuments.ModelFor(_compilation, reference.SyntaxTree) is not { } model || reference.GetSyntax(CancellationToken.None) is not TypeDeclarationSyntax typeSyntax)
            {
                continue;
            }

            foreach (var member in typeSyntax.Members)
            {
                var initializers = member switch
                {
                    FieldDeclarationSyntax field when !field.Modifiers.Any(Microsoft.CodeAnalysis.CSharp.SyntaxKind.StaticKeyword) && !field.Modifiers.Any(Microsoft.CodeAnalysis.CSharp.SyntaxKind.ConstKeyword)
                        => field.Declaration.Variables.Select(v => v.Initializer).Where(i => i is not null),
                    PropertyDeclarationSyntax { Initializer: { } propertyInitializer } property when !property.Modifiers.Any(Microsoft.CodeAnalysis.CSharp.SyntaxKind.StaticKeyword)
                        => new[] { propertyInitializer },
                    _ => Enumerable.Empty<EqualsValueClauseSyntax?>(),
                };
                foreach (var value in initializers)
                {
                    if (model.GetOperation(value!, CancellationToken.None) is { } operation)
                    {
                        _walker.Walk(operation, sink);
                    }
                }
            }

            // A primary constructor's base call (class B(int x) : A(x)) belongs to it.
            if (declaration == typeSyntax
                && typeSyntax.BaseList?.Types.OfType<PrimaryConstructorBaseTypeSyntax>().FirstOrDefault() is { } primaryBase
                && model.GetOperation(primaryBase, CancellationToken.None) is { } baseCall)
            {
                _walker.Walk(baseCall, sink);
                return;
            }
        }

        // No explicit base call (an implicit constructor, a body without an initializer, a primary constructor
        // without base arguments): the base's parameterless constructor runs.
        if (initializer is null && type.BaseType is { } baseType)
        {
            foreach (var candidate in baseType.InstanceConstructors)
            {
                if (candidate.Parameters.All(p => p.IsOptional || p.IsParams) && _walker.HasBodyHere(candidate))
                {
                    sink.OnCallee(null, new CallTarget(candidate, null, baseType.Name), insideLoop: false, call: null);
                    break;
                }
            }
        }
    }

    /// <summary>Only methods returning IEnumerable/IEnumerator (generic or not, or their async forms) can be iterators.</summary>
    private static bool MayBeIterator(IMethodSymbol method)
        => method.ReturnType is INamedTypeSymbol { Name: "IEnumerable" or "IEnumerator" or "IAsyncEnumerable" or "IAsyncEnumerator" };

    /// <summary>A body with <c>yield</c> of its own (IMethodSymbol.IsIterator is newer than the Roslyn we target).</summary>
    private static bool IsIterator(SyntaxNode declaration)
    {
        foreach (var node in declaration.DescendantNodes(n => n is not AnonymousFunctionExpressionSyntax and not LocalFunctionStatementSyntax))
        {
            if (node is YieldStatementSyntax)
            {
                return true;
            }
        }

        return false;
    }

    private sealed class FactsSink : IHandlerCodeSink
    {
        private readonly IMethodSymbol _method;
        private readonly List<MethodFacts.Callee> _callees = new();
        private readonly Dictionary<(IMethodSymbol Method, EdgeKey Key), int> _calleeIndex = new(MethodKeyComparer<EdgeKey>.Instance);

        /// <summary>Per callee edge with socket arguments: ordinal → -1 (a socket known non-blocking) or j (the caller's parameter j).</summary>
        private List<Dictionary<int, int>?>? _socketArguments;
        private List<(int Ordinal, BlockingStep Step)>? _parameterSteps;
        private BlockingStep? _first;
        private BlockingStep? _firstConsole;
        private bool _waitOutsideLoop;
        private bool _waitInLoop;

        public FactsSink(IMethodSymbol method) => _method = method;

        public void OnBlocking(IOperation operation, BlockingApis.Match match, IParameterSymbol? unlessNonBlocking)
        {
            if (match.Row!.Kind == BlockingKind.Blocking && unlessNonBlocking is not null && unlessNonBlocking.Ordinal < 64
                && SymbolEqualityComparer.Default.Equals(unlessNonBlocking.ContainingSymbol.OriginalDefinition, _method.OriginalDefinition))
            {
                _parameterSteps ??= new List<(int, BlockingStep)>();
                if (!_parameterSteps.Exists(p => p.Ordinal == unlessNonBlocking.Ordinal))
                {
                    _parameterSteps.Add((unlessNonBlocking.Ordinal, new BlockingStep(match.Name, operation.Syntax.GetLocation())));
                }
            }
            else if (_first is null && match.Row!.Kind == BlockingKind.Blocking)
            {
                _first = new BlockingStep(match.Name, operation.Syntax.GetLocation());
            }
            else if (_firstConsole is null && match.Row!.Kind == BlockingKind.ConsoleWrite)
            {
                _firstConsole = new BlockingStep(match.Name, operation.Syntax.GetLocation());
            }
        }

        public void OnCallee(IOperation? operation, CallTarget target, bool insideLoop, IOperation? call)
        {
            // One edge per callee and what the call passes to its socket parameters: a helper called once with a
            // non-blocking socket and once with another is two edges, each judged on its own.
            var callee = target.Method;
            var modes = SocketArgumentsOf(callee, call);
            // What is known of the receiver keys the edge too: this.Step() and other.Step() are judged apart.
            var key = (callee, new EdgeKey(Signature(modes), target.OnThis, target.ThisBound));
            if (_calleeIndex.TryGetValue(key, out var index))
            {
                if (!insideLoop && !_callees[index].CalledOutsideLoop)
                {
                    _callees[index] = _callees[index].CalledOutsideLoopToo();
                }

                return;
            }

            _calleeIndex[key] = _callees.Count;
            _callees.Add(new MethodFacts.Callee(callee, !insideLoop, target.Reason, target: target));
            if (modes is not null || _socketArguments is not null)
            {
                _socketArguments ??= new List<Dictionary<int, int>?>(new Dictionary<int, int>?[_callees.Count - 1]);
                _socketArguments.Add(modes);
            }
        }

        /// <summary>What tells two edges to the same callee apart: the socket modes passed, a call on <c>this</c>, what the receiver is.</summary>
        private readonly struct EdgeKey : IEquatable<EdgeKey>
        {
            public EdgeKey(string sockets, bool onThis, ITypeSymbol? thisBound)
            {
                Sockets = sockets;
                OnThis = onThis;
                ThisBound = thisBound;
            }

            public string Sockets { get; }

            public bool OnThis { get; }

            public ITypeSymbol? ThisBound { get; }

            public bool Equals(EdgeKey other)
                => OnThis == other.OnThis && string.Equals(Sockets, other.Sockets, StringComparison.Ordinal) && SymbolEqualityComparer.Default.Equals(ThisBound, other.ThisBound);

            public override bool Equals(object? obj) => obj is EdgeKey other && Equals(other);

            public override int GetHashCode() => (StringComparer.Ordinal.GetHashCode(Sockets) * 31) ^ SymbolEqualityComparer.Default.GetHashCode(ThisBound) ^ (OnThis ? 1 : 0);
        }

        private static string Signature(Dictionary<int, int>? modes)
            => modes is null ? string.Empty : string.Join(";", modes.OrderBy(p => p.Key).Select(p => p.Key + ":" + p.Value));

        /// <summary>What this call passes to the callee's socket parameters (null: the callee takes none, or nothing is known).</summary>
        private Dictionary<int, int>? SocketArgumentsOf(IMethodSymbol callee, IOperation? call)
        {
            if (call is null || !HasSocketParameter(callee))
            {
                return null;
            }

            var (nonBlocking, passedOn) = SocketModes.ArgumentModes(call);
            Dictionary<int, int>? modes = null;
            for (var k = 0; k < 64 && nonBlocking >> k != 0; k++)
            {
                if ((nonBlocking & (1UL << k)) != 0)
                {
                    (modes ??= new Dictionary<int, int>())[k] = -1;
                }
            }

            foreach (var (ordinal, from) in passedOn ?? Enumerable.Empty<(int, IParameterSymbol)>())
            {
                if (from.Ordinal < 64 && SymbolEqualityComparer.Default.Equals(from.ContainingSymbol.OriginalDefinition, _method.OriginalDefinition))
                {
                    (modes ??= new Dictionary<int, int>())[ordinal] = from.Ordinal;
                }
            }

            return modes;
        }

        private static bool HasSocketParameter(IMethodSymbol method)
        {
            foreach (var parameter in method.Parameters)
            {
                if (SocketModes.IsSocket(parameter.Type))
                {
                    return true;
                }
            }

            return false;
        }

        public void OnEpollWait(IInvocationOperation operation, bool insideLoop)
        {
            if (insideLoop)
            {
                _waitInLoop = true;
            }
            else
            {
                _waitOutsideLoop = true;
            }
        }

        public MethodFacts ToFacts(bool isIterator)
        {
            var callees = _callees.ToImmutableArray();
            if (_socketArguments is not null)
            {
                var builder = callees.ToBuilder();
                for (var i = 0; i < builder.Count; i++)
                {
                    if (_socketArguments[i] is { Count: > 0 } modes)
                    {
                        ulong nonBlocking = 0;
                        var passedOn = ImmutableArray.CreateBuilder<(int, int)>();
                        foreach (var pair in modes)
                        {
                            if (pair.Value == -1)
                            {
                                nonBlocking |= 1UL << pair.Key;
                            }
                            else
                            {
                                passedOn.Add((pair.Key, pair.Value));
                            }
                        }

                        builder[i] = builder[i].WithSockets(nonBlocking, passedOn.ToImmutable());
                    }
                }

                callees = builder.MoveToImmutable();
            }

            return new(_first, callees, _waitOutsideLoop, _waitInLoop, isIterator)
            {
                FirstConsoleWrite = _firstConsole,
                ParameterSteps = _parameterSteps is null ? ImmutableArray<(int, BlockingStep)>.Empty : _parameterSteps.ToImmutableArray(),
            };
        }
    }
}
