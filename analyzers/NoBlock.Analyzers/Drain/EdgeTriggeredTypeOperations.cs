using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Drain;

/// <summary>
/// The operation trees of one type's members, gathered during its symbol-start scope and read at its
/// symbol end: the roots (method bodies, field initializers, …), and lazily built lists of the invocations, the
/// writes and the call sites. Used only from the symbol-end action of that type, so no locking is needed after
/// gathering; gathering itself (a root added to a list) is locked because operation-block callbacks may run
/// concurrently. The trees are walked at the symbol end, on one thread, not in the callbacks: the callbacks of one
/// type's members then contend for the lock only for an add, and a type whose end finds nothing to do pays nothing more.
/// </summary>
internal sealed class TypeOperations
{
    private readonly object _gate = new();
    private readonly List<(ISymbol Owner, IOperation Root)> _roots = new();
    private List<IInvocationOperation>? _invocations;
    private Dictionary<ISymbol, List<IOperation>>? _writes;
    private Dictionary<IMethodSymbol, List<IInvocationOperation>>? _callsByTarget;

    public TypeOperations(INamedTypeSymbol type)
    {
        Type = type;
    }

    public INamedTypeSymbol Type { get; }

    public IReadOnlyList<(ISymbol Owner, IOperation Root)> Roots => _roots;

    /// <summary>Every invocation in the gathered roots, in the roots' order (read after gathering).</summary>
    public IReadOnlyList<IInvocationOperation> Invocations => _invocations ??= CollectInvocations();

    public void Add(ISymbol owner, IEnumerable<IOperation> blocks)
    {
        var roots = new List<IOperation>();
        foreach (var block in blocks)
        {
            var root = block;
            while (root.Parent is not null)
            {
                root = root.Parent;
            }

            if (!roots.Contains(root))
            {
                roots.Add(root);
            }
        }

        lock (_gate)
        {
            foreach (var root in roots)
            {
                _roots.Add((owner, root));
            }
        }
    }

    private List<IInvocationOperation> CollectInvocations()
    {
        var invocations = new List<IInvocationOperation>();
        foreach (var (_, root) in _roots)
        {
            foreach (var operation in root.DescendantsAndSelf())
            {
                if (operation is IInvocationOperation invocation)
                {
                    invocations.Add(invocation);
                }
            }
        }

        return invocations;
    }

    /// <summary>The body of a method of this type, if we saw one.</summary>
    public IOperation? RootOf(IMethodSymbol method)
    {
        method = method.OriginalDefinition;
        if (method.MethodKind == MethodKind.LocalFunction)
        {
            // A local function: its declaration inside the member that contains it.
            foreach (var (_, root) in _roots)
            {
                foreach (var operation in root.Descendants())
                {
                    if (operation is ILocalFunctionOperation local && SymbolEqualityComparer.Default.Equals(local.Symbol, method))
                    {
                        return local;
                    }
                }
            }

            return null;
        }

        foreach (var (owner, root) in _roots)
        {
            if (SymbolEqualityComparer.Default.Equals(owner, method) && root is IMethodBodyOperation or IBlockOperation or IConstructorBodyOperation)
            {
                return root;
            }
        }

        return null;
    }

    /// <summary>Every operation in the type that writes the symbol (declarators, assignments, ref/out arguments, …).</summary>
    public IReadOnlyList<IOperation> WritesTo(ISymbol symbol)
    {
        _writes ??= BuildWrites();
        return _writes.TryGetValue(symbol.OriginalDefinition, out var list) ? list : (IReadOnlyList<IOperation>)System.Array.Empty<IOperation>();
    }

    public IReadOnlyList<IInvocationOperation> CallsTo(IMethodSymbol method)
    {
        if (_callsByTarget is null)
        {
            var calls = new Dictionary<IMethodSymbol, List<IInvocationOperation>>(SymbolEqualityComparer.Default);
            foreach (var invocation in Invocations)
            {
                var target = invocation.TargetMethod.OriginalDefinition;
                if (!calls.TryGetValue(target, out var list))
                {
                    calls[target] = list = new List<IInvocationOperation>();
                }

                list.Add(invocation);
            }

            _callsByTarget = calls;
        }

        return _callsByTarget.TryGetValue(method.OriginalDefinition, out var found) ? found : (IReadOnlyList<IInvocationOperation>)System.Array.Empty<IInvocationOperation>();
    }

