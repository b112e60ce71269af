using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using Microsoft.CodeAnalysis.Text;
using NoBlock.Analyzers.Configuration;
using NoBlock.Analyzers.HandlerContext;
using NoBlock.Analyzers.Operations;

namespace NoBlock.Analyzers.Rules;

/// <summary>
/// NB0006: <c>await t.ConfigureAwait(false)</c> in event-loop handler code with code after it. The loop runs its
/// handlers under a <c>SynchronizationContext</c> that resumes awaits on the loop thread; <c>ConfigureAwait(false)</c>
/// opts out, so everything after the await runs on a thread-pool thread, concurrently with the loop's other handlers.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ConfigureAwaitFalseInHandlerAnalyzer : DiagnosticAnalyzer
{
    /// <summary>Present (value <see cref="RemoveFix"/>) when removing the call keeps the await's meaning.</summary>
    internal const string FixProperty = "NoBlock.Fix";
    internal const string RemoveFix = "Remove";

    /// <summary>How NB9002 names this analysis when it fails.</summary>
    internal const string AnalysisName = "configure-await (NB0006)";

    /// <summary><c>System.Threading.Tasks.ConfigureAwaitOptions.ContinueOnCapturedContext</c> (.NET 8).</summary>
    private const long ContinueOnCapturedContext = 1;

    public static readonly DiagnosticDescriptor Rule = new(
        RuleIdentifiers.ConfigureAwaitFalseInHandler,
        title: "ConfigureAwait(false) in an EventLoop handler: the code after it runs off the loop",
        messageFormat: "'{0}' in {1}: the code after this await runs on the thread pool, not on the event loop, racing the loop's other handlers; remove it so the handler resumes on the loop",
        category: RuleCategories.EventLoop,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "EventLoop handlers run under a SynchronizationContext that brings awaits back to the loop thread. ConfigureAwait(false) opts out: the rest of the handler runs on a thread-pool thread, at the same time as the loop, touching state the loop owns without synchronisation.",
        helpLinkUri: RuleIdentifiers.GetHelpUri(RuleIdentifiers.ConfigureAwaitFalseInHandler));

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(Rule, AnalyzerFailure.Descriptor);

    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(start =>
        {
            var configuration = NoBlockConfiguration.Read(start.Compilation, start.Options.AdditionalFiles, start.CancellationToken);
            var handlers = new EnclosingHandler(new HandlerRoots(start.Compilation, configuration.Handlers));
            start.RegisterOperationAction(operation => AnalyzerFailure.Guard(AnalysisName, operation.Operation.Syntax.GetLocation(), operation.ReportDiagnostic,
                () => Analyze(operation, handlers)), OperationKind.Await);
        });
    }

    private static void Analyze(OperationAnalysisContext context, EnclosingHandler handlers)
    {
        var awaitOperation = (IAwaitOperation)context.Operation;
        if (OperationHelpers.WalkDownConversion(awaitOperation.Operation) is not IInvocationOperation { TargetMethod.Name: "ConfigureAwait", Arguments.Length: 1 } configureAwait
            || configureAwait.TargetMethod.ContainingType?.ContainingNamespace?.ToDisplayString() != "System.Threading.Tasks"
            || !LeavesTheLoop(configureAwait.Arguments[0].Value, out var removable)
            || awaitOperation.Syntax is not AwaitExpressionSyntax awaitSyntax
            || !HasCodeAfter(awaitSyntax)
            || configureAwait.Syntax is not InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax access } invocation)
        {
            return;
        }

        var options = context.Options.AnalyzerConfigOptionsProvider.GetOptions(awaitSyntax.SyntaxTree);
        var site = handlers.Find(awaitOperation.SemanticModel!, awaitSyntax, options, context.CancellationToken);
        if (site is null)
        {
            return;
        }

        var span = TextSpan.FromBounds(access.Name.SpanStart, invocation.Span.End);
        var properties = removable ? ImmutableDictionary<string, string?>.Empty.Add(FixProperty, RemoveFix) : ImmutableDictionary<string, string?>.Empty;
        var handler = site.Function is AnonymousFunctionExpressionSyntax ? "a handler lambda" : $"handler '{site.Symbol?.Name}'";
        context.ReportDiagnostic(Diagnostic.Create(Rule, Location.Create(awaitSyntax.SyntaxTree, span), properties,
            invocation.ToString().Substring(access.Name.SpanStart - invocation.SpanStart), handler));
    }

    /// <summary>
    /// <c>ConfigureAwait(false)</c>, or <c>ConfigureAwait(options)</c> without <c>ContinueOnCapturedContext</c>, as a
    /// constant. Only <c>false</c> and <c>ConfigureAwaitOptions.None</c> can simply be removed: other options
    /// (<c>SuppressThrowing</c>, <c>ForceYielding</c>) change more than where the code resumes.
    /// </summary>
    private static bool LeavesTheLoop(IOperation argument, out bool removable)
    {
        removable = false;
        var constant = OperationHelpers.WalkDownConversion(argument).ConstantValue;
        if (!constant.HasValue)
        {
            return false;
        }

        switch (constant.Value)
        {
            case bool continueOnCapturedContext:
                removable = !continueOnCapturedContext;
                return !continueOnCapturedContext;
            case int or long or uint or byte when argument.Type?.TypeKind == TypeKind.Enum:
                var flags = System.Convert.ToInt64(constant.Value, System.Globalization.CultureInfo.InvariantCulture);
                removable = flags == 0;
                return (flags & ContinueOnCapturedContext) == 0;
            default:
                return false;
        }
    }

    /// <summary>
    /// True unless the await is the last thing its function does: the whole of an expression body, or an
    /// <c>await …;</c> / <c>return await …;</c> statement that is last in every block up to the function body, with no
    /// loop, <c>using</c>, <c>try</c> or enclosing expression that would run after it.
    /// </summary>
    internal static bool HasCodeAfter(AwaitExpressionSyntax awaitExpression)
    {
        SyntaxNode current = awaitExpression;
        while (current.Parent is ParenthesizedExpressionSyntax)
        {
            current = current.Parent;
        }

        switch (current.Parent)
        {
            case ArrowExpressionClauseSyntax:
                return false;
            case AnonymousFunctionExpressionSyntax lambda when lambda.Body == current:
                return false;
            case ExpressionStatementSyntax:
                current = current.Parent;
                break;
            case ReturnStatementSyntax:
                return DisposesOrFinallyAfter(current.Parent);

            default:
                return true; // its result is used by code that runs after it
        }

        while (true)
        {
            var parent = current.Parent;
            switch (parent)
            {
                case BlockSyntax block:
                    if (!IsLastStatement(block.Statements, (StatementSyntax)current) || HasUsingDeclarationBefore(block, current))
                    {
                        return true;
                    }

                    current = block;
                    break;
                case SwitchSectionSyntax section:
                    if (!IsLastStatement(section.Statements, (StatementSyntax)current))
                    {
                        return true;
                    }

                    current = section.Parent!;
                    break;
                case ElseClauseSyntax:
                    current = parent.Parent!;
                    break;
                case IfStatementSyntax or LabeledStatementSyntax:
                    current = parent;
                    break;
                case CatchClauseSyntax catchClause when catchClause.Parent is TryStatementSyntax { Finally: null } tryStatement:
                    current = tryStatement;
                    break;
                case FinallyClauseSyntax finallyClause:
                    current = finallyClause.Parent!;
                    break;
                case BaseMethodDeclarationSyntax or AccessorDeclarationSyntax or LocalFunctionStatementSyntax or AnonymousFunctionExpressionSyntax:
                    return false; // the end of the function
                case GlobalStatementSyntax:
                    return true;
                default:
                    return true; // a loop (the next iteration), using (Dispose), try (catch/finally), …
            }
        }
    }

    /// <summary>
    /// A <c>return</c> leaves the function at once; only a <c>finally</c> or a <c>Dispose</c> still runs after it.
    /// </summary>
    private static bool DisposesOrFinallyAfter(SyntaxNode statement)
    {
        for (SyntaxNode current = statement; current.Parent is { } parent; current = parent)
        {
            switch (parent)
            {
                case BaseMethodDeclarationSyntax or AccessorDeclarationSyntax or LocalFunctionStatementSyntax or AnonymousFunctionExpressionSyntax:
                    return false;
                case UsingStatementSyntax:
                case TryStatementSyntax { Finally: not null } when current is not FinallyClauseSyntax:
                case CatchClauseSyntax { Parent: TryStatementSyntax { Finally: not null } }:
                    return true;
                case BlockSyntax block when HasUsingDeclarationBefore(block, current):
                    return true;
            }
        }

        return true;
    }

    private static bool HasUsingDeclarationBefore(BlockSyntax block, SyntaxNode statement)
    {
        foreach (var candidate in block.Statements)
        {
            if (candidate == statement)
            {
                return false;
            }

            if (candidate is LocalDeclarationStatementSyntax { UsingKeyword.RawKind: not 0 })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Last, or followed only by what runs nothing: local function declarations, <c>break;</c>, <c>return;</c>.</summary>
    private static bool IsLastStatement(SyntaxList<StatementSyntax> statements, StatementSyntax statement)
    {
        var index = statements.IndexOf(statement);
        for (var i = index + 1; i < statements.Count; i++)
        {
            if (statements[i] is not (LocalFunctionStatementSyntax or BreakStatementSyntax or ReturnStatementSyntax { Expression: null } or EmptyStatementSyntax))
            {
                return false;
            }
        }

        return true;
    }
}
