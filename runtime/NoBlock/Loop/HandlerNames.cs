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
        var type = method.DeclaringType;
        // Lambdas live in compiler-generated classes (<>c, <>c__DisplayClass0_0) nested in the user's type.
        while (type is not null && type.Name.StartsWith('<') && type.DeclaringType is not null)
        {
            type = type.DeclaringType;
        }
        string name = method.Name;
        if (name.StartsWith('<'))
        {
            int close = name.IndexOf('>');
            string outer = close > 1 ? name.Substring(1, close - 1) : "?";
            int local = name.IndexOf("g__", StringComparison.Ordinal);
            if (local >= 0)
            {
                int bar = name.IndexOf('|', local);
                name = outer + "." + (bar > local ? name.Substring(local + 3, bar - local - 3) : name.Substring(local + 3));
            }
            else
            {
                name = outer + " (lambda)";
            }
        }
        return $"{TypeName(type)}.{name}";
    }

    private static string TypeName(Type? type)
    {
        if (type is null)
        {
            return "?";
        }
        var n = type.Name;
        int tick = n.IndexOf('`');
        if (tick > 0)
        {
            n = n.Substring(0, tick);
        }
        return type.DeclaringType is { } outer ? TypeName(outer) + "." + n : n;
    }
}
