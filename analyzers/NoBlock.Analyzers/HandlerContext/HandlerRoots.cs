using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.HandlerContext;

/// <summary>
/// Which methods are event-loop handlers: marked <c>[EventLoopHandler]</c> (or implementing / overriding a member
/// so marked), marked with an attribute named in <c>noblock.handler_attributes</c>, or implementing / overriding a
/// member listed in <c>NoBlock.Handlers.txt</c>. Also which delegate parameters take handlers (marked
/// <c>[EventLoopHandler]</c> or listed as <c>M:…(…)#N</c>) and which events' subscribers are handlers (listed as
/// <c>E:…</c>): the ways a third-party loop that cannot carry our attribute is told about.
/// </summary>
internal sealed class HandlerRoots
{
    private readonly Compilation _compilation;
    private readonly INamedTypeSymbol? _handlerAttribute;
    private readonly HashSet<ISymbol> _listed;
    private readonly HashSet<string> _listedNames = new(StringComparer.Ordinal);
    private readonly HashSet<ISymbol> _listedEvents = new(SymbolEqualityComparer.Default);
    private readonly HashSet<(ISymbol Method, int Ordinal)> _listedParameters = new(new ParameterKeyComparer());
    private readonly HashSet<string> _callbackNames = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<IMethodSymbol, bool> _builtIn = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentDictionary<string, ImmutableArray<INamedTypeSymbol>> _configured = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _unknownConfigured = new(StringComparer.Ordinal);

    public HandlerRoots(Compilation compilation, ImmutableArray<ISymbol> listed)
    {
        _compilation = compilation;
        _handlerAttribute = compilation.GetTypeByMetadataName(KnownNames.EventLoopHandlerAttribute);
        _listed = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        foreach (var symbol in listed)
        {
            switch (symbol)
            {
                case IEventSymbol @event:
                    _listedEvents.Add(@event.OriginalDefinition);
                    _callbackNames.Add(@event.Name);
                    break;
                case IParameterSymbol { ContainingSymbol: IMethodSymbol method } parameter:
                    _listedParameters.Add((method.OriginalDefinition, parameter.Ordinal));
                    _callbackNames.Add(method.MethodKind == MethodKind.Constructor ? method.ContainingType.Name : method.Name);
                    break;
                default:
                    _listed.Add(symbol.OriginalDefinition);
                    _listedNames.Add(symbol.Name);
                    break;
            }
        }
    }

    /// <summary>Whether NoBlock.Handlers.txt named any member this compilation can see.</summary>
    public bool HasListedHandlers => _listed.Count > 0 || HasListedCallbacks;

    /// <summary>Whether NoBlock.Handlers.txt named an event or a delegate parameter.</summary>
    public bool HasListedCallbacks => _listedEvents.Count > 0 || _listedParameters.Count > 0;

    /// <summary>The names a call or subscription to a listed event or parameter is written with (a syntax gate).</summary>
    public IEnumerable<string> ListedCallbackNames => _callbackNames;

    /// <summary>Attribute names from .editorconfig that resolved to no type (reported as NB9001 at compilation end).</summary>
    public IEnumerable<string> UnknownConfiguredAttributes => _unknownConfigured.Keys;

    public bool IsHandlerParameter(IParameterSymbol parameter)
        => (_handlerAttribute is not null && HasAttribute(parameter, _handlerAttribute))
        || (_listedParameters.Count > 0 && parameter.ContainingSymbol is IMethodSymbol method && _listedParameters.Contains((method.OriginalDefinition, parameter.Ordinal)));

    /// <summary>Whether what is subscribed to <paramref name="event"/> with <c>+=</c> is handler code (an <c>E:</c> line).</summary>
    public bool IsHandlerEvent(IEventSymbol @event) => _listedEvents.Count > 0 && _listedEvents.Contains(@event.OriginalDefinition);

