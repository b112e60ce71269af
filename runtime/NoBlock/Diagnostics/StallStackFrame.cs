namespace NoBlock;

/// <summary>
/// One managed frame of a stalled loop thread's stack (<see cref="StallReport.Stack"/>), innermost first: the method,
/// and the source line where the PDB of its assembly is present.
/// </summary>
public sealed class StallStackFrame
{
    /// <summary>Creates a frame.</summary>
    public StallStackFrame(string typeName, string methodName, string module, string? file, int? line, bool isUserCode)
    {
        TypeName = typeName;
        MethodName = methodName;
        Module = module;
        File = file;
        Line = line;
        IsUserCode = isUserCode;
    }

    /// <summary>The declaring type's full name ("Server", "System.Threading.Thread").</summary>
    public string TypeName { get; }

    /// <summary>The method's name ("Lookup").</summary>
    public string MethodName { get; }

    /// <summary>The module's file name ("Server.dll").</summary>
    public string Module { get; }

    /// <summary>The source file (its path as the PDB records it), or null without a PDB or a sequence point.</summary>
    public string? File { get; }

    /// <summary>The source line, or null without a PDB or a sequence point.</summary>
    public int? Line { get; }

    /// <summary>
    /// False for the runtime's and the BCL's frames (System.*, Microsoft.*, NoBlock's own loop), which the alert folds;
    /// true for the rest.
    /// </summary>
    public bool IsUserCode { get; }

    /// <summary>
    /// The type without its namespace ("Server" for "MyApp.Server", "Server+Inner" for "MyApp.Server+Inner"): the
    /// namespace ends at the last dot before the first nested type, generic argument or generated name.
    /// </summary>
    internal string ShortTypeName
    {
        get
        {
            int limit = TypeName.IndexOfAny(['+', '[', '<']);
            int dot = TypeName.LastIndexOf('.', limit < 0 ? TypeName.Length - 1 : Math.Max(limit - 1, 0));
            return dot >= 0 ? TypeName[(dot + 1)..] : TypeName;
        }
    }

    /// <summary>
    /// The method as handler names give it ("Server.Lookup", "Program.Main (lambda)", "Server.OnRead" for its async
    /// state machine's MoveNext), not the compiler's "Program+&lt;&gt;c.&lt;&lt;Main&gt;$&gt;b__0_0".
    /// </summary>
    internal string DisplayName => HandlerNames.Describe(ShortTypeName.Split('+'), MethodName);

    /// <summary>"Server.Lookup (Server.cs:42)", or "Server.Lookup" without a line.</summary>
    public override string ToString()
        => File is null || Line is null ? DisplayName : $"{DisplayName} ({System.IO.Path.GetFileName(File)}:{Line})";
}
