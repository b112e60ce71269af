using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Blocking;
using NoBlock.Analyzers.Configuration;
using NoBlock.Analyzers.HandlerContext;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Rules;

/// <summary>
/// NB0001 (a blocking call in event-loop code), NB0002 (event-loop code reaching a blocking call through the
/// methods it calls) and NB0005 (synchronous console output in event-loop code). One analyzer reports all three
/// because they share the expensive parts: finding event-loop code and walking it once.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class BlockingCallInHandlerAnalyzer : DiagnosticAnalyzer
{
    internal const string FixProperty = "NoBlock.Fix";
    internal const string AlternativeProperty = "NoBlock.Alternative";

    public static readonly DiagnosticDescriptor BlockingCallRule = new(
        RuleIdentifiers.BlockingCallInHandler,
        title: "Blocking call inside an event-loop handler",
        messageFormat: "'{0}' blocks the event-loop thread in {1}: every connection on this loop waits until it returns; instead, {2}",
        category: RuleCategories.EventLoop,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "An event loop runs every connection's handlers on one thread. A call that sleeps, waits for a task, a lock or a handle, or does synchronous file, network or process I/O stops all of them until it returns.",
        helpLinkUri: RuleIdentifiers.GetHelpUri(RuleIdentifiers.BlockingCallInHandler));

    public static readonly DiagnosticDescriptor TransitiveBlockingCallRule = new(
        RuleIdentifiers.TransitiveBlockingCallInHandler,
        title: "Event-loop handler reaches a blocking call through a method it calls",
        messageFormat: "{0} calls '{1}', which blocks the event-loop thread: {2}; move the blocking work off the loop (loop.Offload) or make the chain asynchronous",
        category: RuleCategories.EventLoop,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "A method called from event-loop code blocks, directly or through the methods it calls. The chain in the message shows the path from the handler to the blocking call.",
        helpLinkUri: RuleIdentifiers.GetHelpUri(RuleIdentifiers.TransitiveBlockingCallInHandler));

    public static readonly DiagnosticDescriptor ConsoleWriteRule = new(
        RuleIdentifiers.ConsoleWriteInHandler,
        title: "Synchronous console write inside an event-loop handler",
        messageFormat: "'{0}' writes to the console synchronously in {1}: when stdout is a pipe to a slow reader the whole loop waits for it; {2}",
        category: RuleCategories.EventLoop,
        defaultSeverity: DiagnosticSeverity.Info,
        isEnabledByDefault: true,
        description: "Console writes are synchronous. When stdout or stderr is a pipe or a terminal that is not read fast enough, each write blocks the loop thread. Usually harmless in samples and error paths, hence a suggestion.",
        helpLinkUri: RuleIdentifiers.GetHelpUri(RuleIdentifiers.ConsoleWriteInHandler));

    /// <summary>NB0005's advice (the catalogue's console rows carry the same text).</summary>
    private const string ConsoleAlternative = "log through a non-blocking logger, or loop.Offload(...) the write";

    /// <summary>How NB9002 names this analysis when it fails.</summary>
    internal const string AnalysisName = "blocking-call (NB0001/NB0002/NB0005)";

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(BlockingCallRule, TransitiveBlockingCallRule, ConsoleWriteRule, ConfigurationDescriptors.InvalidConfiguration, AnalyzerFailure.Descriptor);

    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(OnCompilationStart);
    }

    private static void OnCompilationStart(CompilationStartAnalysisContext context)
    {
        var compilation = context.Compilation;
        var configuration = NoBlockConfiguration.Read(compilation, context.Options.AdditionalFiles, context.CancellationToken);
        var analysis = new Analysis(compilation, configuration);

        // Code without any handler context costs nothing: no [EventLoopHandler] to see, no handler list, no configured
        // handler attribute and no text naming an epoll function mean no method is a handler, no lambda is passed as
        // one and no loop waits on epoll, so no type passes the gate below and nothing needs binding.
        if (analysis.CannotHoldEventLoopCode(context.Options, context.CancellationToken))
        {
            context.RegisterCompilationEndAction(end =>
            {
                foreach (var problem in configuration.Problems)
                {
                    end.ReportDiagnostic(problem);
                }
            });
            return;
        }

        // Types first, by syntax: only the members of types that can hold event-loop code are bound and walked.
        context.RegisterSymbolStartAction(analysis.OnTypeStart, SymbolKind.NamedType);
        context.RegisterCompilationEndAction(end =>
        {
            foreach (var problem in configuration.Problems)
            {
                end.ReportDiagnostic(problem);
            }

            foreach (var name in analysis.Roots.UnknownConfiguredAttributes.OrderBy(n => n, System.StringComparer.Ordinal))
            {
                end.ReportDiagnostic(Diagnostic.Create(ConfigurationDescriptors.InvalidConfiguration, Location.None,
                    ".editorconfig " + KnownNames.HandlerAttributesKey,
                    $"'{name}' names no attribute type this compilation can see (use the full metadata name, e.g. My.Loop.OnLoopThreadAttribute)"));
            }
        });
    }

    /// <summary>Everything resolved once per compilation.</summary>
    private sealed class Analysis
    {
        private readonly BlockingApis _apis;
        private readonly HandlerWalker _walker;
        private readonly CallGraph _graph;
        private readonly EpollLoops _loops;
        private readonly bool _mayHaveEpoll;
        private readonly bool _hasHandlerAttribute;
        private readonly ConcurrentDictionary<IMethodSymbol, bool> _takesHandlers = new(SymbolEqualityComparer.Default);
        private readonly System.Lazy<HashSet<string>> _gateNames;

        private readonly Compilation _compilation;

        public Analysis(Compilation compilation, NoBlockConfiguration configuration)
        {
            _compilation = compilation;
            _apis = new BlockingApis(compilation, configuration.Blocking);
            Roots = new HandlerRoots(compilation, configuration.Handlers);
            _walker = new HandlerWalker(_apis, compilation.Assembly, Roots.IsHandlerParameter, new CallTargets(compilation));
            _graph = new CallGraph(compilation, _walker) { NotBlocking = new HashSet<IMethodSymbol>(configuration.NotBlocking, SymbolEqualityComparer.Default) };
            _loops = new EpollLoops(compilation, _apis, _graph, _walker);
            var handlerAttribute = compilation.GetTypeByMetadataName(KnownNames.EventLoopHandlerAttribute);
            _hasHandlerAttribute = handlerAttribute is not null;
            _gateNames = new System.Lazy<HashSet<string>>(() =>
            {
                var names = SyntaxIndex.HandlerTakingNames(compilation, handlerAttribute, CancellationToken.None);
                names.UnionWith(SyntaxIndex.NamesReaching(compilation, "epoll_", LibcFunctions.EpollWaitNames, CancellationToken.None));
                names.UnionWith(Roots.ListedCallbackNames);
                return names;
            }, LazyThreadSafetyMode.ExecutionAndPublication);

            // Dispatch-loop detection only matters where some binding of epoll is visible.
            _mayHaveEpoll = compilation.GetTypeByMetadataName("Tmds.Linux.LibC") is not null
                || compilation.GetTypeByMetadataName("Mono.Unix.Native.Syscall") is not null
                || compilation.ContainsSymbolsWithName(name => name.StartsWith("epoll_", System.StringComparison.Ordinal), SymbolFilter.Member);
        }

        public HandlerRoots Roots { get; }

        public bool CannotHoldEventLoopCode(AnalyzerOptions options, CancellationToken cancellationToken)
        {
            if (_hasHandlerAttribute || Roots.HasListedHandlers
                || SyntaxIndex.AnyTreeMentions(_compilation, "epoll_", cancellationToken))
            {
                return false;
            }

            foreach (var tree in _compilation.SyntaxTrees)
            {
                if (options.AnalyzerConfigOptionsProvider.GetOptions(tree).TryGetValue(KnownNames.HandlerAttributesKey, out var value)
                    && !string.IsNullOrWhiteSpace(value))
                {
                    return false;
                }
            }

            return true;
        }

        public void OnTypeStart(SymbolStartAnalysisContext context)
        {
            var type = (INamedTypeSymbol)context.Symbol;
            if (!MayHoldEventLoopCode(type, context.Options, context.CancellationToken))
            {
                return;
            }

            context.RegisterOperationBlockStartAction(block =>
            {
                // Members of nested types are analysed with their own type.
                if (SymbolEqualityComparer.Default.Equals(block.OwningSymbol.ContainingType, type))
                {
                    OnOperationBlockStart(block);
                }
            });
        }

        /// <summary>
        /// A type holds event-loop code when one of its methods is a handler, or its text names a method that takes
        /// handlers or an epoll wait (or a wrapper of one). Everything else is never bound by this analyzer.
        /// </summary>
        private bool MayHoldEventLoopCode(INamedTypeSymbol type, AnalyzerOptions analyzerOptions, CancellationToken cancellationToken)
        {
            if (type.DeclaringSyntaxReferences.Length == 0)
            {
                return false;
            }

            var options = analyzerOptions.AnalyzerConfigOptionsProvider.GetOptions(type.DeclaringSyntaxReferences[0].SyntaxTree);
            foreach (var member in type.GetMembers())
            {
                if (member is IMethodSymbol method && Roots.IsHandler(method, options))
                {
                    return true;
                }
            }

            return SyntaxIndex.TypeMentions(type, _gateNames.Value, cancellationToken);
        }

        private void OnOperationBlockStart(OperationBlockStartAnalysisContext context)
        {
            if (context.OwningSymbol is not IMethodSymbol method || context.OperationBlocks.IsEmpty)
            {
                return;
            }

            var tree = context.OperationBlocks[0].Syntax.SyntaxTree;
            var options = context.Options.AnalyzerConfigOptionsProvider.GetOptions(tree);
            var isHandler = Roots.IsHandler(method, options);
            var takesCallbacks = _hasHandlerAttribute || Roots.HasListedCallbacks;
            if (!isHandler && !takesCallbacks && !_mayHaveEpoll)
            {
                return;
            }

            // Delegates passed to handler parameters (or subscribed to listed events) are handlers of their own,
            // wherever they are passed (also inside a handler); waits on epoll matter only outside handlers, where
            // they make dispatch loops.
            var handlerArguments = new List<IArgumentOperation>();
            var subscriptions = new List<IEventAssignmentOperation>();
            if (Roots.HasListedCallbacks)
            {
                context.RegisterOperationAction(operation =>
                {
                    if (operation.Operation is IEventAssignmentOperation { Adds: true, EventReference: IEventReferenceOperation reference } subscription
                        && Roots.IsHandlerEvent(reference.Event))
                    {
                        lock (subscriptions)
                        {
                            subscriptions.Add(subscription);
                        }
                    }
                }, OperationKind.EventAssignment);
            }

            var waits = new List<IInvocationOperation>();
            context.RegisterOperationAction(operation => AnalyzerFailure.Guard(AnalysisName, operation.Operation.Syntax.GetLocation(), operation.ReportDiagnostic, () =>
            {
                var invocation = operation.Operation as IInvocationOperation;
                var target = invocation?.TargetMethod ?? (operation.Operation as IObjectCreationOperation)?.Constructor;
                if (target is null)
                {
                    return;
                }

                if (takesCallbacks && TakesHandlers(target))
                {
                    var arguments = invocation?.Arguments ?? ((IObjectCreationOperation)operation.Operation).Arguments;
                    lock (handlerArguments)
                    {
                        handlerArguments.AddRange(arguments.Where(a => a.Parameter is not null && Roots.IsHandlerParameter(a.Parameter)));
                    }
                }

                if (!isHandler && _mayHaveEpoll && invocation is not null && MayBeLoopWait(invocation, operation.CancellationToken))
                {
                    lock (waits)
                    {
                        waits.Add(invocation);
                    }
                }
            }), OperationKind.Invocation, OperationKind.ObjectCreation);

            context.RegisterOperationBlockEndAction(end => AnalyzerFailure.Guard(AnalysisName, end.OperationBlocks[0].Syntax.GetLocation(), end.ReportDiagnostic, () =>
            {
                var reported = new HashSet<(string, TextSpanKey)>();
                if (isHandler)
                {
                    var sink = new ReportingSink(this, end.ReportDiagnostic, $"'{Display(method)}'", method.Name, end.CancellationToken, reported);
                    foreach (var block in end.OperationBlocks)
                    {
                        _walker.Walk(block, sink);
                    }
                }

                foreach (var argument in handlerArguments)
                {
                    var receiver = argument.Parent switch
                    {
                        IInvocationOperation invocation => BlockingApis.ApiName(invocation.TargetMethod),
                        IObjectCreationOperation creation => creation.Constructor?.ContainingType.Name ?? "a constructor",
                        _ => "a handler parameter",
                    };
                    AnalyzeHandlerValue(argument.Value, $"the handler passed to {receiver} in '{Display(method)}'", options, end.ReportDiagnostic, reported, end.CancellationToken);
                }

                foreach (var subscription in subscriptions)
                {
                    var @event = ((IEventReferenceOperation)subscription.EventReference).Event;
                    var eventName = @event.ContainingType.Name + "." + @event.Name;
                    AnalyzeHandlerValue(subscription.HandlerValue, $"the handler subscribed to {eventName} in '{Display(method)}'", options, end.ReportDiagnostic, reported, end.CancellationToken);
                }

                if (waits.Count > 0)
                {
                    AnalyzeDispatchCode(method, end.OperationBlocks, waits, end.ReportDiagnostic, reported, end.CancellationToken);
                }
            }));
        }

        private bool TakesHandlers(IMethodSymbol method) => _takesHandlers.GetOrAdd(method.OriginalDefinition, m => m.Parameters.Any(Roots.IsHandlerParameter));

        private bool MayBeLoopWait(IInvocationOperation invocation, CancellationToken cancellationToken)
        {
            if (_loops.IsDirectEpollWait(invocation.TargetMethod))
            {
                return true;
            }

            // A wrapper's call only matters inside a loop, or as a foreach's collection, or in a poll-once method.
            return invocation.TargetMethod.MethodKind == MethodKind.Ordinary
                && _walker.HasBodyHere(invocation.TargetMethod.PartialImplementationPart ?? invocation.TargetMethod)
                && (HandlerWalker.IsInsideLoop(invocation) || invocation.Parent is IForEachLoopOperation || IsForEachCollection(invocation))
                && _loops.IsWait(invocation, cancellationToken);
        }

        private static bool IsForEachCollection(IOperation operation)
        {
            var current = operation;
            while (current.Parent is IConversionOperation)
            {
                current = current.Parent;
            }

            return current.Parent is IForEachLoopOperation forEach && forEach.Collection == current;
        }

        /// <summary>A delegate made a handler where it is passed or subscribed: a lambda, a method group, or a delegate value.</summary>
        private void AnalyzeHandlerValue(IOperation value, string handlerName, AnalyzerConfigOptions options, System.Action<Diagnostic> report, HashSet<(string, TextSpanKey)> reported, CancellationToken cancellationToken)
        {
            while (value is IDelegateCreationOperation or IConversionOperation or IParenthesizedOperation)
            {
                value = value switch
                {
                    IDelegateCreationOperation creation => creation.Target,
                    IConversionOperation conversion => conversion.Operand,
                    _ => ((IParenthesizedOperation)value).Operand,
                };
            }

            switch (value)
            {
                case IAnonymousFunctionOperation lambda:
                    _walker.Walk(lambda.Body, new ReportingSink(this, report, handlerName, "handler lambda", cancellationToken, reported));
                    break;
                case IMethodReferenceOperation reference when Roots.IsHandler(reference.Method, options):
                    break; // a handler in its own right: its body is analysed as one, once
                case IMethodReferenceOperation reference:
                    // A method group is the handler itself; it may also be called off the loop, so the finding is
                    // reported here, where it is made a handler, with the chain into its body.
                    var sink = new ReportingSink(this, report, handlerName, "handler", cancellationToken, reported);
                    sink.ReportMethodGroup(reference);
                    break;
                case ILocalReferenceOperation or IFieldReferenceOperation or IPropertyReferenceOperation or IArrayElementReferenceOperation or IConditionalOperation or ICoalesceOperation:
                    var valueSink = new ReportingSink(this, report, handlerName, "handler", cancellationToken, reported);
                    valueSink.ReportDelegateValue(value, value.Syntax.ToString());
                    break;
            }
        }

        private void AnalyzeDispatchCode(IMethodSymbol method, ImmutableArray<IOperation> blocks, List<IInvocationOperation> waits, System.Action<Diagnostic> report, HashSet<(string, TextSpanKey)> reported, CancellationToken cancellationToken)
        {
            var loopOf = new Dictionary<IInvocationOperation, ILoopOperation>();
            var dispatchLoops = new List<ILoopOperation>();
            IInvocationOperation? pollOnceWait = null;
            foreach (var wait in waits)
            {
                var loop = _loops.FindDispatchLoop(wait, cancellationToken);
                if (loop is not null)
                {
                    loopOf[wait] = loop;
                    if (!dispatchLoops.Contains(loop))
                    {
                        dispatchLoops.Add(loop);
                    }
                }
                else if (pollOnceWait is null && !InsideFunction(wait) && _loops.IsCalledInLoopWithinType((method.PartialImplementationPart ?? method).OriginalDefinition, cancellationToken))
                {
                    pollOnceWait = wait;
                }
            }

            // A loop nested in another dispatch loop is part of it; a wait found there is not the loop's own wait
            // but a nested one, and is judged like any other call (a non-zero timeout blocks).
            var outermost = dispatchLoops.Where(loop => !dispatchLoops.Any(other => other != loop && Contains(other, loop))).ToList();
            var excluded = new HashSet<IOperation>(waits.Where(w => loopOf.TryGetValue(w, out var loop) ? outermost.Contains(loop) : w == pollOnceWait));

            var loopName = $"the epoll dispatch loop in '{Display(method)}'";
            foreach (var loop in outermost)
            {
                _walker.Walk(loop, new ReportingSink(this, report, loopName, method.Name, cancellationToken, reported), excluded.Contains);
            }

            if (pollOnceWait is not null)
            {
                var waitEnd = EpollLoops.StatementOf(pollOnceWait).Syntax.Span.End;
                var sink = new ReportingSink(this, report, $"the epoll dispatch code after the wait in '{Display(method)}'", method.Name, cancellationToken, reported);
                foreach (var block in blocks)
                {
                    _walker.Walk(block, sink, operation => excluded.Contains(operation) || operation.Syntax.Span.End <= waitEnd);
                }
            }
        }

        private static bool InsideFunction(IOperation operation)
        {
            for (var parent = operation.Parent; parent is not null; parent = parent.Parent)
            {
                if (parent is IAnonymousFunctionOperation or ILocalFunctionOperation)
                {
                    return true;
                }
            }

            return false;
        }

        private static bool Contains(IOperation outer, IOperation inner)
        {
            for (var current = inner.Parent; current is not null; current = current.Parent)
            {
                if (current == outer)
                {
                    return true;
                }
            }

            return false;
        }

        private static string Display(IMethodSymbol method)
            => method.ContainingType.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat) + "." + method.Name;

        /// <summary>Turns what the walker finds in event-loop code into NB0001, NB0002 and NB0005.</summary>
        private sealed class ReportingSink : IHandlerCodeSink
        {
            private readonly Analysis _analysis;
            private readonly System.Action<Diagnostic> _report;
            private readonly string _handler;
            private readonly string _chainHead;
            private readonly CancellationToken _cancellationToken;
            private readonly HashSet<(string, TextSpanKey)> _reported;

            public ReportingSink(Analysis analysis, System.Action<Diagnostic> report, string handler, string chainHead, CancellationToken cancellationToken, HashSet<(string, TextSpanKey)>? reported = null)
            {
                _analysis = analysis;
                _report = report;
                _handler = handler;
                _chainHead = chainHead;
                _cancellationToken = cancellationToken;
                _reported = reported ?? new HashSet<(string, TextSpanKey)>();
            }

            public void OnBlocking(IOperation operation, BlockingApis.Match match, IParameterSymbol? unlessNonBlocking = null)
            {
                // Socket I/O on a parameter of handler code: nothing here knows what the caller passes, so it blocks.
                var row = match.Row!;
                if (row.Kind == BlockingKind.ConsoleWrite)
                {
                    Report(ConsoleWriteRule, operation, ImmutableDictionary<string, string?>.Empty, match.Name, _handler, row.Alternative);
                    return;
                }

                var alternative = row.Fix == BlockingFix.AwaitAsyncTwin ? $"await {TwinName(match.Name, row.Alternative)}(...)" : row.Alternative;
                var properties = ImmutableDictionary<string, string?>.Empty
                    .Add(FixProperty, row.Fix.ToString())
                    .Add(AlternativeProperty, row.Fix == BlockingFix.AwaitAsyncTwin ? row.Alternative : null);
                Report(BlockingCallRule, operation, properties, match.Name, _handler, alternative);
            }

            public void OnCallee(IOperation? operation, CallTarget target, bool insideLoop, IOperation? call = null)
            {
                if (operation is null)
                {
                    return;
                }

                // A socket the handler passes that is known non-blocking (a field set Blocking = false) stays so along the chain.
                var chain = _analysis._graph.FindBlockingChain(target.Method, SocketModes.ArgumentModes(call).NonBlocking, target.ThisBound, _cancellationToken);
                if (chain is null)
                {
                    // NB0005 follows calls too: a handler that reaches Console.WriteLine through a logging helper.
                    var console = _analysis._graph.FindConsoleChain(target.Method, _cancellationToken);
                    if (console is not null)
                    {
                        var consoleSteps = console.Methods.Select((step, i) => CallTargets.StepName(step.Method, i == 0 ? target.Reason : step.Reason));
                        var consoleText = _chainHead + " → " + string.Join(" → ", consoleSteps) + " → " + console.Step;
                        Report(ConsoleWriteRule, operation, ImmutableDictionary<string, string?>.Empty, target.CalledName, _handler, "through " + consoleText + ": " + ConsoleAlternative);
                    }

                    return;
                }

                // A member of another assembly (followed through its summary) is named with its type: Repo.Load.
                var own = _analysis._compilation.Assembly;
                var steps = chain.Methods.Select((step, i) => SymbolEqualityComparer.Default.Equals(step.Method.ContainingAssembly, own)
                    ? CallTargets.StepName(step.Method, i == 0 ? target.Reason : step.Reason)
                    : BlockingSummaries.QualifiedStepName(step.Method, i == 0 ? target.Reason : step.Reason));
                var text = _chainHead + " → " + string.Join(" → ", steps) + " → " + chain.Step;
                Report(TransitiveBlockingCallRule, operation, ImmutableDictionary<string, string?>.Empty, _handler, target.CalledName, text);
            }

            public void OnEpollWait(IInvocationOperation operation, bool insideLoop)
            {
            }

            /// <summary><c>File.ReadAllText</c> with twin <c>ReadAllTextAsync</c> → <c>File.ReadAllTextAsync</c>.</summary>
            private static string TwinName(string api, string twin)
            {
                var dot = api.LastIndexOf('.');
                return dot < 0 ? twin : api.Substring(0, dot + 1) + twin;
            }

            /// <summary>A method group passed as a handler: the method runs on the loop.</summary>
            public void ReportMethodGroup(IMethodReferenceOperation reference)
            {
                var method = reference.Method;
                var match = _analysis._apis.Find(method);
                if (match.IsHit)
                {
                    OnBlocking(reference, match);
                    return;
                }

                var definition = (method.PartialImplementationPart ?? method).OriginalDefinition;
                if (_analysis._walker.IsFollowed(definition))
                {
                    OnCallee(reference, new CallTarget(definition, null, definition.Name), insideLoop: false);
                }
            }

            /// <summary>A delegate value passed as a handler (<c>loop.Register(fd, …, _onRead)</c>): whatever it may hold runs on the loop.</summary>
            public void ReportDelegateValue(IOperation value, string calledName)
            {
                var targets = new List<CallTarget>();
                _analysis._walker.Targets.ResolveDelegateValue(value, calledName, targets);
                foreach (var target in targets)
                {
                    var definition = (target.Method.PartialImplementationPart ?? target.Method).OriginalDefinition;
                    if (_analysis._walker.IsFollowed(definition))
                    {
                        OnCallee(value, new CallTarget(definition, target.Reason, calledName), insideLoop: false);
                    }
                }
            }

            private void Report(DiagnosticDescriptor rule, IOperation operation, ImmutableDictionary<string, string?> properties, params object[] arguments)
            {
                if (!_reported.Add((rule.Id, new TextSpanKey(operation.Syntax))))
                {
                    return;
                }

                _report(Diagnostic.Create(rule, operation.Syntax.GetLocation(), properties, arguments));
            }
        }
    }

    /// <summary>Identifies a reported node for de-duplication (a region can be reached by two routes).</summary>
    private readonly struct TextSpanKey : System.IEquatable<TextSpanKey>
    {
        private readonly SyntaxTree _tree;
        private readonly Microsoft.CodeAnalysis.Text.TextSpan _span;

        public TextSpanKey(SyntaxNode node)
        {
            _tree = node.SyntaxTree;
            _span = node.Span;
        }

        public bool Equals(TextSpanKey other) => _tree == other._tree && _span == other._span;

        public override bool Equals(object? obj) => obj is TextSpanKey other && Equals(other);

        public override int GetHashCode() => _span.GetHashCode();
    }
}
