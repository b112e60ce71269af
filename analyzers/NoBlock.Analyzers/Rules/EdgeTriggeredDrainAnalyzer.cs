using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using NoBlock.Analyzers.Drain;
using NoBlock.Analyzers.HandlerContext;
using NoBlock.Analyzers.Operations;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Rules;

/// <summary>
/// NB0003 / NB0004: with edge triggering (<c>EPOLLET</c>, <c>IoEvents.EdgeTriggered</c>) epoll reports an fd once
/// when it becomes ready; a handler that reads (or accepts) once and returns leaves the rest in the kernel and
/// nothing wakes it again. Reported on the read/recv/accept invocation that does not loop until EAGAIN.
/// </summary>
[DiagnosticAnalyzer(Microsoft.CodeAnalysis.LanguageNames.CSharp)]
public sealed class EdgeTriggeredDrainAnalyzer : DiagnosticAnalyzer
{
    /// <summary>How NB9002 names this analysis when it fails.</summary>
    internal const string AnalysisName = "edge-triggered drain (NB0003/NB0004)";

    internal const string VerdictProperty = "Verdict";

    internal static readonly DiagnosticDescriptor ReadNotDrained = new(
        RuleIdentifiers.EdgeTriggeredReadNotDrained,
        title: "Edge-triggered read does not drain until EAGAIN",
        messageFormat: "{0} reads edge-triggered fd '{1}' {2}: the rest of the data stays in the socket buffer and epoll will not report this fd again; keep reading in a loop until it fails with EAGAIN/EWOULDBLOCK (or returns 0 at end of stream)",
        category: RuleCategories.EventLoop,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "An fd registered with EPOLLET (or IoEvents.EdgeTriggered) is reported once when it becomes readable. A read that is not repeated until it fails with EAGAIN leaves data in the socket buffer that no later epoll_wait will announce: the connection hangs silently.",
        helpLinkUri: RuleIdentifiers.GetHelpUri(RuleIdentifiers.EdgeTriggeredReadNotDrained));

