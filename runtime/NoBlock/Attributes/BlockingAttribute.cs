namespace NoBlock;

/// <summary>
/// Marks a method (or a property's accessors, or a constructor) that blocks the calling thread. Calling it
/// from event-loop code is reported by NB0001, and reaching it through other methods by NB0002, exactly like
/// the built-in catalogue (<c>Thread.Sleep</c>, <c>Task.Wait</c>, synchronous file I/O, …).
/// </summary>
/// <remarks>Not <c>[Conditional]</c>: it must be visible to analyzers in assemblies that reference yours.</remarks>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Constructor | AttributeTargets.Property, Inherited = false, AllowMultiple = false)]
public sealed class BlockingAttribute : Attribute
{
    /// <summary>Marks a blocking method.</summary>
    public BlockingAttribute()
    {
    }

    /// <summary>Marks a blocking method and says what to call instead; the analyzers put it in their message.</summary>
    /// <param name="alternative">What a handler should call instead, e.g. <c>"LoadAsync"</c>.</param>
    public BlockingAttribute(string alternative)
    {
        Alternative = alternative;
    }

    /// <summary>What a handler should call instead, if anything.</summary>
    public string? Alternative { get; }
}
