using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

using NoBlock.Analyzers.Operations;

namespace NoBlock.Analyzers.Blocking;

/// <summary>How a call site picks the code it runs.</summary>
internal enum Dispatch
{
    /// <summary>The method named is the method run (a static, non-virtual or <c>base.</c> call, an operator, a constructor).</summary>
    Direct,

    /// <summary>An interface or virtual member: what runs depends on the receiver's runtime type.</summary>
    Virtual,

    /// <summary>A delegate's <c>Invoke</c>: what runs is whatever the delegate value holds.</summary>
    Delegate,
}

/// <summary>One method an operation runs synchronously, as written (before interface, virtual or delegate targets are resolved).</summary>
internal readonly struct CallSite
{
    public CallSite(IMethodSymbol method, IOperation? receiver, Dispatch dispatch, string calledName)
    {
        Method = method;
        Receiver = receiver;
        Dispatch = dispatch;
        CalledName = calledName;
    }

    public IMethodSymbol Method { get; }

    /// <summary>The receiver (or, for a delegate call, the delegate value); null for static and constructor calls.</summary>
    public IOperation? Receiver { get; }

    public Dispatch Dispatch { get; }

    /// <summary>What the code calls, for the message: <c>Parse</c>, <c>Value.set</c>, <c>_onRead</c>, <c>Dispose</c>.</summary>
    public string CalledName { get; }
}

/// <summary>
/// Every way C# runs user code synchronously, as call sites: invocations, property and indexer accessors (both of them
/// for <c>P++</c>, <c>P += x</c>, <c>P ??= x</c>), constructors, user-defined operators and conversions, the
/// <c>Dispose</c> of a <c>using</c>, the enumerator members of a <c>foreach</c>, <c>Deconstruct</c>, the awaiter members
/// of an <c>await</c>, custom event accessors. Lambdas and local functions are the walker's business (it inlines them).
/// </summary>
internal static class SynchronousCallees
{
    public static void Collect(IOperation operation, List<CallSite> sites)
    {
        switch (operation)
        {
            case IInvocationOperation invocation:
                var target = invocation.TargetMethod;
                if (target.MethodKind == MethodKind.DelegateInvoke)
                {
                    sites.Add(new CallSite(target, invocation.Instance, Dispatch.Delegate, DelegateName(invocation.Instance)));
                }
                else
                {
                    sites.Add(new CallSite(target, invocation.Instance, DispatchOf(target, invocation.Instance), target.Name));
                }

                break;
            case IPropertyReferenceOperation property:
                AddAccessors(property, sites);
                break;
            case IObjectCreationOperation { Constructor: { } constructor }:
                sites.Add(new CallSite(constructor, null, Dispatch.Direct, constructor.ContainingType.Name));
                break;
            case IBinaryOperation { OperatorMethod: { } method }:
                AddOperator(method, sites);
                break;
            case IUnaryOperation { OperatorMethod: { } method }:
                AddOperator(method, sites);
                break;
            case IIncrementOrDecrementOperation { OperatorMethod: { } method }:
                AddOperator(method, sites);
                break;
            case ICompoundAssignmentOperation compound:
                AddOperator(compound.OperatorMethod, sites);
                AddOperator(compound.InConversion.MethodSymbol, sites);
                AddOperator(compound.OutConversion.MethodSymbol, sites);
                break;
            case IConversionOperation { OperatorMethod: { } method }:
                AddOperator(method, sites);
                break;
            case IUsingOperation @using:
                AddDisposes(@using.Resources, @using.IsAsynchronous, sites);
                break;
            case IUsingDeclarationOperation declaration:
                AddDisposes(declaration.DeclarationGroup, declaration.IsAsynchronous, sites);
                break;
            case IForEachLoopOperation forEach:
                AddEnumeration(forEach, sites);
                break;
            case IDeconstructionAssignmentOperation deconstruction when operation.SemanticModel is { } model && deconstruction.Syntax is AssignmentExpressionSyntax assignment:
                AddDeconstruct(model.GetDeconstructionInfo(assignment), deconstruction.Value, sites);
                break;
            case IRecursivePatternOperation { DeconstructSymbol: IMethodSymbol deconstruct }:
                AddImplicit(sites, deconstruct, null, deconstruct.Name);
                break;
            case IAwaitOperation await:
                AddAwait(await, sites);
                break;
            case IEventAssignmentOperation eventAssignment when eventAssignment.EventReference is IEventReferenceOperation reference:
                var accessor = eventAssignment.Adds ? reference.Event.AddMethod : reference.Event.RemoveMethod;
                if (accessor is not null && !accessor.IsImplicitlyDeclared)
                {
                    sites.Add(new CallSite(accessor, reference.Instance, DispatchOf(accessor, reference.Instance), reference.Event.Name));
                }

                break;
        }
    }

