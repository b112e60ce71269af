namespace NoBlock.Analyzers;

/// <summary>The one registry of rule ids. The code-fix project and the tests use these constants.</summary>
public static class RuleIdentifiers
{
    public const string BlockingCallInHandler = "NB0001";
    public const string TransitiveBlockingCallInHandler = "NB0002";
    public const string EdgeTriggeredReadNotDrained = "NB0003";
    public const string EdgeTriggeredAcceptNotDrained = "NB0004";
    public const string ConsoleWriteInHandler = "NB0005";
    public const string ConfigureAwaitFalseInHandler = "NB0006";

    /// <summary>A line of a NoBlock configuration file (NoBlock.Blocking.txt, NoBlock.Handlers.txt, .editorconfig) that could not be used.</summary>
    public const string InvalidConfiguration = "NB9001";

    /// <summary>An analysis that failed, reported at the code it was analysing instead of an AD0001 (see docs/rules/NB9002.md).</summary>
    public const string AnalyzerFailure = "NB9002";

    /// <summary>Suppression justifications (docs/suppressions.md): other analyzers' advice that is wrong in event-loop code.</summary>
    public const string ConfigureAwaitAdviceMeziantou = "NBS0001";
    public const string ConfigureAwaitAdviceNetAnalyzers = "NBS0002";
    public const string AsyncVoidHandlerVsThreading = "NBS0003";
    public const string AsyncVoidHandlerAsyncFixer = "NBS0004";
    public const string AsyncLambdaHandlerVsThreading = "NBS0005";
    public const string AsyncLambdaHandlerMeziantou = "NBS0006";

    private const string DocsRoot = "https://github.com/noblock-dev/noblock/blob/main/docs/rules/";

    /// <summary>The help link of a rule: its page under docs/rules.</summary>
    public static string GetHelpUri(string id) => DocsRoot + id + ".md";
}

/// <summary>Diagnostic categories.</summary>
public static class RuleCategories
{
    public const string EventLoop = "EventLoop";
    public const string Configuration = "Configuration";
}
