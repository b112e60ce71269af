using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using NoBlock.Analyzers.Infrastructure;

namespace NoBlock.Analyzers.Rules;

/// <summary>
/// NB0003 / NB0004: with edge triggering (<c>EPOLLET</c>, <c>IoEvents.EdgeTriggered</c>) epoll reports an fd once
/// when it becomes ready; a handler that reads (or accepts) once and returns leaves the rest in the kernel and
/// nothing wakes it again. Reported on the read/recv/accept invocation that does not loop until EAGAIN.
/// </summary>
[DiagnosticAnalyzer(Microsoft.CodeAnalysis.LanguageNames.CSharp)]
public sealed class EdgeTriggeredDrainAnalyzer : DiagnosticAnalyzer
{
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
        ImmutableArray.Create(ReadNotDrained, AcceptNotDrained, EdgeTriggeredAnalyzerFailure.Descriptor);

    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(start =>
        {
            var known = EdgeTriggeredKnownSymbols.Create(start.Compilation);
            var calls = new EdgeTriggeredCalls();
            start.RegisterSymbolStartAction(symbolStart => OnTypeStart(symbolStart, known, calls), SymbolKind.NamedType);
        });
    }

    private static void OnTypeStart(SymbolStartAnalysisContext context, EdgeTriggeredKnownSymbols known, EdgeTriggeredCalls calls)
    {
        if (context.Symbol is not INamedTypeSymbol type)
        {
            return;
        }

        var operations = new TypeOperations(type);
        context.RegisterOperationBlockAction(block => EdgeTriggeredAnalyzerFailure.Guard(
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

        context.RegisterSymbolEndAction(end => EdgeTriggeredAnalyzerFailure.Guard(
            type.Locations.IsEmpty ? null : type.Locations[0],
            end.ReportDiagnostic,
            () =>
            {
                if (operations.Invocations.Count == 0)
                {
                    return;
                }

                var analysis = new EdgeTriggeredTypeAnalysis(known, calls, operations, end.CancellationToken);
                foreach (var finding in analysis.Run())
                {
                    end.ReportDiagnostic(Create(finding));
                }

                foreach (var failure in analysis.Failures)
                {
                    end.ReportDiagnostic(failure);
                }
            }));
    }

    private static Diagnostic Create(DrainFinding finding)
    {
        var isAccept = finding.Kind == DrainCallKind.Accept;
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