    /// <summary>
    /// A member the compiler calls for a construct (<c>using</c>, <c>foreach</c>, <c>await</c>, deconstruction): followed
    /// when its body is in source, or when it is an interface or virtual member whose implementation may be. A
    /// library's own non-virtual members (<c>TaskAwaiter.GetResult</c> under <c>await</c>) are not calls the user wrote.
    /// </summary>
    private static void AddImplicit(List<CallSite> sites, IMethodSymbol method, IOperation? receiver, string name)
    {
        var dispatch = method.IsStatic ? Dispatch.Direct : DispatchOf(method, receiver);
        if (method.DeclaringSyntaxReferences.Length > 0 || dispatch == Dispatch.Virtual)
        {
            sites.Add(new CallSite(method, method.IsStatic ? null : receiver, dispatch, name));
        }
    }

    /// <summary>Where a finding about this operation is reported: the whole <c>E?.Invoke(x)</c> rather than its <c>.Invoke(x)</c>.</summary>
    public static IOperation ReportedAt(IOperation operation)
    {
        if (operation is IInvocationOperation { Instance: IConditionalAccessInstanceOperation } && OperationHelpers.EnclosingConditionalAccess(operation) is { } access)
        {
            return access;
        }

        if (operation is IUsingOperation @using)
        {
            return @using.Resources;
        }

        if (operation is IUsingDeclarationOperation declaration)
        {
            return declaration.DeclarationGroup.Declarations.Length > 0 ? declaration.DeclarationGroup.Declarations[0] : declaration;
        }

        if (operation is IForEachLoopOperation forEach)
        {
            return OperationHelpers.WalkDownConversion(forEach.Collection);
        }

        return operation;
    }

    /// <summary>A call through an interface or an overridable member, unless it is <c>base.M()</c> (which names the method run).</summary>
    public static Dispatch DispatchOf(IMethodSymbol method, IOperation? receiver)
    {
        if (method.IsStatic || method.MethodKind == MethodKind.Constructor)
        {
            return Dispatch.Direct;
        }

        if (receiver?.Syntax is BaseExpressionSyntax)
        {
            return Dispatch.Direct;
        }

        var overridable = method.ContainingType?.TypeKind == TypeKind.Interface
            || ((method.IsVirtual || method.IsAbstract || method.IsOverride) && !method.IsSealed && method.ContainingType?.IsSealed == false);
        return overridable ? Dispatch.Virtual : Dispatch.Direct;
    }

    private static string DelegateName(IOperation? value)
    {
        return (value is null ? null : OperationHelpers.ReadValue(value)) switch
        {
            ILocalReferenceOperation local => local.Local.Name,
            IParameterReferenceOperation parameter => parameter.Parameter.Name,
            IFieldReferenceOperation field => field.Field.Name,
            IEventReferenceOperation @event => @event.Event.Name,
            IPropertyReferenceOperation { Property.IsIndexer: true } indexer => (OperationHelpers.ReferencedSymbol(indexer.Instance)?.Name ?? "a collection") + "[…]",
            IArrayElementReferenceOperation element => (OperationHelpers.ReferencedSymbol(element.ArrayReference)?.Name ?? "an array") + "[…]",
            IPropertyReferenceOperation property => property.Property.Name,
            _ => "a delegate",
        };
    }

