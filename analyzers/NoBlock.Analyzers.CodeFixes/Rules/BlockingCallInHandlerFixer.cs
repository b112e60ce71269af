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
using Microsoft.CodeAnalysis.Editing;
using Microsoft.CodeAnalysis.Simplification;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Blocking;
using NoBlock.Analyzers.Configuration;
using NoBlock.Analyzers.HandlerContext;
using NoBlock.Analyzers.Operations;
using NoBlock.Analyzers.Rules;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace NoBlock.Analyzers.CodeFixes.Rules;

/// <summary>
/// NB0001 fixes that are mechanical and safe, inside an <c>async</c> function only: <c>.Result</c>, <c>.Wait()</c>
/// and <c>GetAwaiter().GetResult()</c> → <c>await</c>; <c>Thread.Sleep(x)</c> → <c>await Task.Delay(x)</c>; a call
/// with a true async twin (same leading parameters, the rest optional) → <c>await</c> the twin. The analyzer says
/// which through the diagnostic's properties; every precondition is checked before the fix is offered.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(BlockingCallInHandlerFixer)), Shared]
public sealed class BlockingCallInHandlerFixer : CodeFixProvider
{
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(RuleIdentifiers.BlockingCallInHandler);

    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        var model = await context.Document.GetSemanticModelAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null || model is null)
        {
            return;
        }

        foreach (var diagnostic in context.Diagnostics)
        {
            RegisterOffload(context, root, model, diagnostic);

            if (!diagnostic.Properties.TryGetValue(BlockingCallInHandlerAnalyzer.FixProperty, out var fixName)
                || !System.Enum.TryParse<BlockingFix>(fixName, out var fix) || fix == BlockingFix.None)
            {
                continue;
            }

            var node = root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true);
            if (node is not ExpressionSyntax expression || !CanAwaitHere(expression))
            {
                continue;
            }

            var replacement = fix switch
            {
                BlockingFix.AwaitTask => AwaitTask(expression),
                BlockingFix.AwaitDelay => AwaitDelay(expression),
                BlockingFix.AwaitAsyncTwin => AwaitTwin(expression, model, diagnostic.Properties.TryGetValue(BlockingCallInHandlerAnalyzer.AlternativeProperty, out var twin) ? twin : null, context.CancellationToken),
                _ => null,
            };
            if (replacement is null)
            {
                continue;
            }

            var title = fix switch
            {
                BlockingFix.AwaitTask => "Await the task instead of blocking on it",
                BlockingFix.AwaitDelay => "Use 'await Task.Delay' instead of 'Thread.Sleep'",
                _ => $"Use 'await {diagnostic.Properties[BlockingCallInHandlerAnalyzer.AlternativeProperty]}'",
            };
            context.RegisterCodeFix(
                CodeAction.Create(title, ct => Replace(context.Document, expression, replacement, ct), equivalenceKey: EquivalenceKey),
                diagnostic);
        }
    }

    /// <summary>
    /// In a synchronous handler, a blocking statement (the call is the whole statement) moves into
    /// <c>loop.OffloadAndReport(() =&gt; …)</c>: the work runs on the thread pool and a failure is reported as the loop's
    /// handler fault (no task is discarded). Not offered when the statement uses ref-like locals (a lambda cannot capture
    /// them), ref parameters or <c>this</c> of a struct, nor when no one loop can be named; see <see cref="ChooseLoop"/>.
    /// </summary>
    private static void RegisterOffload(CodeFixContext context, SyntaxNode root, SemanticModel model, Diagnostic diagnostic)
    {
        var node = root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true);
        if (node.Parent is not ExpressionStatementSyntax statement || IsInAsyncFunction(statement) || !IsOffloadable(statement, model, context.CancellationToken))
        {
            return;
        }

        var loopType = model.Compilation.GetTypeByMetadataName("NoBlock.EventLoop");
        // An older runtime without OffloadAndReport would leave only Offload, whose task the statement would discard.
        if (loopType is null || loopType.GetMembers(OffloadMethod).IsEmpty)
        {
            return;
        }

        var loop = ChooseLoop(statement, context.Document, model, loopType, context.CancellationToken);
        if (loop is null)
        {
            return;
        }

        context.RegisterCodeFix(
            CodeAction.Create(
                $"Move to '{loop.Name}.{OffloadMethod}(...)' (runs on the thread pool; a failure is reported as the loop's handler fault)",
                ct => OffloadAsync(context.Document, statement, loop.Name, ct),
                equivalenceKey: EquivalenceKey),
            diagnostic);
    }

    private const string OffloadMethod = "OffloadAndReport";

    /// <summary>
    /// One key for every NB0001 fix: a diagnostic gets at most one (the await fixes need an async function, the offload
    /// fix a synchronous one), so Fix All — and one <c>dotnet format analyzers</c> pass — fixes every kind at once.
    /// </summary>
    private const string EquivalenceKey = "NB0001";

    /// <summary>
    /// The loop the work is handed to: the one the handler is registered on when the registration is in view (the
    /// receiver of the <c>Register</c>/<c>Post</c>/<c>Schedule</c> call that registers the handler the statement runs in,
    /// as <see cref="EnclosingHandler"/> finds it: the lambda passed there, or the method passed as a method group in
    /// its own type), else the only <c>EventLoop</c> the
    /// statement can use. Usable means: a local or parameter of the enclosing functions declared before the statement
    /// (a top-level statement's local is not usable inside a type's member: CS8801), a field or property (instance
    /// ones only where there is a <c>this</c>), not shadowed, and not nullable-annotated (<c>EventLoop?</c> would need a
    /// null check the fix cannot choose). Several candidates and no registration in view: no fix.
    /// </summary>
    private static ISymbol? ChooseLoop(ExpressionStatementSyntax statement, Document document, SemanticModel model, INamedTypeSymbol loopType, CancellationToken cancellationToken)
    {
        var functions = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        bool hasThis = false;
        for (var symbol = model.GetEnclosingSymbol(statement.SpanStart, cancellationToken); symbol is IMethodSymbol method; symbol = method.ContainingSymbol)
        {
            functions.Add(method);
            if (method.MethodKind is not (MethodKind.AnonymousFunction or MethodKind.LocalFunction))
            {
                hasThis = !method.IsStatic;
                break;
            }
            if (method.IsStatic)
            {
                break; // a static lambda or local function captures nothing from outside
            }
        }

        var candidates = model.LookupSymbols(statement.SpanStart)
            .Where(symbol => TypeOf(symbol) is { } type
                && SymbolEqualityComparer.Default.Equals(type.WithNullableAnnotation(NullableAnnotation.None), loopType)
                && type.NullableAnnotation != NullableAnnotation.Annotated
                && IsUsableAt(symbol, statement, model, functions, hasThis))
            .ToList();
        if (candidates.Count == 0)
        {
            return null;
        }

        var registeredOn = RegisteredOn(statement, document, model, cancellationToken)
            .Where(symbol => candidates.Contains(symbol, SymbolEqualityComparer.Default))
            .Distinct(SymbolEqualityComparer.Default)
            .ToList();
        return registeredOn.Count switch
        {
            1 => registeredOn[0],
            0 when candidates.Count == 1 => candidates[0],
            _ => null,
        };
    }

    private static bool IsUsableAt(ISymbol symbol, StatementSyntax statement, SemanticModel model, HashSet<ISymbol> functions, bool hasThis)
    {
        switch (symbol)
        {
            case ILocalSymbol or IParameterSymbol when !functions.Contains(symbol.ContainingSymbol):
                return false;
            case ILocalSymbol local when local.DeclaringSyntaxReferences.Any(r => r.Span.Start > statement.SpanStart):
                return false; // declared later in the block: in scope, not yet usable (CS0841)
            case IFieldSymbol or IPropertySymbol when !symbol.IsStatic && !hasThis:
                return false;
        }

        // The name must mean this symbol where the fix writes it.
        var found = model.LookupSymbols(statement.SpanStart, name: symbol.Name);
        return found.Length > 0 && SymbolEqualityComparer.Default.Equals(found[0], symbol);
    }

    /// <summary>The receivers of the EventLoop calls that register the handler <paramref name="statement"/> runs in, where in view.</summary>
    private static IEnumerable<ISymbol> RegisteredOn(ExpressionStatementSyntax statement, Document document, SemanticModel model, CancellationToken cancellationToken)
    {
        var analyzerOptions = document.Project.AnalyzerOptions;
        var configuration = NoBlockConfiguration.Read(model.Compilation, analyzerOptions.AdditionalFiles, cancellationToken);
        var handlers = new EnclosingHandler(new HandlerRoots(model.Compilation, configuration.Handlers));
        var site = handlers.Find(model, statement, analyzerOptions.AnalyzerConfigOptionsProvider.GetOptions(statement.SyntaxTree), cancellationToken);
        if (site is null)
        {
            yield break;
        }

        foreach (var registration in site.Registrations)
        {
            if (registration.Parent is IInvocationOperation { Instance: { } instance } && OperationHelpers.ReferencedSymbol(instance) is { } receiver)
            {
                yield return receiver;
            }
        }
    }

    private static ITypeSymbol? TypeOf(ISymbol symbol) => symbol switch
    {
        ILocalSymbol local => local.Type,
        IParameterSymbol parameter => parameter.Type,
        IFieldSymbol field => field.Type,
        IPropertySymbol property => property.Type,
        _ => null,
    };

    private static bool IsInAsyncFunction(SyntaxNode node)
    {
        for (var current = node.Parent; current is not null; current = current.Parent)
        {
            switch (current)
            {
                case AnonymousFunctionExpressionSyntax lambda:
                    return lambda.AsyncKeyword.IsKind(SyntaxKind.AsyncKeyword);
                case LocalFunctionStatementSyntax local:
                    return local.Modifiers.Any(SyntaxKind.AsyncKeyword);
                case MethodDeclarationSyntax method:
                    return method.Modifiers.Any(SyntaxKind.AsyncKeyword);
                case MemberDeclarationSyntax:
                    return false;
            }
        }

        return false;
    }

    private static bool IsOffloadable(ExpressionStatementSyntax statement, SemanticModel model, CancellationToken cancellationToken)
    {
        if (statement.Ancestors().Any(a => a is LockStatementSyntax or UnsafeStatementSyntax))
        {
            return false;
        }

        foreach (var node in statement.DescendantNodes())
        {
            switch (node)
            {
                case ThisExpressionSyntax or BaseExpressionSyntax when model.GetTypeInfo(node, cancellationToken).Type is { IsValueType: true }:
                    return false;
                case IdentifierNameSyntax identifier:
                    var symbol = model.GetSymbolInfo(identifier, cancellationToken).Symbol;
                    if (symbol is ILocalSymbol { Type.IsRefLikeType: true } or ILocalSymbol { IsRef: true }
                        || symbol is IParameterSymbol parameter && (parameter.RefKind != RefKind.None || parameter.Type.IsRefLikeType))
                    {
                        return false;
                    }

                    if (symbol is IFieldSymbol or IPropertySymbol or IMethodSymbol { IsStatic: false } && !symbol.IsStatic
                        && symbol.ContainingType is { IsValueType: true })
                    {
                        return false; // implicit this of a struct
                    }

                    break;
            }
        }

        return true;
    }

    private static async Task<Document> OffloadAsync(Document document, ExpressionStatementSyntax statement, string loopName, CancellationToken cancellationToken)
    {
        var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        var offload = ExpressionStatement(
            InvocationExpression(
                MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression, IdentifierName(loopName), IdentifierName(OffloadMethod)),
                ArgumentList(SingletonSeparatedList(Argument(ParenthesizedLambdaExpression(statement.Expression.WithoutTrivia()))))))
            .WithTriviaFrom(statement)
            .WithAdditionalAnnotations(Formatter.Annotation);
        return document.WithSyntaxRoot(root!.ReplaceNode(statement, offload));
    }

    private static async Task<Document> Replace(Document document, ExpressionSyntax original, ExpressionSyntax replacement, CancellationToken cancellationToken)
    {
        var root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        var annotated = ParenthesizedExpression(replacement.WithoutTrivia())
            .WithTriviaFrom(original)
            .WithAdditionalAnnotations(Simplifier.Annotation, Formatter.Annotation);
        var changed = document.WithSyntaxRoot(root!.ReplaceNode(original, annotated));

        // Task.Delay is written fully qualified; add the using it needs, then let the simplifier shorten it.
        return await ImportAdder.AddImportsAsync(changed, Simplifier.AddImportsAnnotation, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>t.Result</c>, <c>t.Wait()</c>, <c>t[.ConfigureAwait(b)].GetAwaiter().GetResult()</c> → <c>await …</c>.</summary>
    private static ExpressionSyntax? AwaitTask(ExpressionSyntax expression)
    {
        switch (expression)
        {
            case MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Result" } result:
                return AwaitExpression(result.Expression.WithoutTrivia());
            case InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Wait" } wait, ArgumentList.Arguments.Count: 0 }:
                return AwaitExpression(wait.Expression.WithoutTrivia());
            case InvocationExpressionSyntax
            {
                Expression: MemberAccessExpressionSyntax
                {
                    Name.Identifier.ValueText: "GetResult",
                    Expression: InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "GetAwaiter" } getAwaiter, ArgumentList.Arguments.Count: 0 },
                },
                ArgumentList.Arguments.Count: 0,
            }:
                return AwaitExpression(getAwaiter.Expression.WithoutTrivia());
            default:
                return null; // Wait(timeout) or Wait(token) have other semantics: no mechanical rewrite
        }
    }

    /// <summary><c>Thread.Sleep(x)</c> → <c>await Task.Delay(x)</c> (int milliseconds and TimeSpan both exist on Task.Delay).</summary>
    private static ExpressionSyntax? AwaitDelay(ExpressionSyntax expression)
    {
        if (expression is not InvocationExpressionSyntax { ArgumentList.Arguments.Count: 1 } invocation)
        {
            return null;
        }

        var delay = InvocationExpression(
            MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression,
                ParseTypeName("System.Threading.Tasks.Task").WithAdditionalAnnotations(Simplifier.Annotation, Simplifier.AddImportsAnnotation),
                IdentifierName("Delay")),
            invocation.ArgumentList.WithoutTrivia());
        return AwaitExpression(delay);
    }

    /// <summary><c>x.M(args)</c> → <c>await x.MAsync(args)</c> when MAsync takes the same leading parameters and the rest are optional.</summary>
    private static ExpressionSyntax? AwaitTwin(ExpressionSyntax expression, SemanticModel model, string? twinName, CancellationToken cancellationToken)
    {
        if (twinName is null || expression is not InvocationExpressionSyntax invocation
            || model.GetSymbolInfo(invocation, cancellationToken).Symbol is not IMethodSymbol method)
        {
            return null;
        }

        var receiverType = invocation.Expression is MemberAccessExpressionSyntax access && !method.IsStatic
            ? model.GetTypeInfo(access.Expression, cancellationToken).Type ?? method.ContainingType
            : method.ContainingType;
        var hasTwin = receiverType.GetMembers(twinName).Concat(method.ContainingType.GetMembers(twinName))
            .OfType<IMethodSymbol>()
            .Any(candidate => candidate.IsStatic == method.IsStatic && SameLeadingParameters(method, candidate));
        if (!hasTwin)
        {
            return null;
        }

        ExpressionSyntax target = invocation.Expression switch
        {
            MemberAccessExpressionSyntax member => member.WithName(IdentifierName(twinName)),
            IdentifierNameSyntax => IdentifierName(twinName),
            _ => null!,
        };
        if (target is null)
        {
            return null;
        }

        return AwaitExpression(invocation.WithExpression(target).WithoutTrivia());
    }

    private static bool SameLeadingParameters(IMethodSymbol method, IMethodSymbol twin)
    {
        if (twin.Parameters.Length < method.Parameters.Length || !twin.ReturnType.Name.StartsWith("Task", System.StringComparison.Ordinal) && !twin.ReturnType.Name.StartsWith("ValueTask", System.StringComparison.Ordinal))
        {
            return false;
        }

        for (var i = 0; i < twin.Parameters.Length; i++)
        {
            if (i < method.Parameters.Length)
            {
                if (!SymbolEqualityComparer.Default.Equals(method.Parameters[i].Type, twin.Parameters[i].Type) || method.Parameters[i].RefKind != twin.Parameters[i].RefKind)
                {
                    return false;
                }
            }
            else if (!twin.Parameters[i].IsOptional)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// <c>await</c> is legal and means the same here: the enclosing function is <c>async</c>, and the expression is not in
    /// a <c>lock</c>, an <c>unsafe</c> block or a query clause of that function.
    /// </summary>
    private static bool CanAwaitHere(SyntaxNode node)
        => IsInAsyncFunction(node)
           && !node.Ancestors().TakeWhile(a => !IsFunctionBoundary(a)).Any(a => a is LockStatementSyntax or UnsafeStatementSyntax or QueryExpressionSyntax);

    private static bool IsFunctionBoundary(SyntaxNode node) => node is AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax or MemberDeclarationSyntax;

}