    public bool IsHandler(IMethodSymbol method, AnalyzerConfigOptions options)
    {
        if (method.MethodKind is not (MethodKind.Ordinary or MethodKind.ExplicitInterfaceImplementation))
        {
            return false;
        }

        if (_builtIn.GetOrAdd(method, IsBuiltInHandler))
        {
            return true;
        }

        if (options.TryGetValue(KnownNames.HandlerAttributesKey, out var value) && !string.IsNullOrWhiteSpace(value))
        {
            foreach (var attribute in _configured.GetOrAdd(value, ResolveConfigured))
            {
                if (HasAttributeAnywhere(method, attribute))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private bool IsBuiltInHandler(IMethodSymbol method)
    {
        if (_handlerAttribute is not null && HasAttributeAnywhere(method, _handlerAttribute))
        {
            return true;
        }

        if (_listed.Count == 0 || !_listedNames.Contains(Simple(method.Name)))
        {
            return false;
        }

        foreach (var related in RelatedMembers(method))
        {
            if (_listed.Contains(related.OriginalDefinition))
            {
                return true;
            }
        }

        return false;
    }

    private bool HasAttributeAnywhere(IMethodSymbol method, INamedTypeSymbol attribute)
    {
        foreach (var related in RelatedMembers(method))
        {
            if (HasAttribute(related, attribute))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The method itself, the members it overrides, and the interface members any of those implement.</summary>
    private static IEnumerable<IMethodSymbol> RelatedMembers(IMethodSymbol method)
    {
        for (var current = method; current is not null; current = current.OverriddenMethod)
        {
            yield return current;
            foreach (var explicitImplementation in current.ExplicitInterfaceImplementations)
            {
                yield return explicitImplementation;
            }

            var type = current.ContainingType;
            if (type is null || current.DeclaredAccessibility != Accessibility.Public)
            {
                continue;
            }

            foreach (var @interface in type.AllInterfaces)
            {
                foreach (var member in @interface.GetMembers(current.Name))
                {
                    if (member is IMethodSymbol interfaceMethod
                        && SymbolEqualityComparer.Default.Equals(type.FindImplementationForInterfaceMember(interfaceMethod), current))
                    {
                        yield return interfaceMethod;
                    }
                }
            }
        }
    }

    private static string Simple(string name)
    {
        var dot = name.LastIndexOf('.');
        return dot >= 0 ? name.Substring(dot + 1) : name;
    }

    private ImmutableArray<INamedTypeSymbol> ResolveConfigured(string value)
    {
        var builder = ImmutableArray.CreateBuilder<INamedTypeSymbol>();
        foreach (var part in value.Split(','))
        {
            var name = part.Trim();
            if (name.Length == 0)
            {
                continue;
            }

            var type = _compilation.GetTypeByMetadataName(name)
                ?? (name.EndsWith("Attribute", StringComparison.Ordinal) ? null : _compilation.GetTypeByMetadataName(name + "Attribute"));
            if (type is null)
            {
                _unknownConfigured.TryAdd(name, 0);
            }
            else
            {
                builder.Add(type);
            }
        }

        return builder.ToImmutable();
    }

    private static bool HasAttribute(ISymbol symbol, INamedTypeSymbol attribute)
    {
        foreach (var data in symbol.GetAttributes())
        {
            if (SymbolEqualityComparer.Default.Equals(data.AttributeClass, attribute))
            {
                return true;
            }
        }

        return false;
    }

    private sealed class ParameterKeyComparer : IEqualityComparer<(ISymbol Method, int Ordinal)>
    {
        public bool Equals((ISymbol Method, int Ordinal) x, (ISymbol Method, int Ordinal) y)
            => x.Ordinal == y.Ordinal && SymbolEqualityComparer.Default.Equals(x.Method, y.Method);

        public int GetHashCode((ISymbol Method, int Ordinal) key) => (SymbolEqualityComparer.Default.GetHashCode(key.Method) * 31) + key.Ordinal;
    }
}
