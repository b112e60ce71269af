using Microsoft.CodeAnalysis;

namespace NoBlock.Analyzers.Drain;

/// <summary>
/// The symbols the drain rules need, resolved once per compilation. The EventLoop route is recognised by
/// metadata name (<c>NoBlock.EventLoop.Register</c>, <c>NoBlock.IoEvents.EdgeTriggered</c>), so it lights up in
/// any compilation that references the runtime, and is simply off in one that does not. The raw epoll route
/// needs no symbol: libc calls are recognised by native entry point.
/// </summary>
internal sealed class EdgeTriggeredKnownSymbols
{
    private EdgeTriggeredKnownSymbols(INamedTypeSymbol? eventLoop, uint? edgeTriggered, uint? oneShot)
    {
        EventLoop = eventLoop;
        IoEventsEdgeTriggered = edgeTriggered;
        IoEventsOneShot = oneShot;
    }

    /// <summary><c>NoBlock.EventLoop</c>, when the compilation references the runtime.</summary>
    public INamedTypeSymbol? EventLoop { get; }

    /// <summary>The value of <c>IoEvents.EdgeTriggered</c>, when it exists.</summary>
    public uint? IoEventsEdgeTriggered { get; }

    /// <summary>The value of a one-shot member of <c>IoEvents</c> (<c>OneShot</c>), when the runtime has one.</summary>
    public uint? IoEventsOneShot { get; }

    public static EdgeTriggeredKnownSymbols Create(Compilation compilation)
    {
        var eventLoop = compilation.GetTypeByMetadataName("NoBlock.EventLoop");
        var ioEvents = compilation.GetTypeByMetadataName("NoBlock.IoEvents");
        return new EdgeTriggeredKnownSymbols(eventLoop, FlagValue(ioEvents, "EdgeTriggered"), FlagValue(ioEvents, "OneShot"));
    }

    private static uint? FlagValue(INamedTypeSymbol? type, string name)
    {
        if (type is null)
        {
            return null;
        }

        foreach (var member in type.GetMembers(name))
        {
            if (member is IFieldSymbol { HasConstantValue: true } field && EpollFlags.ToBits(field.ConstantValue) is { } bits && bits != 0)
            {
                return bits;
            }
        }

        return null;
    }

    /// <summary>True for <c>NoBlock.EventLoop.Register(int fd, IoEvents interest, IoHandler handler)</c>.</summary>
    public bool IsRegister(IMethodSymbol method)
        => EventLoop is not null
            && method.Name == "Register"
            && SymbolEqualityComparer.Default.Equals(method.ContainingType?.OriginalDefinition, EventLoop)
            && method.Parameters.Length >= 3;
}
