using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
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
/// policy); VSTHRD101 / MA0147 ("avoid async lambdas / async void methods for void delegates") where the async lambda
/// or method group is itself the handler handed to the loop (<c>loop.Post(async () =&gt; …)</c>, <c>loop.Post(OnTick)</c>),
/// for the same reason — not for one handed to anything else, even inside a handler (<c>list.ForEach(async x =&gt; …)</c>
/// is fire-and-forget there too).
/// Where code is handler code is decided by <see cref="EnclosingHandler"/>, the rules' own routes.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class EventLoopCodeSuppressor : DiagnosticSuppressor
{
    // One justification per piece of advice: two analyzers giving the same advice are suppressed for the same reason.
    private const string ResumeOnLoop =
        "In EventLoop handler code an await must resume on the loop thread: ConfigureAwait(false) would move the rest of the handler to the thread pool (NB0006)";

    private const string AsyncVoidHandler =
        "An async void EventLoop handler is the shape the loop expects: its exceptions reach the loop's fault policy through the loop's SynchronizationContext";

    private const string AsyncLambdaHandler =
        "An async lambda passed to the loop as a handler is the shape the loop expects: its exceptions reach the loop's fault policy through the loop's SynchronizationContext";

    internal static readonly SuppressionDescriptor Meziantou = new(
        RuleIdentifiers.ConfigureAwaitAdviceMeziantou, "MA0004",
        ResumeOnLoop);

    internal static readonly SuppressionDescriptor NetAnalyzers = new(
        RuleIdentifiers.ConfigureAwaitAdviceNetAnalyzers, "CA2007",
        ResumeOnLoop);

    internal static readonly SuppressionDescriptor VsThreading = new(
        RuleIdentifiers.AsyncVoidHandlerVsThreading, "VSTHRD100",
        AsyncVoidHandler);

    internal static readonly SuppressionDescriptor AsyncFixer = new(
        RuleIdentifiers.AsyncVoidHandlerAsyncFixer, "AsyncFixer03",
        AsyncVoidHandler);

    internal static readonly SuppressionDescriptor VsThreadingLambda = new(
        RuleIdentifiers.AsyncLambdaHandlerVsThreading, "VSTHRD101",
        AsyncLambdaHandler);

    internal static readonly SuppressionDescriptor MeziantouLambda = new(
        RuleIdentifiers.AsyncLambdaHandlerMeziantou, "MA0147",
        AsyncLambdaHandler);

    /// <summary>Suppressions that hold only where the diagnostic's lambda or method group is itself the handler handed to the loop.</summary>
    private static readonly ImmutableHashSet<string> OnlyForRegisteredHandlers = ImmutableHashSet.Create("VSTHRD101", "MA0147");

    public override ImmutableArray<SuppressionDescriptor> SupportedSuppressions { get; } = ImmutableArray.Create(Meziantou, NetAnalyzers, VsThreading, AsyncFixer, VsThreadingLambda, MeziantouLambda);

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
            var model = context.GetSemanticModel(tree);
            bool suppress = OnlyForRegisteredHandlers.Contains(diagnostic.Id)
                ? handlers.IsRegisteredHandler(model, node, context.CancellationToken)
                : handlers.Find(model, node, context.Options.AnalyzerConfigOptionsProvider.GetOptions(tree), context.CancellationToken) is not null;
            if (suppress)
            {
                context.ReportSuppression(Suppression.Create(descriptor, diagnostic));
            }
        }
    }
}
