using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using NoBlock.Analyzers.Drain;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace NoBlock.Analyzers.CodeFixes.Rules;

/// <summary>
/// NB0003/NB0004: wraps a single read/accept in the drain loop, when the analyzer marked the shape as simple
/// enough (<see cref="DrainLoopShape"/>): the statement and the rest of its block move into
/// <c>while (true) { …; if (n &lt;= 0) break; }</c>, so the code that handled one result handles each, and the
/// loop ends on EAGAIN/EWOULDBLOCK (-1), end of stream (0) or an error. A discarded read becomes
/// <c>while (read(…) &gt; 0) { }</c>. Anything else gets no fix; the rule's page shows the pattern.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(EdgeTriggeredDrainFixer))]
[Shared]
public sealed class EdgeTriggeredDrainFixer : CodeFixProvider
{
    public const string EquivalenceKey = "NoBlock.WrapInDrainLoop";

    public override ImmutableArray<string> FixableDiagnosticIds { get; } =
        ImmutableArray.Create(RuleIdentifiers.EdgeTriggeredReadNotDrained, RuleIdentifiers.EdgeTriggeredAcceptNotDrained);

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
            if (!diagnostic.Properties.TryGetValue(DrainLoopShape.PropertyName, out var fix) || fix != DrainLoopShape.WrapInLoop)
            {
                continue;
            }

            var call = root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true)
                .FirstAncestorOrSelf<InvocationExpressionSyntax>();
            var isAccept = diagnostic.Id == RuleIdentifiers.EdgeTriggeredAcceptNotDrained;
            if (call is null || call.Span != diagnostic.Location.SourceSpan
                || !DrainLoopShape.TryGet(call, isAccept, out _, out _, out _))
            {
                continue;
            }

            context.RegisterCodeFix(
                CodeAction.Create(
                    isAccept ? "Accept in a loop until EAGAIN" : "Read in a loop until EAGAIN",
                    cancellationToken => WrapAsync(context.Document, call, isAccept, cancellationToken),
                    EquivalenceKey),
                diagnostic);
        }
    }

    private static async Task<Document> WrapAsync(Document document, InvocationExpressionSyntax call, bool isAccept, CancellationToken cancellationToken)
    {
        var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        if (root is null
            || !DrainLoopShape.TryGet(call, isAccept, out var statement, out var kind, out var resultName)
            || statement.Parent is not BlockSyntax block)
        {
            return document;
        }

        WhileStatementSyntax loop;
        BlockSyntax newBlock;
        if (kind == DrainLoopShape.Kind.Discarded)
        {
            // read(fd, buf, n);  →  while (read(fd, buf, n) > 0) { }
            loop = WhileStatement(
                    BinaryExpression(SyntaxKind.GreaterThanExpression, call.WithoutTrivia(), Zero()),
                    Block())
                .WithTriviaFrom(statement);
            newBlock = block.ReplaceNode(statement, loop.WithAdditionalAnnotations(Formatter.Annotation));
        }
        else
        {
            var index = block.Statements.IndexOf(statement);
            var moved = new List<StatementSyntax>(block.Statements.Skip(index));
            var leading = moved[0].GetLeadingTrivia();
            moved[0] = moved[0].WithLeadingTrivia(ElasticMarker);

            // Read: -1 is EAGAIN (drained) or an error, 0 the end of the stream. Accept: -1 is EAGAIN or an error.
            moved.Add(IfStatement(
                BinaryExpression(isAccept ? SyntaxKind.LessThanExpression : SyntaxKind.LessThanOrEqualExpression, IdentifierName(resultName!), Zero()),
                Block(BreakStatement())));

            loop = WhileStatement(LiteralExpression(SyntaxKind.TrueLiteralExpression), Block(moved))
                .WithLeadingTrivia(leading)
                .WithAdditionalAnnotations(Formatter.Annotation);
            newBlock = block.WithStatements(List(block.Statements.Take(index).Append(loop)));
        }

        return document.WithSyntaxRoot(root.ReplaceNode(block, newBlock));
    }

    private static LiteralExpressionSyntax Zero() => LiteralExpression(SyntaxKind.NumericLiteralExpression, Literal(0));
}
