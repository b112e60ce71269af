using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

using NoBlock.Analyzers.HandlerContext;
using NoBlock.Analyzers.Operations;

namespace NoBlock.Analyzers.Blocking;

/// <summary>A method a call site may run, and how NoBlock knows (null: it is the method named).</summary>
internal readonly struct CallTarget
{
    public CallTarget(IMethodSymbol method, string? reason, string calledName, ITypeSymbol? thisBound = null, bool onThis = false, IMethodSymbol? dispatched = null)
    {
        Method = method;
        Reason = reason;
        CalledName = calledName;
        ThisBound = thisBound;
        OnThis = onThis;
        Dispatched = dispatched;
    }

    public IMethodSymbol Method { get; }

    /// <summary>
    /// What the receiver is known to be, when that says more than the target's own type: <c>this</c> in the target is
    /// this type or a subtype of it (the receiver's static type <c>IByteBuffer</c>, or the single type created for it).
    /// </summary>
    public ITypeSymbol? ThisBound { get; }

    /// <summary>The receiver is the caller's own <c>this</c> (explicit, implicit or <c>base.</c>): what the caller knows of it holds in the target.</summary>
    public bool OnThis { get; }

    /// <summary>The interface or virtual member the call names, when the target was chosen among its implementations.</summary>
    public IMethodSymbol? Dispatched { get; }

    /// <summary>Which way the target was resolved, for the chain: <c>only implementation</c>, <c>delegate in field _onRead</c>.</summary>
    public string? Reason { get; }

    public string CalledName { get; }

    /// <summary>The same target, naming <paramref name="method"/> (its definition, say) with everything else kept.</summary>
    public CallTarget WithMethod(IMethodSymbol method) => new(method, Reason, CalledName, ThisBound, OnThis, Dispatched);
}

/// <summary>
/// Resolves interface, virtual and delegate call sites to the methods of this compilation they may run. A receiver
/// whose runtime type is evident (a <c>new</c> in scope, a local or field only ever assigned objects of one type, a
/// sealed type) gives that type's implementation; otherwise a member declared in this compilation reaches every
/// implementation or override in it (and a finding names the one that blocks). A delegate value is followed to the
/// method groups and lambdas stored where it comes from: locals, fields and auto-properties (and the constructor or
/// method parameters assigned to them, through their call sites), collections (<c>Add</c>, indexer writes,
/// initializers) and events (every <c>+=</c>). Work is done only for call sites reached from event-loop code, and
/// cached per compilation.
/// </summary>
internal sealed class CallTargets
{
    /// <summary>How many stores a delegate value is followed through (field ← parameter ← argument ← field …).</summary>
    private const int MaxFlowDepth = 4;

    private readonly Compilation _compilation;
    private readonly Lazy<TypeIndex> _types;
    private readonly ConcurrentDictionary<ISymbol, StoredValues> _stored = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentDictionary<IMethodSymbol, ImmutableArray<IOperation>> _arguments = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentDictionary<IMethodSymbol, ImmutableArray<IMethodSymbol>> _implementations = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentDictionary<SyntaxNode, IMethodSymbol> _functions = new();
    private readonly ConcurrentDictionary<(ITypeSymbol Bound, ITypeSymbol? Within, IMethodSymbol Method), ImmutableArray<IMethodSymbol>> _under = new(UnderKeyComparer.Instance);

    private sealed class UnderKeyComparer : IEqualityComparer<(ITypeSymbol Bound, ITypeSymbol? Within, IMethodSymbol Method)>
    {
        public static readonly UnderKeyComparer Instance = new();

        public bool Equals((ITypeSymbol Bound, ITypeSymbol? Within, IMethodSymbol Method) x, (ITypeSymbol Bound, ITypeSymbol? Within, IMethodSymbol Method) y)
            => SymbolEqualityComparer.Default.Equals(x.Bound, y.Bound) && SymbolEqualityComparer.Default.Equals(x.Within, y.Within) && SymbolEqualityComparer.Default.Equals(x.Method, y.Method);

        public int GetHashCode((ITypeSymbol Bound, ITypeSymbol? Within, IMethodSymbol Method) key)
            => SymbolEqualityComparer.Default.GetHashCode(key.Bound) ^ (SymbolEqualityComparer.Default.GetHashCode(key.Within) * 31) ^ SymbolEqualityComparer.Default.GetHashCode(key.Method);
    }

