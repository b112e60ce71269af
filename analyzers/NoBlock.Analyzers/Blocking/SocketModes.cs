using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Operations;

namespace NoBlock.Analyzers.Blocking;

/// <summary>
/// Decides whether a <c>System.Net.Sockets.Socket</c> a call is made on is known to be non-blocking
/// (<c>Blocking = false</c>), for the catalogue rows whose condition is
/// <see cref="BlockingCondition.UnlessNonBlockingSocket"/>. On such a socket <c>Send</c>, <c>Receive</c>,
/// <c>Accept</c>, <c>Connect</c> and <c>Disconnect</c> return at once (with <c>WouldBlock</c> where they would wait).
/// <list type="bullet">
/// <item>A field or property is non-blocking when code in its declaring type (any part of it) sets
/// <c>x.Blocking = false</c> on it, or assigns it a <c>new Socket(…) { Blocking = false }</c>, and no code there sets it
/// to anything else. A constructor that does so (SpanNetty's <c>AbstractSocketChannel</c>) covers every method of the
/// type and of its subclasses.</item>
/// <item>A local is non-blocking when its own method does so, and nothing there sets it otherwise; or when it is
/// initialised from a non-blocking field or property and never reassigned (<c>Socket socket = Socket;</c>).</item>
/// <item>A parameter is as non-blocking as the argument each caller passes: the call graph carries that along a chain
/// (<see cref="ArgumentModes"/>), so <c>socket.SafeClose()</c> on a non-blocking field does not report the
/// <c>socket.Disconnect(false)</c> inside <c>SafeClose</c>.</item>
/// </list>
/// Anything else (a socket returned by a call, an element of a collection) is not known and blocks, as before.
/// </summary>
internal sealed class SocketModes
{
    private const string SocketType = "System.Net.Sockets.Socket";

    private static readonly ConditionalWeakTable<Compilation, SocketModes> ByCompilation = new();

    private readonly Compilation _compilation;
    private readonly ConcurrentDictionary<ISymbol, bool> _members = new(SymbolEqualityComparer.Default);

    private SocketModes(Compilation compilation) => _compilation = compilation;

    public static SocketModes For(Compilation compilation) => ByCompilation.GetValue(compilation, c => new SocketModes(c));

    /// <summary>True for a <c>Socket</c>-typed expression known to be non-blocking here (a field, property or local).</summary>
    public static bool IsNonBlocking(IOperation? socket)
    {
        if (socket is null)
        {
            return false;
        }

        socket = OperationHelpers.WalkDownConversion(socket);
        var compilation = socket.SemanticModel?.Compilation;
        if (compilation is null)
        {
            return false;
        }

        return socket switch
        {
            IFieldReferenceOperation field => For(compilation).IsNonBlockingMember(field.Field.OriginalDefinition),
            IPropertyReferenceOperation { Arguments.Length: 0 } property => For(compilation).IsNonBlockingMember(property.Property.OriginalDefinition),
            ILocalReferenceOperation local => IsNonBlockingLocal(socket, local.Local),
            _ => false,
        };
    }

    /// <summary>The parameter of the walked method a call's socket receiver is (its mode is the caller's argument's), or null.</summary>
    public static IParameterSymbol? ReceiverParameter(IOperation? receiver)
        => receiver is null ? null : (OperationHelpers.WalkDownConversion(receiver) as IParameterReferenceOperation)?.Parameter;

    /// <summary>
    /// For a call into <paramref name="callee"/>: the ordinals of its <c>Socket</c> parameters that receive a socket
    /// known non-blocking at the call (bit <c>k</c> of <c>NonBlocking</c>), and those that receive a parameter of the
    /// caller (<c>(k, parameter)</c>), whose mode is the caller's caller's to give. Empty for a call with no socket argument.
    /// </summary>
    public static (ulong NonBlocking, List<(int Ordinal, IParameterSymbol From)>? PassedOn) ArgumentModes(IOperation? call)
    {
        var arguments = call switch
        {
            IInvocationOperation invocation => invocation.Arguments,
            IObjectCreationOperation creation => creation.Arguments,
            _ => default,
        };
        if (arguments.IsDefaultOrEmpty)
        {
            return (0, null);
        }

        ulong nonBlocking = 0;
        List<(int, IParameterSymbol)>? passedOn = null;
        foreach (var argument in arguments)
        {
            if (argument.Parameter is not { Ordinal: < 64 } parameter || !IsSocket(parameter.Type))
            {
                continue;
            }

            if (IsNonBlocking(argument.Value))
            {
                nonBlocking |= 1UL << parameter.Ordinal;
            }
            else if (ReceiverParameter(argument.Value) is { } from)
            {
                (passedOn ??= new List<(int, IParameterSymbol)>()).Add((parameter.Ordinal, from));
            }
        }

        return (nonBlocking, passedOn);
    }

