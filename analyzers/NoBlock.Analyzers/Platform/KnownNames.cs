namespace NoBlock.Analyzers.Platform;

/// <summary>Metadata names and configuration keys shared by the rules.</summary>
internal static class KnownNames
{
    public const string EventLoopHandlerAttribute = "NoBlock.EventLoopHandlerAttribute";
    public const string BlockingAttribute = "NoBlock.BlockingAttribute";
    public const string EventLoop = "NoBlock.EventLoop";

    /// <summary><c>.editorconfig</c> key: extra handler attributes by full name, comma separated.</summary>
    public const string HandlerAttributesKey = "noblock.handler_attributes";

    /// <summary>AdditionalFiles entry: documentation ids of extra blocking members, one per line.</summary>
    public const string BlockingListFile = "NoBlock.Blocking.txt";

    /// <summary>AdditionalFiles entry: documentation ids of interface/virtual members whose implementations are handlers.</summary>
    public const string HandlersListFile = "NoBlock.Handlers.txt";
}
