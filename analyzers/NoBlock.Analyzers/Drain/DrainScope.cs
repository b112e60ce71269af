// Decides what, besides epoll_wait itself, ends "this event" around a call: the events cursors and the
// poll-once methods of the type that waits. Built by the raw-epoll route, read by the walk and own-loop checks.

using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace NoBlock.Analyzers.Drain;

/// <summary>
/// What, besides <c>epoll_wait</c> itself, means "this event is done" in the code around a call: moving an
/// events cursor on (the <c>i</c> of <c>events[i]</c>, a <c>foreach</c> over the events buffer), or calling a
/// small method of the type that waits ("poll once").
/// </summary>
internal sealed class DrainScope
{
    public static readonly DrainScope Empty = new(ImmutableHashSet.Create<ISymbol>(SymbolEqualityComparer.Default), ImmutableHashSet.Create<IMethodSymbol>(SymbolEqualityComparer.Default));

    public DrainScope(ImmutableHashSet<ISymbol> cursors, ImmutableHashSet<IMethodSymbol> waitWrappers)
    {
        Cursors = cursors;
        WaitWrappers = waitWrappers;
    }

    public ImmutableHashSet<ISymbol> Cursors { get; }

    public ImmutableHashSet<IMethodSymbol> WaitWrappers { get; }

    public bool IsWaitWrapper(IMethodSymbol method) => WaitWrappers.Contains(method.OriginalDefinition);
}
