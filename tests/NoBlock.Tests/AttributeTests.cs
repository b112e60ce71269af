using System.Diagnostics;
using System.Reflection;
using Xunit;

namespace NoBlock.Tests;

public sealed class AttributeTests
{
    // The analyzers recognise handlers and blocking methods declared in other assemblies only if the attributes
    // are compiled into metadata; a [Conditional] attribute would vanish from callers' compilations.
    [Theory]
    [InlineData(typeof(EventLoopHandlerAttribute))]
    [InlineData(typeof(BlockingAttribute))]
    public void Attributes_are_not_conditional(Type attribute)
    {
        Assert.Empty(attribute.GetCustomAttributes<ConditionalAttribute>());
    }

    [Fact]
    public void EventLoopHandler_applies_to_methods_and_parameters()
    {
        var usage = typeof(EventLoopHandlerAttribute).GetCustomAttribute<AttributeUsageAttribute>()!;
        Assert.Equal(AttributeTargets.Method | AttributeTargets.Parameter, usage.ValidOn);
    }

    [Fact]
    public void Blocking_carries_its_alternative()
    {
        Assert.Equal("LoadAsync", new BlockingAttribute("LoadAsync").Alternative);
        Assert.Null(new BlockingAttribute().Alternative);
    }
}
