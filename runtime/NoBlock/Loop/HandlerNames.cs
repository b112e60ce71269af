using System.Reflection;

namespace NoBlock;

/// <summary>
/// Names a handler the way a person looks for it in the source: <c>Server.OnReadable</c>, <c>Program.Main (lambda)</c>,
/// <c>Program.Main.Drain</c> for a local function, <c>EchoConnection.OnData</c> for a TCP connection — not
/// <c>Program+&lt;&gt;c.&lt;Main&gt;b__0_1</c>. The one naming function: stall reports, guard findings and handler
/// faults all name a handler through it, so a fault log and a stall alert name the same lambda the same way.
/// </summary>
internal static class HandlerNames
{
    /// <summary>Names a handler as the loop stores it: a delegate, or the owner of a registration (a TCP connection or listener).</summary>
    public static string Describe(object? handler) => handler switch
    {
        null => "(none)",
        Delegate d => Describe(d.Method),
        IRegistrationOwner owner => owner.HandlerName,
        _ => TypeName(handler.GetType()),
    };

    /// <summary>"Type.Method" for a handler that is a method of <paramref name="type"/> (a registration owner's callback).</summary>
    public static string Describe(Type type, string method) => $"{TypeName(type)}.{method}";

    public static string Describe(MethodInfo method)
    {
        var nesting = new List<string>();
        for (var type = method.DeclaringType; type is not null; type = type.DeclaringType)
        {
            nesting.Insert(0, type.Name);
        }
        return Describe(nesting, method.Name);
    }

    /// <summary>
    /// Names a method from its declaring type's nesting (outermost first, namespace left out, compiler-generated
    /// types included) and its metadata name: the one rule for delegates and for the frames of a stalled thread's
    /// stack (<see cref="StallStackFrame"/>), so an alert's handler and its innermost frame read alike.
    /// </summary>
    internal static string Describe(IReadOnlyList<string> nesting, string method)
    {
        // Lambdas and local functions live in compiler-generated classes (<>c, <>c__DisplayClass0_0) nested in the
        // user's type; an async method or iterator runs as MoveNext of a state machine (<OnRead>d__5).
        int keep = nesting.Count;
        string? stateMachineOf = null;
        while (keep > 1 && nesting[keep - 1].StartsWith('<'))
        {
            keep--;
            if (keep == nesting.Count - 1 && method == "MoveNext" && SplitGenerated(nesting[keep]) is (var owner, var rest) && rest.StartsWith("d__", StringComparison.Ordinal))
            {
                stateMachineOf = owner;
            }
        }
        var type = new System.Text.StringBuilder();
        for (int i = 0; i < keep; i++)
        {
            type.Append(i == 0 ? "" : ".").Append(WithoutArity(nesting[i]));
        }
        return $"{type}.{stateMachineOf ?? SourceName(method)}";
    }

    /// <summary>"Main" for "&lt;Main&gt;b__0_1" (" (lambda)" added), "Main.Drain" for "&lt;Main&gt;g__Drain|0_2", the name itself otherwise.</summary>
    private static string SourceName(string name)
    {
        if (SplitGenerated(name) is not (var outer, var rest))
        {
            return name;
        }
        if (rest == "$")
        {
            return outer; // "<Main>$" itself: the body of top-level statements
        }
        if (rest.StartsWith("g__", StringComparison.Ordinal))
        {
            int bar = rest.IndexOf('|');
            return outer + "." + (bar > 3 ? rest.Substring(3, bar - 3) : rest.Substring(3));
        }
        return outer + " (lambda)";
    }

    /// <summary>
    /// "&lt;Outer&gt;rest" → (the source name of Outer, rest), or null for a name the compiler did not make. Outer may
    /// itself be generated: top-level statements compile to "&lt;Main&gt;$", whose lambdas are "&lt;&lt;Main&gt;$&gt;b__0_0".
    /// </summary>
    private static (string Outer, string Tail)? SplitGenerated(string name)
    {
        if (!name.StartsWith('<'))
        {
            return null;
        }
        int depth = 0;
        for (int i = 0; i < name.Length; i++)
        {
            if (name[i] == '<')
            {
                depth++;
            }
            else if (name[i] == '>' && --depth == 0)
            {
                string outer = name.Substring(1, i - 1);
                if (outer.Length == 0)
                {
                    outer = "?"; // "<>c": a closure class has no outer name of its own
                }
                else if (outer.StartsWith('<') && SplitGenerated(outer) is (var inner, var innerRest) && innerRest == "$")
                {
                    outer = inner; // "<Main>$": the entry point of top-level statements
                }
                return (outer, name.Substring(i + 1));
            }
        }
        return null;
    }

    private static string WithoutArity(string name)
    {
        int tick = name.IndexOf('`');
        return tick > 0 ? name.Substring(0, tick) : name;
    }

    private static string TypeName(Type? type)
    {
        if (type is null)
        {
            return "?";
        }
        var n = WithoutArity(type.Name);
        return type.DeclaringType is { } outer ? TypeName(outer) + "." + n : n;
    }
}
