using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NoBlock.Analyzers.Drain;

/// <summary>
/// The shapes of a single read/accept that the NB0003/NB0004 fix can wrap in a drain loop without changing
/// what the rest of the code means. The analyzer uses it to say "fixable" (a diagnostic property); the fixer
/// uses it again to build the loop. Shapes, each a statement directly in a block:
/// <list type="bullet">
/// <item><c>read(fd, buf, n);</c> — result discarded: <c>while (read(fd, buf, n) &gt; 0) { }</c> (reads only).</item>
/// <item><c>var n = read(...);</c> or <c>n = read(...);</c> followed by the rest of the block: the statement and the
/// rest go into <c>while (true) { …; if (n &lt;= 0) break; }</c> (accept: <c>if (fd &lt; 0) break;</c>), so the code
/// that handled one result now handles each, and the loop ends on EAGAIN, end of stream or error.</item>
/// </list>
/// Not offered when the rest of the block returns, jumps (<c>break</c>/<c>continue</c>/<c>goto</c> out of it),
/// yields, declares a local function or label, or writes the result variable.
/// </summary>
internal static class DrainLoopShape
{
    public const string PropertyName = "DrainFix";
    public const string WrapInLoop = "WrapInLoop";

    internal enum Kind
    {
        Discarded,
        Declared,
        Assigned,
    }

    public static bool TryGet(SyntaxNode callSyntax, bool isAccept, out StatementSyntax statement, out Kind kind, out string? resultName)
    {
        statement = null!;
        kind = Kind.Discarded;
        resultName = null;

        SyntaxNode expression = callSyntax;
        while (expression.Parent is ParenthesizedExpressionSyntax or CastExpressionSyntax)
        {
            expression = expression.Parent;
        }

        switch (expression.Parent)
        {
            case ExpressionStatementSyntax discarded when !isAccept && expression == callSyntax:
                statement = discarded;
                kind = Kind.Discarded;
                break;
            case EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax { Parent: VariableDeclarationSyntax { Variables.Count: 1, Parent: LocalDeclarationStatementSyntax declaration } } declarator }
                when !declaration.IsConst && declaration.UsingKeyword.IsKind(SyntaxKind.None) && declaration.AwaitKeyword.IsKind(SyntaxKind.None):
                statement = declaration;
                kind = Kind.Declared;
                resultName = declarator.Identifier.ValueText;
                break;
            case AssignmentExpressionSyntax { Left: IdentifierNameSyntax target, Parent: ExpressionStatementSyntax assignmentStatement } assignment
                when assignment.IsKind(SyntaxKind.SimpleAssignmentExpression) && assignment.Right == expression:
                statement = assignmentStatement;
                kind = Kind.Assigned;
                resultName = target.Identifier.ValueText;
                break;
            default:
                return false;
        }

        if (statement.Parent is not BlockSyntax block)
        {
            return false;
        }

        if (kind == Kind.Discarded)
        {
            return true;
        }

        var index = block.Statements.IndexOf(statement);
        foreach (var rest in block.Statements.Skip(index + 1))
        {
            if (!CanMoveIntoLoop(rest, resultName!))
            {
                return false;
            }
        }

        return true;
    }

    private static bool CanMoveIntoLoop(StatementSyntax statement, string resultName)
    {
        if (statement is LocalFunctionStatementSyntax or LabeledStatementSyntax)
        {
            return false;
        }

        foreach (var node in statement.DescendantNodesAndSelf(descendIntoChildren: n => n is not (AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax)))
        {
            switch (node)
            {
                case ReturnStatementSyntax:
                case GotoStatementSyntax:
                case YieldStatementSyntax:
                case LabeledStatementSyntax:
                case LocalFunctionStatementSyntax when node != statement:
                    return false;
                case BreakStatementSyntax when !HasTarget(node, statement, breakable: true):
                case ContinueStatementSyntax when !HasTarget(node, statement, breakable: false):
                    return false;
                case AssignmentExpressionSyntax { Left: IdentifierNameSyntax left } when left.Identifier.ValueText == resultName:
                case PrefixUnaryExpressionSyntax { Operand: IdentifierNameSyntax operand } prefix
                    when operand.Identifier.ValueText == resultName && (prefix.IsKind(SyntaxKind.PreIncrementExpression) || prefix.IsKind(SyntaxKind.PreDecrementExpression)):
                case PostfixUnaryExpressionSyntax { Operand: IdentifierNameSyntax postOperand } when postOperand.Identifier.ValueText == resultName:
                case ArgumentSyntax { RefKindKeyword.RawKind: not 0, Expression: IdentifierNameSyntax refArgument } when refArgument.Identifier.ValueText == resultName:
                    return false;
            }
        }

        return true;
    }

    /// <summary>True when a break/continue binds to a loop (or, for break, a switch) inside the moved statement.</summary>
    private static bool HasTarget(SyntaxNode jump, SyntaxNode movedRoot, bool breakable)
    {
        for (var current = jump.Parent; current is not null; current = current.Parent)
        {
            if (current is WhileStatementSyntax or DoStatementSyntax or ForStatementSyntax or CommonForEachStatementSyntax
                || (breakable && current is SwitchStatementSyntax))
            {
                return true;
            }

            if (current == movedRoot)
            {
                return false;
            }
        }

        return false;
    }
}