    /// <summary>
    /// The values written to the events field of an epoll_event-like struct held in a local or field: from
    /// <c>ev.events = …</c>, <c>ev.events |= …</c> (IsOr) and object initializers. A null value means a write
    /// we cannot follow (the whole struct copied from elsewhere).
    /// </summary>
    public IEnumerable<(IOperation? Value, bool IsOr)> EventsFieldValues(ISymbol structSymbol)
    {
        foreach (var (_, root) in _roots)
        {
            foreach (var operation in root.Descendants())
            {
                switch (operation)
                {
                    case ISimpleAssignmentOperation { Target: IFieldReferenceOperation field } assignment
                        when FlagEvaluator.IsEventsField(field.Field) && RefersTo(field.Instance, structSymbol):
                        yield return (assignment.Value, false);
                        break;
                    case ICompoundAssignmentOperation { Target: IFieldReferenceOperation field } compound
                        when FlagEvaluator.IsEventsField(field.Field) && RefersTo(field.Instance, structSymbol):
                        yield return (compound.OperatorKind == BinaryOperatorKind.Or ? compound.Value : null, true);
                        break;
                }
            }
        }

        foreach (var write in WritesTo(structSymbol))
        {
            if (write is IArgumentOperation { Parent: IInvocationOperation call } && LibcFunctions.GetNativeName(call.TargetMethod) == "epoll_ctl")
            {
                // epoll_ctl(…, ref ev): the call reads the struct, it does not change the mask.
                continue;
            }

            var value = write switch
            {
                IVariableDeclaratorOperation declarator => declarator.Initializer?.Value,
                ISimpleAssignmentOperation assignment => assignment.Value,
                IFieldInitializerOperation initializer => initializer.Value,
                _ => write,
            };
            if (value is not null)
            {
                value = FlagEvaluator.Strip(value);
            }

            switch (value)
            {
                case null:
                case IDefaultValueOperation:
                    break;
                case IObjectCreationOperation creation:
                    if (creation.Initializer is null)
                    {
                        break;
                    }

                    foreach (var member in creation.Initializer.Initializers)
                    {
                        if (member is ISimpleAssignmentOperation { Target: IFieldReferenceOperation field } init && FlagEvaluator.IsEventsField(field.Field))
                        {
                            yield return (init.Value, false);
                        }
                    }

                    break;
                default:
                    yield return (null, false);
                    break;
            }
        }
    }

    private static bool RefersTo(IOperation? instance, ISymbol symbol) => instance switch
    {
        ILocalReferenceOperation local => SymbolEqualityComparer.Default.Equals(local.Local, symbol),
        IFieldReferenceOperation field => SymbolEqualityComparer.Default.Equals(field.Field.OriginalDefinition, symbol.OriginalDefinition),
        _ => false,
    };

    private Dictionary<ISymbol, List<IOperation>> BuildWrites()
    {
        var writes = new Dictionary<ISymbol, List<IOperation>>(SymbolEqualityComparer.Default);
        void Add(ISymbol? symbol, IOperation write)
        {
            if (symbol is null)
            {
                return;
            }

            symbol = symbol.OriginalDefinition;
            if (!writes.TryGetValue(symbol, out var list))
            {
                writes[symbol] = list = new List<IOperation>();
            }

            list.Add(write);
        }

        foreach (var (_, root) in _roots)
        {
            foreach (var operation in root.DescendantsAndSelf())
            {
                switch (operation)
                {
                    case IVariableDeclaratorOperation declarator:
                        Add(declarator.Symbol, declarator);
                        break;
                    case IFieldInitializerOperation initializer:
                        foreach (var field in initializer.InitializedFields)
                        {
                            Add(field, initializer);
                        }

                        break;
                    case IAssignmentOperation assignment:
                        Add(TargetSymbol(assignment.Target), assignment);
                        break;
                    case IIncrementOrDecrementOperation increment:
                        Add(TargetSymbol(increment.Target), increment);
                        break;
                    case IArgumentOperation { Parameter.RefKind: RefKind.Ref or RefKind.Out } argument:
                        Add(TargetSymbol(argument.Value), argument);
                        break;
                    case IAddressOfOperation addressOf:
                        // &x lets anything write x; only a struct whose address goes to epoll_ctl is read, not written.
                        if (addressOf.Parent is not IArgumentOperation && TargetSymbol(addressOf.Reference) is ILocalSymbol { Type.TypeKind: not TypeKind.Struct } local)
                        {
                            Add(local, addressOf);
                        }

                        break;
                }
            }
        }

        return writes;
    }

    private static ISymbol? TargetSymbol(IOperation target) => target switch
    {
        ILocalReferenceOperation local => local.Local,
        IFieldReferenceOperation field => field.Field,
        IParameterReferenceOperation parameter => parameter.Parameter,
        _ => null,
    };
}