    internal static readonly DiagnosticDescriptor AcceptNotDrained = new(
        RuleIdentifiers.EdgeTriggeredAcceptNotDrained,
        title: "Edge-triggered accept does not loop until EAGAIN",
        messageFormat: "{0} accepts on edge-triggered listening fd '{1}' {2}: the other pending connections stay in the accept queue and epoll will not report this fd again; keep accepting in a loop until it fails with EAGAIN/EWOULDBLOCK",
        category: RuleCategories.EventLoop,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "A listening socket registered with EPOLLET (or IoEvents.EdgeTriggered) is reported once when connections arrive. Accepting one connection per wakeup leaves the others queued with nothing to announce them: clients wait until another connection happens to arrive.",
        helpLinkUri: RuleIdentifiers.GetHelpUri(RuleIdentifiers.EdgeTriggeredAcceptNotDrained));

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(ReadNotDrained, AcceptNotDrained, AnalyzerFailure.Descriptor);

    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(start =>
        {
            var compilation = start.Compilation;
            var known = EdgeTriggeredKnownSymbols.Create(compilation);

            // A registration is EventLoop.Register (NoBlock referenced) or epoll_ctl, whose name (or DllImport entry
            // point) any caller or wrapper spells in its text: without either, no type can hold one, so nothing is
            // registered and the driver builds no operation tree for this analyzer (ordinary code costs nothing).
            if (known.EventLoop is null && !SyntaxIndex.AnyTreeMentions(compilation, "epoll_", start.CancellationToken))
            {
                return;
            }
            var calls = new EdgeTriggeredCalls();

            // A read reached from two types (two handlers calling the same helper) is reported once.
            var reported = new ConcurrentDictionary<SyntaxNode, bool>();

            // Only types whose text registers fds (EventLoop.Register, epoll_ctl or a wrapper of it) can hold an
            // edge-triggered registration; the others are never bound by this analyzer.
            var gate = new System.Lazy<System.Collections.Generic.HashSet<string>>(() =>
            {
                var names = SyntaxIndex.NamesReaching(compilation, "epoll_", new[] { "epoll_ctl" }, CancellationToken.None);
                if (known.EventLoop is not null)
                {
                    names.Add("Register"); // only NoBlock's EventLoop.Register counts (EdgeTriggeredKnownSymbols.IsRegister)
                }
                return names;
            }, LazyThreadSafetyMode.ExecutionAndPublication);
            start.RegisterSymbolStartAction(symbolStart =>
            {
                if (symbolStart.Symbol is INamedTypeSymbol type && SyntaxIndex.TypeMentions(type, gate.Value, symbolStart.CancellationToken))
                {
                    OnTypeStart(symbolStart, compilation, known, calls, reported);
                }
            }, SymbolKind.NamedType);
        });
    }

    private static void OnTypeStart(SymbolStartAnalysisContext context, Compilation compilation, EdgeTriggeredKnownSymbols known, EdgeTriggeredCalls calls, ConcurrentDictionary<SyntaxNode, bool> reported)
    {
        if (context.Symbol is not INamedTypeSymbol type)
        {
            return;
        }

        var operations = new TypeOperations(type);
        context.RegisterOperationBlockAction(block => AnalyzerFailure.Guard(AnalysisName,
            block.OperationBlocks.IsEmpty ? null : block.OperationBlocks[0].Syntax.GetLocation(),
            block.ReportDiagnostic,
            () =>
            {
                // Nested types get their own symbol scope; keep only this type's members.
                if (SymbolEqualityComparer.Default.Equals(block.OwningSymbol.ContainingType, type))
                {
                    operations.Add(block.OwningSymbol, block.OperationBlocks);
                }
            }));

        context.RegisterSymbolEndAction(end => AnalyzerFailure.Guard(AnalysisName,
            type.Locations.IsEmpty ? null : type.Locations[0],
            end.ReportDiagnostic,
            () =>
            {
                if (operations.Invocations.Count == 0)
                {
                    return;
                }

                var analysis = new EdgeTriggeredTypeAnalysis(known, calls, operations, method => BodyInThisCompilation(compilation, method, end.CancellationToken), end.CancellationToken);
                foreach (var finding in analysis.Run())
                {
                    if (reported.TryAdd(finding.Call.Syntax, true))
                    {
                        end.ReportDiagnostic(Create(finding));
                    }
                }

                foreach (var failure in analysis.Failures)
                {
                    end.ReportDiagnostic(failure);
                }
            }));
    }

    /// <summary>
    /// The operation tree of a method of another type, when its body is compiled here (not a referenced
    /// project's source, not metadata): a handler may pass the event's fd to a helper class.
    /// </summary>
    private static IOperation? BodyInThisCompilation(Compilation compilation, IMethodSymbol method, CancellationToken cancellationToken)
    {
        method = method.PartialImplementationPart ?? method.OriginalDefinition;
        if (method.IsAbstract || method.IsExtern || method.DeclaringSyntaxReferences.Length != 1)
        {
            return null;
        }

        var reference = method.DeclaringSyntaxReferences[0];
        if (!compilation.ContainsSyntaxTree(reference.SyntaxTree)
            || reference.GetSyntax(cancellationToken) is not MethodDeclarationSyntax { Body: not null } and not MethodDeclarationSyntax { ExpressionBody: not null })
        {
            return null;
        }

        return OtherDocuments.ModelFor(compilation, reference.SyntaxTree)?.GetOperation(reference.GetSyntax(cancellationToken), cancellationToken);
    }

    private static Diagnostic Create(DrainFinding finding)
    {
        var isAccept = finding.Kind == LibcCallKind.Accept;
        var properties = ImmutableDictionary.CreateBuilder<string, string?>();
        properties[VerdictProperty] = finding.Verdict.ToString();
        if (finding.Verdict == DrainVerdict.CallsOnce && DrainLoopShape.TryGet(finding.Call.Syntax, isAccept, out _, out _, out _))
        {
            properties[DrainLoopShape.PropertyName] = DrainLoopShape.WrapInLoop;
        }

        var callName = finding.Call.Syntax is InvocationExpressionSyntax invocation ? invocation.Expression.ToString() : finding.Call.TargetMethod.Name;
        var fd = EdgeTriggeredCalls.FdArgument(finding.Call, finding.Kind)?.Syntax.ToString() ?? "?";
        var how = finding.Verdict == DrainVerdict.CallsOnce
            ? "once per readiness event"
            : isAccept ? "but leaves its loop after a successful accept" : "but leaves its loop after a successful read";

        return Diagnostic.Create(
            isAccept ? AcceptNotDrained : ReadNotDrained,
            finding.Call.Syntax.GetLocation(),
            properties.ToImmutable(),
            callName,
            fd,
            how);
    }
}
