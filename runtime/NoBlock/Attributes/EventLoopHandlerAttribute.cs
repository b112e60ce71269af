namespace NoBlock;

/// <summary>
/// Marks code that runs on an event-loop thread. On a method: the method is a handler (and so are interface
/// implementations and overrides of it). On a delegate parameter: whatever lambda or method group is passed
/// there runs on the loop. The NoBlock analyzers report blocking calls made from such code (NB0001, NB0002).
/// </summary>
/// <remarks>
/// Deliberately not <c>[Conditional]</c>: the attribute must survive into compiled assemblies so that
/// handlers declared in one assembly are recognised when they are implemented or called from another.
/// </remarks>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Parameter, Inherited = true, AllowMultiple = false)]
public sealed class EventLoopHandlerAttribute : Attribute
{
}
