using System.Collections.Immutable;
using System.Composition;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using NoBlock.Analyzers.Rules;

namespace NoBlock.Analyzers.CodeFixes.Rules;

/// <summary>
/// NB0006: <c>await t.ConfigureAwait(false)</c> → <c>await t</c>, so the handler resumes on the loop. Offered for
/// <c>false</c> and <c>ConfigureAwaitOptions.None</c> only (the analyzer says so); other options also change how
/// the await throws or yields, and are left to the author.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(ConfigureAwaitFalseInHandlerFixer)), Shared]
public sealed class ConfigureAwaitFalseInHandlerFixer : CodeFixProvider
{
    private const string Title = "Remove ConfigureAwait(false): resume on the event loop";

    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(RuleIdentifiers.ConfigureAwaitFalseInHandler);

    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null)
        {
            return;
        }

        foreach (var diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.TryGetValue(ConfigureAwaitFalseInHandlerAnalyzer.FixProperty, out var fix) || fix != ConfigureAwaitFalseInHandlerAnalyzer.RemoveFix)
            {
                continue;
            }

            var name = root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true).FirstAncestorOrSelf<InvocationExpressionSyntax>();
            if (name is not { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait" } access } invocation)
            {
                continue;
            }

            context.RegisterCodeFix(
                CodeAction.Create(Title, _ =>
                {
                    var awaited = access.Expression.WithTriviaFrom(invocation);
                    return Task.FromResult(context.Document.WithSyntaxRoot(root.ReplaceNode(invocation, awaited)));
                }, equivalenceKey: RuleIdentifiers.ConfigureAwaitFalseInHandler),
                diagnostic);
        }
    }
}
