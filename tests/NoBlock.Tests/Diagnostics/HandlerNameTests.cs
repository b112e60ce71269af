using Xunit;

namespace NoBlock.Tests.Diagnostics;

/// <summary>
/// One naming rule for handlers (delegates) and for the frames of a stalled thread's stack: the names the compiler
/// gives lambdas, local functions, top-level statements and async state machines read as the source does.
/// </summary>
public sealed class HandlerNameTests
{
    [Theory]
    // Top-level statements (a console app's Program.cs): the names seen in a real alert before this rule.
    [InlineData("Program,<>c__DisplayClass0_0", "<<Main>$>b__0", "Program.Main (lambda)")]
    [InlineData("Program,<>c", "<<Main>$>b__0_0", "Program.Main (lambda)")]
    [InlineData("Program", "<<Main>$>g__Drain|0_1", "Program.Main.Drain")]
    [InlineData("Program", "<Main>$", "Program.Main")]
    // Ordinary methods.
    [InlineData("Server", "<OnReadable>b__3_0", "Server.OnReadable (lambda)")]
    [InlineData("Server,<>c__DisplayClass3_0", "<OnReadable>g__Parse|1", "Server.OnReadable.Parse")]
    [InlineData("Server,<OnRead>d__5", "MoveNext", "Server.OnRead")]
    [InlineData("Server,Inner", "Lookup", "Server.Inner.Lookup")]
    [InlineData("Cache`1", "Get", "Cache.Get")]
    [InlineData("Server", ".ctor", "Server..ctor")]
    public void Compiler_generated_names_read_as_the_source(string nesting, string method, string expected)
        => Assert.Equal(expected, HandlerNames.Describe(nesting.Split(','), method));

    [Theory]
    [InlineData("MyApp.Program+<>c__DisplayClass0_0", "<<Main>$>b__0", "Program.Main (lambda)")]
    [InlineData("MyApp.Net.Server+<OnRead>d__5", "MoveNext", "Server.OnRead")]
    [InlineData("System.Collections.Generic.List`1[System.__Canon]", "Add", "List.Add")]
    [InlineData("System.Threading.Thread", "Sleep", "Thread.Sleep")]
    public void A_stack_frame_is_named_like_a_handler(string type, string method, string expected)
        => Assert.Equal(expected, new StallStackFrame(type, method, "x.dll", null, null, true).ToString());

    [Fact]
    public void A_lambda_delegate_and_its_frame_get_the_same_name()
    {
        Action handler = () => { };
        var m = handler.Method;
        var frame = new StallStackFrame(m.DeclaringType!.FullName!, m.Name, "NoBlock.Tests.dll", null, null, true);
        Assert.Equal($"{nameof(HandlerNameTests)}.{nameof(A_lambda_delegate_and_its_frame_get_the_same_name)} (lambda)", HandlerNames.Describe(handler));
        Assert.Equal(HandlerNames.Describe(handler), frame.ToString());
    }
}
