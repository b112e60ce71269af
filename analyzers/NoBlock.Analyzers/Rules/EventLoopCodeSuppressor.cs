using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using NoBlock.Analyzers.Configuration;
using NoBlock.Analyzers.HandlerContext;

namespace NoBlock.Analyzers.Rules;

/// <summary>
/// Suppresses, in event-loop handler code only, the advice of other analyzers that is wrong there:
/// MA0004 / CA2007 ("add ConfigureAwait(false)" — in a handler that moves the rest of it off the loop, see NB0006)
/// and VSTHRD100 / AsyncFixer03 ("avoid async void" — an <c>async void</c> handler is the shape the loop expects:
/// its delegates return void and its SynchronizationContext brings the handler's exceptions to the loop's fault
/// policy). Where code is handler code is decided by <see cref="EnclosingHandler"/>, the rules' own routes.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class EventLoopCodeSuppressor : DiagnosticSuppressor
{
    internal static readonly SuppressionDescriptor Meziantou = new(
        RuleIdentifiers.ConfigureAwaitAdviceMeziantou, "MA0004",
        "In EventLoop handler code an await must resume on the loop thread: ConfigureAwait(false) would move the rest of the handler to the thread pool (NB0006)");

    internal static readonly SuppressionDescriptor NetAnalyzers = new(
        RuleIdentifiers.ConfigureAwaitAdviceNetAnalyzers, "CA2007",
        "In EventLoop handler code an await must resume on the loop thread: ConfigureAwait(false) would move the rest of the handler to the thread pool (NB0006)");

    internal static readonly SuppressionDescriptor VsThreading = new(
        RuleIdentifiers.AsyncVoidHandlerVsThreading, "VSTHRD100",
        "An async void EventLoop handler is the shape the loop expects: its exceptions reach the loop's fault policy through the loop's SynchronizationContext");

    internal static readonly SuppressionDescriptor AsyncFixer = new(
        RuleIdentifiers.AsyncVoidHandlerAsyncFixer, "AsyncFixer03",
        "An async void EventLoop handler is the shape the loop expects: its exceptions reach the loop's fault policy through the loop's SynchronizationContext");

    public override ImmutableArray<SuppressionDescriptor> SupportedSuppressions { get; } = ImmutableArray.Create(Meziantou, NetAnalyzers, VsThreading, AsyncFixer);

    public override void ReportSuppressions(SuppressionAnalysisContext context)
    {
        EnclosingHandler? handlers = null;
        var byId = new Dictionary<string, SuppressionDescriptor>(System.StringComparer.Ordinal);
        foreach (var descriptor in SupportedSuppressions)
        {
            byId[descriptor.SuppressedDiagnosticId] = descriptor;
        }

        foreach (var diagnostic in context.ReportedDiagnostics)
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            if (!byId.TryGetValue(diagnostic.Id, out var descriptor) || diagnostic.Location.SourceTree is not { } tree)
            {
                continue;
            }

            if (handlers is null)
            {
                var configuration = NoBlockConfiguration.Read(context.Compilation, context.Options.AdditionalFiles, context.CancellationToken);
                handlers = new EnclosingHandler(new HandlerRoots(context.Compilation, configuration.Handlers));
            }

            var node = tree.GetRoot(context.CancellationToken).FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true);
            var options = context.Options.AnalyzerConfigOptionsProvider.GetOptions(tree);
            if (handlers.Find(context.GetSemanticModel(tree), node, options, context.CancellationToken) is not null)
            {
                context.ReportSuppression(Suppression.Create(descriptor, diagnostic));
            }
        }
    }
}