    private static void AddAccessors(IPropertyReferenceOperation property, List<CallSite> sites)
    {
        var (reads, writes) = Usage(property);
        var name = property.Property.IsIndexer ? property.Property.ContainingType.Name + "[]" : property.Property.Name;
        if (reads && property.Property.GetMethod is { } getter)
        {
            sites.Add(new CallSite(getter, property.Instance, DispatchOf(getter, property.Instance), name));
        }

        if (writes && property.Property.SetMethod is { } setter)
        {
            sites.Add(new CallSite(setter, property.Instance, DispatchOf(setter, property.Instance), name + ".set"));
        }
    }

    /// <summary>Whether a property reference runs its getter, its setter or both (<c>P++</c>, <c>P += x</c>, <c>P ??= x</c>).</summary>
    private static (bool Reads, bool Writes) Usage(IPropertyReferenceOperation property)
    {
        switch (property.Parent)
        {
            case ISimpleAssignmentOperation assignment when assignment.Target == property:
                return (false, true);
            case ICompoundAssignmentOperation compound when compound.Target == property:
            case ICoalesceAssignmentOperation coalesce when coalesce.Target == property:
            case IIncrementOrDecrementOperation increment when increment.Target == property:
                return (true, true);
            case ITupleOperation tuple when IsDeconstructionTarget(tuple):
                return (false, true);
            default:
                return (true, false);
        }
    }

    private static bool IsDeconstructionTarget(ITupleOperation tuple)
    {
        IOperation current = tuple;
        while (current.Parent is ITupleOperation outer)
        {
            current = outer;
        }

        return current.Parent is IDeconstructionAssignmentOperation deconstruction && deconstruction.Target == current;
    }

    private static void AddOperator(IMethodSymbol? method, List<CallSite> sites)
    {
        if (method is not null && method.MethodKind is MethodKind.UserDefinedOperator or MethodKind.Conversion)
        {
            sites.Add(new CallSite(method, null, Dispatch.Direct, OperatorName(method)));
        }
    }

    /// <summary><c>operator +</c>, <c>implicit operator Money</c>.</summary>
    public static string OperatorName(IMethodSymbol method)
    {
        foreach (var reference in method.DeclaringSyntaxReferences)
        {
            switch (reference.GetSyntax())
            {
                case OperatorDeclarationSyntax op:
                    return "operator " + op.OperatorToken.ValueText;
                case ConversionOperatorDeclarationSyntax conversion:
                    return conversion.ImplicitOrExplicitKeyword.ValueText + " operator " + conversion.Type;
            }
        }

        return method.Name;
    }

    private static void AddDisposes(IOperation resources, bool isAsynchronous, List<CallSite> sites)
    {
        var values = new List<(ITypeSymbol? Type, IOperation? Value)>();
        if (resources is IVariableDeclarationGroupOperation group)
        {
            foreach (var declaration in group.Declarations)
            {
                foreach (var declarator in declaration.Declarators)
                {
                    values.Add((declarator.Symbol.Type, declarator.GetVariableInitializer()?.Value));
                }
            }
        }
        else
        {
            values.Add((resources.Type, resources));
        }

        var name = isAsynchronous ? "DisposeAsync" : "Dispose";
        foreach (var (type, value) in values)
        {
            if (type is null || DisposeMethod(type, name, resources.SemanticModel?.Compilation) is not { } dispose)
            {
                continue;
            }

            AddImplicit(sites, dispose, value, name);
        }
    }