    public CallTargets(Compilation compilation)
    {
        _compilation = compilation;
        _types = new Lazy<TypeIndex>(() => new TypeIndex(compilation), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public void Resolve(CallSite site, List<CallTarget> targets)
    {
        switch (site.Dispatch)
        {
            case Dispatch.Direct:
                targets.Add(Direct(site));
                break;
            case Dispatch.Virtual:
                ResolveVirtual(site, targets);
                break;
            case Dispatch.Delegate:
                if (site.Receiver is { } value)
                {
                    var found = new List<IMethodSymbol>();
                    DelegateTargets(value, 0, found, new HashSet<ISymbol>(SymbolEqualityComparer.Default));
                    var reason = DelegateOrigin(value);
                    foreach (var method in found.Distinct<IMethodSymbol>(SymbolEqualityComparer.Default))
                    {
                        targets.Add(new CallTarget(method, reason, site.CalledName));
                    }
                }

                break;
        }
    }

    /// <summary>The methods and lambdas a delegate value (a field, a local, an argument) may hold; for handlers registered by value.</summary>
    public void ResolveDelegateValue(IOperation value, string calledName, List<CallTarget> targets)
    {
        var found = new List<IMethodSymbol>();
        DelegateTargets(value, 0, found, new HashSet<ISymbol>(SymbolEqualityComparer.Default));
        var reason = DelegateOrigin(value);
        foreach (var method in found.Distinct<IMethodSymbol>(SymbolEqualityComparer.Default))
        {
            targets.Add(new CallTarget(method, reason, calledName));
        }
    }

    /// <summary>
    /// What a direct call passes on about its receiver: the caller's own <c>this</c>, or a receiver whose static type
    /// is more derived than the method's type (<c>sub.Template()</c> with <c>Template</c> declared in the base).
    /// </summary>
    public static CallTarget Direct(CallSite site)
    {
        var receiver = site.Receiver is null ? null : OperationHelpers.WalkDownConversion(site.Receiver);
        return new CallTarget(site.Method, null, site.CalledName, Narrower(ReceiverType(receiver), site.Method), IsThis(receiver));
    }

    /// <summary>The receiver's static type; for <c>base.M()</c> the type the call is written in (its <c>this</c>), not the base.</summary>
    private static ITypeSymbol? ReceiverType(IOperation? receiver)
    {
        if (receiver?.Syntax is BaseExpressionSyntax && receiver.SemanticModel?.GetEnclosingSymbol(receiver.Syntax.SpanStart) is { ContainingType: { } enclosing })
        {
            return enclosing;
        }

        return receiver?.Type;
    }

    /// <summary>The receiver is the enclosing instance: <c>this</c>, <c>base</c>, or implicit.</summary>
    private static bool IsThis(IOperation? receiver) => receiver is IInstanceReferenceOperation { ReferenceKind: InstanceReferenceKind.ContainingTypeInstance };

    /// <summary><paramref name="type"/> when it tells more about the receiver than the method's own type, else null.</summary>
    public static ITypeSymbol? Narrower(ITypeSymbol? type, IMethodSymbol method)
    {
        // object says nothing (an interface's member on an object-typed receiver, after a cast the operation hides).
        if (type is not INamedTypeSymbol { TypeKind: TypeKind.Class or TypeKind.Interface or TypeKind.Struct, SpecialType: not SpecialType.System_Object } named
            || method.IsStatic || method.ContainingType is null)
        {
            return null;
        }

        return IsSubtype(method.ContainingType, named) ? null : named;
    }

    /// <summary>Whether every <paramref name="type"/> is a <paramref name="of"/> (by definitions: generic arguments are not compared).</summary>
    public static bool IsSubtype(ITypeSymbol type, ITypeSymbol of)
    {
        var target = of.OriginalDefinition;
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (SymbolEqualityComparer.Default.Equals(current.OriginalDefinition, target))
            {
                return true;
            }
        }

        if (of.TypeKind == TypeKind.Interface)
        {
            foreach (var contract in type.AllInterfaces)
            {
                if (SymbolEqualityComparer.Default.Equals(contract.OriginalDefinition, target))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// The implementations or overrides of <paramref name="method"/> that an object that is a <paramref name="bound"/>
    /// and a <paramref name="within"/> (when given) may run: what each such source type, or the type itself, runs for it.
    /// </summary>
    public ImmutableArray<IMethodSymbol> ImplementationsUnder(ITypeSymbol bound, ITypeSymbol? within, IMethodSymbol method)
        => _under.GetOrAdd((bound.OriginalDefinition, within?.OriginalDefinition, method.OriginalDefinition), key =>
        {
            var found = new List<IMethodSymbol>();
            foreach (var type in _types.Value.SubtypesAndSelf(key.Bound))
            {
                if (key.Within is not null && !IsSubtype(type, key.Within))
                {
                    continue;
                }

                if (Implementation(type, key.Method) is { } implementation && !found.Contains(implementation.OriginalDefinition, SymbolEqualityComparer.Default))
                {
                    found.Add(implementation.OriginalDefinition);
                }
            }

            return found.ToImmutableArray();
        });

    /// <summary><c>only implementation</c>, <c>one of 3 overrides, this: Sub</c>: how a call was resolved, for the chain.</summary>
    public static string Describe(IMethodSymbol dispatched, int count, ITypeSymbol? bound, bool onThis)
    {
        var kind = dispatched.ContainingType.TypeKind == TypeKind.Interface ? "implementation" : "override";
        var text = count == 1 ? $"only {kind}" : $"one of {count} {kind}s";
        return bound is null ? text : $"{text}, {(onThis ? "this" : "receiver")}: {bound.Name}";
    }

    private void ResolveVirtual(CallSite site, List<CallTarget> targets)
    {
        var method = site.Method;
        var receiver = site.Receiver is null ? null : OperationHelpers.WalkDownConversion(site.Receiver);
        var onThis = IsThis(receiver);
        if (receiver is not null && EvidentTypes(receiver) is { } evident)
        {
            // Types that run the same implementation are one target, named with all of them: a field that holds a
            // CountedBuffer or a DiskFileUpload reaches the base's Release once, and the chain says both.
            var byImplementation = evident.Types
                .Select(type => (Type: type, Implementation: Implementation(type, method)))
                .Where(pair => pair.Implementation is not null)
                .GroupBy(pair => pair.Implementation!, SymbolEqualityComparer.Default);
            foreach (var group in byImplementation)
            {
                var implementation = (IMethodSymbol)group.Key!;
                var types = group.Select(pair => pair.Type).ToList();
                targets.Add(new CallTarget(implementation, evident.Describe(types), site.CalledName, evident.Types.Length == 1 ? Narrower(types[0], implementation) : null));
            }

            return;
        }

        if (receiver?.Type is INamedTypeSymbol { TypeKind: not TypeKind.Interface and not TypeKind.TypeParameter } staticType
            && (staticType.IsSealed || staticType.IsValueType)
            && Implementation(staticType, method) is { } sealedImplementation)
        {
            targets.Add(new CallTarget(sealedImplementation, SymbolEqualityComparer.Default.Equals(sealedImplementation, method) ? null : $"sealed {staticType.Name}", site.CalledName));
            return;
        }

        // Members declared elsewhere (IDisposable.Dispose, Stream.Read) may be implemented by anything at run time.
        if (!SymbolEqualityComparer.Default.Equals(method.ContainingAssembly, _compilation.Assembly))
        {
            return;
        }

        var isInterface = method.ContainingType.TypeKind == TypeKind.Interface;
        if (!isInterface && !method.IsAbstract && Narrower(ReceiverType(receiver), method) is null)
        {
            targets.Add(new CallTarget(method, null, site.CalledName, null, onThis, method)); // the body named runs unless overridden
        }

        // A receiver whose static type is more derived than the member's (an IByteBuffer's IReferenceCounted.Release,
        // this.Step() in a subclass) runs only what that type and its subtypes run.
        if (Narrower(ReceiverType(receiver), method) is { } bound)
        {
            var under = ImplementationsUnder(bound, null, method);
            foreach (var implementation in under)
            {
                targets.Add(new CallTarget(implementation, Describe(method, under.Length, bound, onThis), site.CalledName, Narrower(bound, implementation), onThis, method));
            }

            return;
        }

        var all = _implementations.GetOrAdd(method.OriginalDefinition, m => _types.Value.ImplementationsOf(m));
        var count = all.Length + (!isInterface && !method.IsAbstract ? 1 : 0);
        foreach (var implementation in all)
        {
            targets.Add(new CallTarget(implementation, Describe(method, count, null, onThis), site.CalledName, null, onThis, method));
        }
    }

    /// <summary>The method that runs for <paramref name="method"/> on an object of exactly <paramref name="type"/>.</summary>
    private static IMethodSymbol? Implementation(ITypeSymbol type, IMethodSymbol method)
    {
        if (method.ContainingType.TypeKind == TypeKind.Interface)
        {
            return type.FindImplementationForInterfaceMember(method) as IMethodSymbol
                ?? TypeIndex.ImplementationOfDefinition(type, method.OriginalDefinition);
        }

        for (var current = type; current is not null; current = current.BaseType)
        {
            foreach (var member in current.GetMembers(method.Name))
            {
                if (member is IMethodSymbol candidate && (SymbolEqualityComparer.Default.Equals(candidate.OriginalDefinition, method.OriginalDefinition) || TypeIndex.Overrides(candidate, method.OriginalDefinition)))
                {
                    return candidate.IsAbstract ? null : candidate;
                }
            }
        }

        return null;
    }

    /// <summary>Runtime types of a receiver, when every value it can hold is a <c>new</c> NoBlock can see.</summary>
    private Evidence? EvidentTypes(IOperation receiver)
    {
        switch (receiver)
        {
            case IObjectCreationOperation { Type: { } created }:
                return new Evidence(ImmutableArray.Create(created), null);
            case ILocalReferenceOperation local:
                return FromValues(LocalValues(local), "local " + local.Local.Name);
            case IFieldReferenceOperation field:
                return FromValues(Stored(field.Field).Values, "field " + field.Field.Name);
            case IPropertyReferenceOperation { Arguments.Length: 0 } property when IsAutoProperty(property.Property):
                return FromValues(Stored(property.Property).Values, "property " + property.Property.Name);
            default:
                return null;
        }

        static Evidence? FromValues(ImmutableArray<IOperation> values, string holder)
        {
            if (values.IsDefaultOrEmpty)
            {
                return null;
            }

            var types = new List<ITypeSymbol>();
            foreach (var value in values)
            {
                if (OperationHelpers.WalkDownConversion(value) is not IObjectCreationOperation { Type: { } type })
                {
                    return null;
                }

                if (!types.Contains(type, SymbolEqualityComparer.Default))
                {
                    types.Add(type);
                }
            }

            return new Evidence(types.ToImmutableArray(), holder);
        }
    }

    private sealed class Evidence
    {
        public Evidence(ImmutableArray<ITypeSymbol> types, string? holder)
        {
            Types = types;
            Holder = holder;
        }

        public ImmutableArray<ITypeSymbol> Types { get; }

        public string? Holder { get; }

        /// <summary><c>created as T</c>, <c>field _f only holds T</c>, <c>field _f holds T or U</c> (the types that run one target).</summary>
        public string Describe(IReadOnlyList<ITypeSymbol> types) => Holder is null
            ? $"created as {types[0].Name}"
            : Types.Length == 1 ? $"{Holder} only holds {types[0].Name}" : $"{Holder} holds {string.Join(" or ", types.Select(t => t.Name))}";
    }

    private static string DelegateOrigin(IOperation value)
    {
        return OperationHelpers.ReadValue(value) switch
        {
            IEventReferenceOperation @event => "subscribed to " + @event.Event.Name,
            ILocalReferenceOperation local => "delegate in local " + local.Local.Name,
            IFieldReferenceOperation field => "delegate in field " + field.Field.Name,
            IPropertyReferenceOperation { Property.IsIndexer: true } indexer => "delegate in " + (OperationHelpers.ReferencedSymbol(indexer.Instance)?.Name ?? "a collection"),
            IArrayElementReferenceOperation element => "delegate in " + (OperationHelpers.ReferencedSymbol(element.ArrayReference)?.Name ?? "an array"),
            IPropertyReferenceOperation property => "delegate in property " + property.Property.Name,
            IParameterReferenceOperation parameter => "delegate in parameter " + parameter.Parameter.Name,
            _ => "delegate",
        };
    }

    private void DelegateTargets(IOperation value, int depth, List<IMethodSymbol> found, HashSet<ISymbol> visited)
    {
        if (depth > MaxFlowDepth)
        {
            return;
        }

        switch (OperationHelpers.WalkDownConversion(value))
        {
            case IDelegateCreationOperation creation:
                DelegateTargets(creation.Target, depth, found, visited);
                break;
            case IMethodReferenceOperation reference:
                found.Add(Canonical(reference.Method));
                break;
            case IAnonymousFunctionOperation lambda:
                found.Add(Canonical(lambda.Symbol));
                break;
            case IConditionalOperation conditional:
                DelegateTargets(conditional.WhenTrue, depth, found, visited);
                if (conditional.WhenFalse is { } whenFalse)
                {
                    DelegateTargets(whenFalse, depth, found, visited);
                }

                break;
            case ICoalesceOperation coalesce:
                DelegateTargets(coalesce.Value, depth, found, visited);
                DelegateTargets(coalesce.WhenNull, depth, found, visited);
                break;
            case IConditionalAccessInstanceOperation instance when OperationHelpers.EnclosingConditionalAccess(instance) is { } access:
                DelegateTargets(access.Operation, depth, found, visited);
                break;
            case ILocalReferenceOperation local when visited.Add(local.Local):
                foreach (var assigned in LocalValues(local))
                {
                    DelegateTargets(assigned, depth + 1, found, visited);
                }

                break;
            case IFieldReferenceOperation field when visited.Add(field.Field.OriginalDefinition):
                foreach (var assigned in Stored(field.Field).Values)
                {
                    DelegateTargets(assigned, depth + 1, found, visited);
                }

                break;
            case IEventReferenceOperation @event when visited.Add(@event.Event.OriginalDefinition):
                foreach (var assigned in Stored(@event.Event).Values)
                {
                    DelegateTargets(assigned, depth + 1, found, visited);
                }

                break;
            case IPropertyReferenceOperation { Property.IsIndexer: true } indexer when OperationHelpers.ReferencedSymbol(indexer.Instance) is { } collection && visited.Add(collection):
                ElementTargets(collection, depth, found, visited);
                break;
            case IArrayElementReferenceOperation element when OperationHelpers.ReferencedSymbol(element.ArrayReference) is { } array && visited.Add(array):
                ElementTargets(array, depth, found, visited);
                break;
            case IPropertyReferenceOperation { Arguments.Length: 0 } property when IsAutoProperty(property.Property) && visited.Add(property.Property.OriginalDefinition):
                foreach (var assigned in Stored(property.Property).Values)
                {
                    DelegateTargets(assigned, depth + 1, found, visited);
                }

                break;
            case IParameterReferenceOperation parameter when depth > 0 && visited.Add(parameter.Parameter):
                // Reached through a store (`_onRead = onRead`): the arguments passed for it at its call sites.
                if (parameter.Parameter.ContainingSymbol is IMethodSymbol method)
                {
                    foreach (var argument in ArgumentsFor(method, parameter.Parameter.Ordinal))
                    {
                        DelegateTargets(argument, depth + 1, found, visited);
                    }
                }

                break;
        }
    }

    private void ElementTargets(ISymbol collection, int depth, List<IMethodSymbol> found, HashSet<ISymbol> visited)
    {
        foreach (var element in ElementValues(collection))
        {
            DelegateTargets(element, depth + 1, found, visited);
        }
    }

    /// <summary>Values stored as elements of a collection or array held by a field, property or local.</summary>
    private ImmutableArray<IOperation> ElementValues(ISymbol collection)
    {
        if (collection is ILocalSymbol)
        {
            return ImmutableArray<IOperation>.Empty; // locals holding collections: not followed
        }

        var stored = Stored(collection);
        var elements = stored.Elements.ToBuilder();
        foreach (var whole in stored.Values)
        {
            AddInitializerElements(OperationHelpers.WalkDownConversion(whole), elements);
        }

        return elements.ToImmutable();
    }

    private static void AddInitializerElements(IOperation whole, ImmutableArray<IOperation>.Builder elements)
    {
        switch (whole)
        {
            case IObjectCreationOperation { Initializer: { } initializer }:
                foreach (var item in initializer.Initializers)
                {
                    switch (item)
                    {
                        case IInvocationOperation add:
                            elements.AddRange(add.Arguments.Where(a => IsDelegate(a.Value.Type)).Select(a => a.Value));
                            break;
                        case ISimpleAssignmentOperation { Target: IPropertyReferenceOperation { Property.IsIndexer: true } } indexed:
                            elements.Add(indexed.Value);
                            break;
                    }
                }

                break;
            case IArrayCreationOperation { Initializer: { } arrayInitializer }:
                elements.AddRange(arrayInitializer.ElementValues);
                break;
        }
    }

    private static bool IsDelegate(ITypeSymbol? type) => type?.TypeKind == TypeKind.Delegate;

    /// <summary>One symbol for one lambda or local function, whichever semantic model bound it (they key the call graph).</summary>
    private IMethodSymbol Canonical(IMethodSymbol method)
    {
        if (method.MethodKind is not (MethodKind.AnonymousFunction or MethodKind.LocalFunction) || method.DeclaringSyntaxReferences.Length == 0)
        {
            return method;
        }

        return _functions.GetOrAdd(method.DeclaringSyntaxReferences[0].GetSyntax(), method);
    }

    /// <summary>Values assigned to a local in its function: its initializer, assignments, a collection's TryGetValue out, a foreach over a collection.</summary>
    private ImmutableArray<IOperation> LocalValues(ILocalReferenceOperation reference)
    {
        var local = reference.Local;
        var root = (IOperation)reference;
        while (root.Parent is not null)
        {
            root = root.Parent;
        }

        var values = ImmutableArray.CreateBuilder<IOperation>();
        foreach (var operation in root.DescendantsAndSelf())
        {
            switch (operation)
            {
                case IVariableDeclaratorOperation declarator when SymbolEqualityComparer.Default.Equals(declarator.Symbol, local) && declarator.GetVariableInitializer() is { } initializer:
                    values.Add(initializer.Value);
                    break;
                case IAssignmentOperation assignment when assignment is not IDeconstructionAssignmentOperation && assignment.Target is ILocalReferenceOperation target && SymbolEqualityComparer.Default.Equals(target.Local, local):
                    values.Add(assignment.Value);
                    break;
                case ICoalesceAssignmentOperation coalesce when coalesce.Target is ILocalReferenceOperation target && SymbolEqualityComparer.Default.Equals(target.Local, local):
                    values.Add(coalesce.Value);
                    break;
                case IArgumentOperation { Parameter.RefKind: RefKind.Out, Parent: IInvocationOperation { Instance: { } instance } } outArgument
                    when OutLocal(outArgument.Value) is { } target && SymbolEqualityComparer.Default.Equals(target, local) && OperationHelpers.ReferencedSymbol(instance) is { } collection:
                    values.AddRange(ElementValues(collection));
                    break;
                case IForEachLoopOperation forEach when forEach.Locals.Contains(local, SymbolEqualityComparer.Default) && OperationHelpers.ReferencedSymbol(forEach.Collection) is { } collection:
                    values.AddRange(ElementValues(collection));
                    break;
            }
        }

        return values.ToImmutable();
    }

    /// <summary>The local an out argument writes: <c>out route</c> or <c>out var route</c>.</summary>
    private static ILocalSymbol? OutLocal(IOperation value) => value switch
    {
        ILocalReferenceOperation reference => reference.Local,
        IDeclarationExpressionOperation { Expression: ILocalReferenceOperation declared } => declared.Local,
        _ => null,
    };

    private static bool IsAutoProperty(IPropertySymbol property)
    {
        foreach (var reference in property.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax() is PropertyDeclarationSyntax { ExpressionBody: null, AccessorList: { } accessors }
                && accessors.Accessors.All(a => a.Body is null && a.ExpressionBody is null))
            {
                return true;
            }
        }

        return false;
    }

    private StoredValues Stored(ISymbol symbol) => _stored.GetOrAdd(symbol.OriginalDefinition, s => StoredValues.Find(_compilation, s));

    /// <summary>The arguments passed for one parameter at every call site of the method (or constructor) in this compilation.</summary>
    private ImmutableArray<IOperation> ArgumentsFor(IMethodSymbol method, int ordinal)
    {
        var all = _arguments.GetOrAdd(method.OriginalDefinition, m => FindArguments(m));
        return all.Where(a => a is IArgumentOperation { Parameter: { } p } && p.Ordinal == ordinal).Select(a => ((IArgumentOperation)a).Value).ToImmutableArray();
    }

    private ImmutableArray<IOperation> FindArguments(IMethodSymbol method)
    {
        var isConstructor = method.MethodKind == MethodKind.Constructor;
        var name = isConstructor ? method.ContainingType.Name : method.Name;
        var arguments = ImmutableArray.CreateBuilder<IOperation>();
        foreach (var tree in _compilation.SyntaxTrees)
        {
            var text = SyntaxIndex.TextOf(tree, CancellationToken.None);
            if (text.IndexOf(name, StringComparison.Ordinal) < 0 && !(isConstructor && text.IndexOf("new(", StringComparison.Ordinal) >= 0))
            {
                continue;
            }

            // The tree's call-shaped nodes are indexed by name once; only those that can call the method are bound.
            var sites = TreeCallSites.Of(tree, CancellationToken.None);
            SemanticModel? model = null;
            foreach (var candidate in isConstructor ? sites.ConstructorCallsOf(name) : sites.InvocationsOf(name))
            {
                model ??= OtherDocuments.ModelFor(_compilation, tree);
                var operation = model?.GetOperation(candidate);
                var (target, args) = operation switch
                {
                    IInvocationOperation invocation => (invocation.TargetMethod, invocation.Arguments),
                    IObjectCreationOperation creation => (creation.Constructor, creation.Arguments),
                    _ => (null, ImmutableArray<IArgumentOperation>.Empty),
                };
                if (target is not null && SymbolEqualityComparer.Default.Equals(target.OriginalDefinition, method))
                {
                    arguments.AddRange(args);
                }
            }
        }

        return arguments.ToImmutable();
    }

    /// <summary>Names a target in a chain: <c>Parse</c>, <c>Value.set</c>, <c>ChunkedStream.ReadChunk (only implementation)</c>.</summary>
    public static string StepName(IMethodSymbol method, string? reason)
    {
        string name;
        switch (method.MethodKind)
        {
            case MethodKind.Constructor:
                name = method.ContainingType.Name;
                break;
            case MethodKind.PropertyGet:
                name = method.AssociatedSymbol is IPropertySymbol { IsIndexer: true } ? method.ContainingType.Name + "[]" : method.AssociatedSymbol?.Name ?? method.Name;
                break;
            case MethodKind.PropertySet:
                name = (method.AssociatedSymbol is IPropertySymbol { IsIndexer: true } ? method.ContainingType.Name + "[]" : method.AssociatedSymbol?.Name ?? method.Name) + ".set";
                break;
            case MethodKind.UserDefinedOperator:
            case MethodKind.Conversion:
                name = SynchronousCallees.OperatorName(method);
                break;
            case MethodKind.AnonymousFunction:
                var span = method.Locations.FirstOrDefault()?.GetLineSpan() ?? default;
                name = span.IsValid ? $"lambda at {Path.GetFileName(span.Path)}:{span.StartLinePosition.Line + 1}" : "lambda";
                break;
            default:
                name = method.Name;
                break;
        }

        if (reason is null)
        {
            return name;
        }

        var qualified = method.MethodKind is MethodKind.AnonymousFunction or MethodKind.LocalFunction or MethodKind.Constructor || method.ContainingType is null
            ? name
            : method.ContainingType.Name + "." + name;
        return $"{qualified} ({reason})";
    }

    /// <summary>Source types by the interfaces they implement and the classes they derive from, built once on first need.</summary>
    private sealed class TypeIndex
    {
        private readonly Dictionary<INamedTypeSymbol, List<INamedTypeSymbol>> _subtypes = new(SymbolEqualityComparer.Default);

        public TypeIndex(Compilation compilation)
        {
            var stack = new Stack<INamespaceOrTypeSymbol>();
            stack.Push(compilation.Assembly.GlobalNamespace);
            while (stack.Count > 0)
            {
                foreach (var member in stack.Pop().GetMembers())
                {
                    if (member is INamespaceSymbol ns)
                    {
                        stack.Push(ns);
                    }
                    else if (member is INamedTypeSymbol type)
                    {
                        stack.Push(type);
                        if (type.TypeKind is TypeKind.Class or TypeKind.Struct)
                        {
                            foreach (var contract in type.AllInterfaces)
                            {
                                Add(contract.OriginalDefinition, type);
                            }

                            for (var baseType = type.BaseType; baseType is not null; baseType = baseType.BaseType)
                            {
                                Add(baseType.OriginalDefinition, type);
                            }
                        }
                    }
                }
            }
        }

        private void Add(INamedTypeSymbol key, INamedTypeSymbol type)
        {
            if (!_subtypes.TryGetValue(key, out var list))
            {
                _subtypes[key] = list = new List<INamedTypeSymbol>();
            }

            list.Add(type);
        }

        /// <summary>The source classes and structs that are a <paramref name="type"/>, with the type itself when it is one.</summary>
        public IEnumerable<INamedTypeSymbol> SubtypesAndSelf(ITypeSymbol type)
        {
            if (type is INamedTypeSymbol { TypeKind: TypeKind.Class or TypeKind.Struct } self)
            {
                yield return self;
            }

            if (_subtypes.TryGetValue((INamedTypeSymbol)type.OriginalDefinition, out var types))
            {
                foreach (var subtype in types)
                {
                    yield return subtype;
                }
            }
        }

        public ImmutableArray<IMethodSymbol> ImplementationsOf(IMethodSymbol member)
        {
            if (!_subtypes.TryGetValue(member.ContainingType.OriginalDefinition, out var types))
            {
                return ImmutableArray<IMethodSymbol>.Empty;
            }

            var found = new List<IMethodSymbol>();
            foreach (var type in types)
            {
                IMethodSymbol? implementation;
                if (member.ContainingType.TypeKind == TypeKind.Interface)
                {
                    implementation = ImplementationOfDefinition(type, member);
                }
                else
                {
                    implementation = null;
                    foreach (var candidate in type.GetMembers(member.Name))
                    {
                        if (candidate is IMethodSymbol method && Overrides(method, member))
                        {
                            implementation = method;
                        }
                    }
                }

                if (implementation is { IsAbstract: false } && !found.Contains(implementation, SymbolEqualityComparer.Default))
                {
                    found.Add(implementation);
                }
            }

            return found.ToImmutableArray();
        }

        /// <summary>The implementation in <paramref name="type"/> of an interface member given by its definition (generic interfaces too).</summary>
        public static IMethodSymbol? ImplementationOfDefinition(ITypeSymbol type, IMethodSymbol definition)
        {
            foreach (var contract in type.AllInterfaces)
            {
                if (!SymbolEqualityComparer.Default.Equals(contract.OriginalDefinition, definition.ContainingType.OriginalDefinition))
                {
                    continue;
                }

                foreach (var member in contract.GetMembers(definition.Name))
                {
                    if (member is IMethodSymbol constructed && SymbolEqualityComparer.Default.Equals(constructed.OriginalDefinition, definition.OriginalDefinition)
                        && type.FindImplementationForInterfaceMember(constructed) is IMethodSymbol implementation)
                    {
                        return implementation;
                    }
                }
            }

            return null;
        }

        public static bool Overrides(IMethodSymbol method, IMethodSymbol definition)
        {
            for (var overridden = method.OverriddenMethod; overridden is not null; overridden = overridden.OverriddenMethod)
            {
                if (SymbolEqualityComparer.Default.Equals(overridden.OriginalDefinition, definition.OriginalDefinition))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>What is ever stored in a field, auto-property or event across the compilation: whole values and collection elements.</summary>
    private sealed class StoredValues
    {
        private StoredValues(ImmutableArray<IOperation> values, ImmutableArray<IOperation> elements)
        {
            Values = values;
            Elements = elements;
        }

        /// <summary>Whole values: initializers, assignments, event subscriptions (every <c>+=</c>).</summary>
        public ImmutableArray<IOperation> Values { get; }

        /// <summary>Elements: <c>x[k] = v</c>, delegate arguments of calls on it (<c>Add</c>, <c>TryAdd</c>, <c>Enqueue</c>).</summary>
        public ImmutableArray<IOperation> Elements { get; }

        public static StoredValues Find(Compilation compilation, ISymbol symbol)
        {
            var values = ImmutableArray.CreateBuilder<IOperation>();
            var elements = ImmutableArray.CreateBuilder<IOperation>();
            foreach (var reference in symbol.DeclaringSyntaxReferences)
            {
                var syntax = reference.GetSyntax();
                EqualsValueClauseSyntax? initializer = syntax switch
                {
                    VariableDeclaratorSyntax declarator => declarator.Initializer,
                    PropertyDeclarationSyntax property => property.Initializer,
                    _ => null,
                };
                if (initializer is not null && OtherDocuments.ModelFor(compilation, reference.SyntaxTree)?.GetOperation(initializer) is ISymbolInitializerOperation init)
                {
                    values.Add(init.Value);
                }
            }

            // Private members are written only in their type's files; others anywhere in the compilation.
            var trees = symbol.DeclaredAccessibility == Accessibility.Private
                ? symbol.ContainingType.DeclaringSyntaxReferences.Select(r => r.SyntaxTree).Distinct()
                : compilation.SyntaxTrees;
            var name = symbol.Name;
            foreach (var tree in trees)
            {
                // The tree's text as one string shared with the syntax gates, not a fresh copy per symbol asked about.
                // Each place the name occurs is looked up as a token: walking every node of every tree that mentions a
                // common field name (buffer, input) was most of NB0002's time on DotNetty. The tokens come in document
                // order, as the nodes did.
                var text = SyntaxIndex.TextOf(tree, CancellationToken.None);
                SyntaxNode? root = null;
                SemanticModel? model = null;
                for (var at = text.IndexOf(name, StringComparison.Ordinal); at >= 0; at = text.IndexOf(name, at + 1, StringComparison.Ordinal))
                {
                    root ??= tree.GetRoot();
                    var token = root.FindToken(at);
                    // Only an identifier that is the name: not a longer identifier, a comment, a string or disabled text
                    // (their position lies outside the token found), not a declaration.
                    if (!token.Span.Contains(at) || token.Parent is not IdentifierNameSyntax identifier || token.ValueText != name)
                    {
                        continue;
                    }

                    SyntaxNode node = identifier.Parent is MemberAccessExpressionSyntax access && access.Name == identifier ? access
                        : identifier.Parent is MemberBindingExpressionSyntax binding && binding.Name == identifier ? binding
                        : identifier;
                    model ??= OtherDocuments.ModelFor(compilation, tree);
                    var operation = model?.GetOperation(node);
                    var referenced = operation switch
                    {
                        IFieldReferenceOperation field => field.Field,
                        IPropertyReferenceOperation property => property.Property,
                        IEventReferenceOperation @event => @event.Event,
                        _ => (ISymbol?)null,
                    };
                    if (operation is null || referenced is null || !SymbolEqualityComparer.Default.Equals(referenced.OriginalDefinition, symbol))
                    {
                        continue;
                    }

                    Classify(operation, values, elements);
                }
            }

            return new StoredValues(values.ToImmutable(), elements.ToImmutable());
        }

        private static void Classify(IOperation reference, ImmutableArray<IOperation>.Builder values, ImmutableArray<IOperation>.Builder elements)
        {
            switch (reference.Parent)
            {
                case IAssignmentOperation assignment when assignment.Target == reference && assignment is not IDeconstructionAssignmentOperation:
                    values.Add(assignment.Value);
                    break;
                case ICoalesceAssignmentOperation coalesce when coalesce.Target == reference:
                    values.Add(coalesce.Value);
                    break;
                case IEventAssignmentOperation { Adds: true } subscription when subscription.EventReference == reference:
                    values.Add(subscription.HandlerValue);
                    break;
                case IPropertyReferenceOperation { Property.IsIndexer: true } indexer when indexer.Instance == reference
                    && indexer.Parent is ISimpleAssignmentOperation write && write.Target == indexer:
                    elements.Add(write.Value);
                    break;
                case IArrayElementReferenceOperation element when element.ArrayReference == reference
                    && element.Parent is ISimpleAssignmentOperation write && write.Target == element:
                    elements.Add(write.Value);
                    break;
                case IInvocationOperation invocation when invocation.Instance == reference:
                    foreach (var argument in invocation.Arguments)
                    {
                        if (argument.Parameter?.RefKind == RefKind.None && IsDelegate(argument.Value.Type))
                        {
                            elements.Add(argument.Value);
                        }
                    }

                    break;
            }
        }
    }
}
