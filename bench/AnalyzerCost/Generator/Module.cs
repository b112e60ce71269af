namespace NoBlock.Bench.AnalyzerCost;

/// <summary>How a module's helper chain ends, six calls below its handlers.</summary>
internal enum BlockingLeaf
{
    None,
    ThreadSleep,
    FileReadAllText,
    TaskResult,
}

/// <summary>How a module reads its socket when it registers it edge-triggered (NB0003's subject).</summary>
internal enum EdgeReads
{
    /// <summary>Level-triggered registration, no raw reads.</summary>
    None,

    /// <summary>Edge-triggered, reads until EAGAIN: correct.</summary>
    Drains,

    /// <summary>Edge-triggered, reads once: an NB0003 finding.</summary>
    ReadsOnce,
}

/// <summary>
/// One handler module: a feature area of the server (Orders3, Sessions7, …) with 5 handlers and a 6-deep helper
/// pipeline. Which modules block, and how, is fixed by the index, so every size is the same mix.
/// </summary>
internal sealed class Module
{
    /// <summary>OnReadable, OnWritable ([EventLoopHandler] methods), the Register and Post lambdas, the Schedule method group.</summary>
    public const int HandlersPerModule = 5;

    private static readonly string[] Areas =
    {
        "Orders", "Sessions", "Inventory", "Billing", "Accounts", "Catalog", "Shipping", "Payments", "Telemetry", "Auth",
        "Search", "Chat", "Feeds", "Media", "Alerts", "Quotes", "Ledger", "Routing", "Presence", "Uploads",
    };

    public Module(int index)
    {
        Index = index;
        Name = Areas[index % Areas.Length] + (index / Areas.Length).ToString(System.Globalization.CultureInfo.InvariantCulture);

        // 3 chains in 20 (15%) end in a blocking call: "some chains ... and most not".
        Leaf = (index % 20) switch
        {
            3 => BlockingLeaf.ThreadSleep,
            9 => BlockingLeaf.FileReadAllText,
            15 => BlockingLeaf.TaskResult,
            _ => BlockingLeaf.None,
        };

        DirectBlocking = index % 50 == 21;
        ConsoleWrite = index % 25 == 5;
        Edge = (index % 40) switch
        {
            13 => EdgeReads.ReadsOnce,
            _ when index % 4 == 1 => EdgeReads.Drains,
            _ => EdgeReads.None,
        };
    }

    public int Index { get; }

    public string Name { get; }

    public BlockingLeaf Leaf { get; }

    /// <summary>A blocking call written in a handler itself (NB0001).</summary>
    public bool DirectBlocking { get; }

    /// <summary>A console write in a handler (NB0005).</summary>
    public bool ConsoleWrite { get; }

    public EdgeReads Edge { get; }

    /// <summary>
    /// The module before this one, whose pipeline's Describe leaf this one calls: calls across modules, but only to
    /// a leaf, so the chains do not all reach each other.
    /// </summary>
    public string Previous => new Module(Index == 0 ? 0 : Index - 1).Name;
}