    public static bool IsSocket(ITypeSymbol? type)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current is { Name: "Socket", ContainingNamespace: { Name: "Sockets", ContainingNamespace: { Name: "Net", ContainingNamespace.Name: "System" } } })
            {
                return true;
            }
        }

        return false;
    }

    private bool IsNonBlockingMember(ISymbol member)
        => member.ContainingType is not null && _members.GetOrAdd(member, m => ComputeMember(m));

    private bool ComputeMember(ISymbol member)
    {
        var setFalse = false;
        foreach (var reference in member.ContainingType.DeclaringSyntaxReferences)
        {
            if (OtherDocuments.ModelFor(_compilation, reference.SyntaxTree) is not { } model)
            {
                continue;
            }

            var declaration = reference.GetSyntax(CancellationToken.None);
            switch (ScanModes(declaration, model, member))
            {
                case Mode.SetOtherwise:
                    return false;
                case Mode.SetFalse:
                    setFalse = true;
                    break;
            }
        }

        return setFalse;
    }

    private static bool IsNonBlockingLocal(IOperation use, ILocalSymbol local)
    {
        if (use.SemanticModel is not { } model || local.DeclaringSyntaxReferences.Length == 0)
        {
            return false;
        }

        // The local's whole function (a lambda's local is scanned in the lambda's enclosing member: the same set).
        var declaration = local.DeclaringSyntaxReferences[0].GetSyntax(CancellationToken.None);
        SyntaxNode scope = declaration;
        while (scope.Parent is not null and not MemberDeclarationSyntax and not CompilationUnitSyntax)
        {
            scope = scope.Parent;
        }

        switch (ScanModes(scope, model, local))
        {
            case Mode.SetFalse:
                return true;
            case Mode.SetOtherwise:
                return false;
        }

        // Socket socket = Socket; (SpanNetty TcpSocketChannel.DoWrite): a copy of a non-blocking field, never reassigned.
        return declaration is VariableDeclaratorSyntax { Initializer.Value: var value }
            && !IsReassigned(scope, model, local)
            && model.GetOperation(value) is { } initializer
            && OperationHelpers.WalkDownConversion(initializer) is IFieldReferenceOperation or IPropertyReferenceOperation
            && IsNonBlocking(initializer);
    }

    private static bool IsReassigned(SyntaxNode scope, SemanticModel model, ILocalSymbol local)
    {
        foreach (var node in scope.DescendantNodes())
        {
            var target = node switch
            {
                AssignmentExpressionSyntax { Left: IdentifierNameSyntax left } => left,
                ArgumentSyntax { RefKindKeyword.RawKind: not 0, Expression: IdentifierNameSyntax byRef } => byRef,
                _ => null,
            };
            if (target is not null && target.Identifier.ValueText == local.Name
                && SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(target).Symbol, local))
            {
                return true;
            }
        }

        return false;
    }

    private enum Mode
    {
        NotSet,
        SetFalse,
        SetOtherwise,
    }

    /// <summary>Every <c>x.Blocking = …</c> (and <c>new Socket(…) { Blocking = … }</c> assigned to x) under <paramref name="root"/>, for one x.</summary>
    private static Mode ScanModes(SyntaxNode root, SemanticModel model, ISymbol target)
    {
        var mode = Mode.NotSet;
        foreach (var node in root.DescendantNodes())
        {
            if (node is not AssignmentExpressionSyntax { Left: var left } assignment || !IsBlockingName(left))
            {
                continue;
            }

            SyntaxNode? owner = left switch
            {
                MemberAccessExpressionSyntax access => access.Expression,
                // new Socket(...) { Blocking = false }: the creation's target
                IdentifierNameSyntax when assignment.Parent is InitializerExpressionSyntax { Parent: ObjectCreationExpressionSyntax creation } => TargetOf(creation),
                _ => null,
            };
            if (owner is null || !SymbolEqualityComparer.Default.Equals(OwnerSymbol(owner, model), target))
            {
                continue;
            }

            if (model.GetSymbolInfo(left).Symbol is not IPropertySymbol { Name: "Blocking" } property || !IsSocket(property.ContainingType))
            {
                continue;
            }

            if (!assignment.IsKind(SyntaxKind.SimpleAssignmentExpression) || model.GetConstantValue(assignment.Right) is not { HasValue: true, Value: false })
            {
                return Mode.SetOtherwise;
            }

            mode = Mode.SetFalse;
        }

        return mode;
    }

    private static bool IsBlockingName(ExpressionSyntax left) => left switch
    {
        MemberAccessExpressionSyntax access => access.Name.Identifier.ValueText == "Blocking",
        IdentifierNameSyntax name => name.Identifier.ValueText == "Blocking",
        _ => false,
    };

    /// <summary>What a <c>new Socket(…) { … }</c> is stored into: <c>_s = new …</c>, <c>Socket _s = new …</c>, <c>var s = new …</c>.</summary>
    private static SyntaxNode? TargetOf(ObjectCreationExpressionSyntax creation) => creation.Parent switch
    {
        AssignmentExpressionSyntax { Left: var left } => left,
        EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax declarator } => declarator,
        EqualsValueClauseSyntax { Parent: PropertyDeclarationSyntax property } => property,
        _ => null,
    };

    private static ISymbol? OwnerSymbol(SyntaxNode owner, SemanticModel model)
    {
        var symbol = owner is VariableDeclaratorSyntax or PropertyDeclarationSyntax ? model.GetDeclaredSymbol(owner) : model.GetSymbolInfo(owner).Symbol;
        return symbol?.OriginalDefinition;
    }
}