    /// <summary>The Dispose a using calls: a pattern <c>Dispose()</c> of a ref struct, or the type's implementation of IDisposable.Dispose.</summary>
    private static IMethodSymbol? DisposeMethod(ITypeSymbol type, string name, Compilation? compilation)
    {
        if (type.IsRefLikeType)
        {
            foreach (var member in type.GetMembers(name))
            {
                if (member is IMethodSymbol { Parameters.Length: 0, IsStatic: false } method)
                {
                    return method;
                }
            }
        }

        var interfaceName = name == "Dispose" ? "System.IDisposable" : "System.IAsyncDisposable";
        if (compilation?.GetTypeByMetadataName(interfaceName)?.GetMembers(name) is not { Length: > 0 } members || members[0] is not IMethodSymbol contract)
        {
            return null;
        }

        if (type.TypeKind == TypeKind.Interface)
        {
            return contract; // resolved like any interface call, from the resource's value
        }

        return type.FindImplementationForInterfaceMember(contract) as IMethodSymbol;
    }

    private static void AddEnumeration(IForEachLoopOperation forEach, List<CallSite> sites)
    {
        if (forEach.SemanticModel is not { } model || forEach.Syntax is not CommonForEachStatementSyntax syntax)
        {
            return;
        }

        var info = model.GetForEachStatementInfo(syntax);
        var collection = OperationHelpers.WalkDownConversion(forEach.Collection);
        if (info.GetEnumeratorMethod is { } getEnumerator)
        {
            AddImplicit(sites, getEnumerator, collection, getEnumerator.Name);
        }

        if (info.MoveNextMethod is { } moveNext)
        {
            AddImplicit(sites, moveNext, null, moveNext.Name);
        }

        if (info.CurrentProperty?.GetMethod is { } current)
        {
            AddImplicit(sites, current, null, "Current");
        }

        if (info.DisposeMethod is { } dispose)
        {
            AddImplicit(sites, dispose, null, dispose.Name);
        }

        if (syntax is ForEachVariableStatementSyntax variables)
        {
            AddDeconstruct(model.GetDeconstructionInfo(variables), null, sites);
        }
    }

    private static void AddDeconstruct(DeconstructionInfo info, IOperation? receiver, List<CallSite> sites)
    {
        if (info.Method is { } method)
        {
            AddImplicit(sites, method, receiver, method.Name);
        }

        AddConversion(info.Conversion, sites);
        foreach (var nested in info.Nested)
        {
            AddDeconstruct(nested, null, sites);
        }
    }

    private static void AddConversion(Conversion? conversion, List<CallSite> sites)
    {
        if (conversion is { IsUserDefined: true, MethodSymbol: { } method })
        {
            AddOperator(method, sites);
        }
    }

    private static void AddAwait(IAwaitOperation await, List<CallSite> sites)
    {
        if (await.SemanticModel is not { } model || await.Syntax is not AwaitExpressionSyntax syntax)
        {
            return;
        }

        var info = model.GetAwaitExpressionInfo(syntax);
        if (info.GetAwaiterMethod is { } getAwaiter)
        {
            var receiver = getAwaiter.IsExtensionMethod ? null : OperationHelpers.WalkDownConversion(await.Operation);
            AddImplicit(sites, getAwaiter, receiver, getAwaiter.Name);
        }

        if (info.IsCompletedProperty?.GetMethod is { } isCompleted)
        {
            AddImplicit(sites, isCompleted, null, "IsCompleted");
        }

        // The state machine hands the continuation to the awaiter when the result is not ready yet.
        if (info.GetAwaiterMethod?.ReturnType is { } awaiter)
        {
            foreach (var name in new[] { "UnsafeOnCompleted", "OnCompleted" })
            {
                IMethodSymbol? onCompleted = null;
                foreach (var member in awaiter.GetMembers(name))
                {
                    if (member is IMethodSymbol { Parameters.Length: 1, IsStatic: false } candidate)
                    {
                        onCompleted = candidate;
                    }
                }

                if (onCompleted is not null)
                {
                    AddImplicit(sites, onCompleted, null, name);
                    break;
                }
            }
        }

        if (info.GetResultMethod is { } getResult)
        {
            AddImplicit(sites, getResult, null, getResult.Name);
        }
    }
}
