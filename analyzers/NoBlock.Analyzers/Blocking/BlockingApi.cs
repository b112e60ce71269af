using NoBlock.Analyzers.Platform;

namespace NoBlock.Analyzers.Blocking;

/// <summary>When a catalogued member blocks.</summary>
internal enum BlockingCondition
{
    /// <summary>Every call blocks.</summary>
    Always,

    /// <summary>
    /// Blocks unless its timeout argument is zero (<c>Wait(0)</c>, <c>WaitOne(TimeSpan.Zero)</c>). An overload
    /// without a timeout waits forever and blocks.
    /// </summary>
    UnlessZeroTimeout,

    /// <summary>
    /// Blocks only through an overload with a timeout, and only when that timeout is not zero
    /// (<c>Monitor.TryEnter(o)</c> and <c>TryTake(out x)</c> return at once).
    /// </summary>
    OnlyWithNonZeroTimeout,

    /// <summary>
    /// Sync-over-async (<c>.Result</c>, <c>.Wait()</c>, <c>GetResult()</c>): blocks unless the task is known to be
    /// complete on this path (after an <c>IsCompleted</c> check, inside its <c>ContinueWith</c>, after it was awaited).
    /// Timeout arguments are honoured as for <see cref="UnlessZeroTimeout"/>.
    /// </summary>
    UnlessTaskCompleted,

    /// <summary>Stream and reader I/O: blocks unless the receiver is an in-memory stream.</summary>
    UnlessInMemoryStream,

    /// <summary>A libc wait whose timeout argument (at <see cref="BlockingApi.TimeoutArgument"/>) is not zero.</summary>
    UnlessZeroTimeoutArgument,

    /// <summary><c>TextWriter</c> writes: only when the writer is <c>Console.Out</c> or <c>Console.Error</c>.</summary>
    OnConsoleWriter,

    /// <summary>A constructor that opens a file: only the overloads with a <c>string path</c> parameter (not a handle or a stream).</summary>
    OnPathArgument,

    /// <summary>
    /// <c>Socket</c> I/O that waits on a blocking socket: not when the socket is known to be non-blocking
    /// (<see cref="SocketModes"/>; a parameter's mode is the caller's argument's, carried along the call graph).
    /// </summary>
    UnlessNonBlockingSocket,
}

/// <summary>What kind of finding a catalogue entry produces.</summary>
internal enum BlockingKind
{
    /// <summary>NB0001 (directly) and NB0002 (through callees).</summary>
    Blocking,

    /// <summary>NB0005: synchronous console output, reported only directly in handler code.</summary>
    ConsoleWrite,
}

/// <summary>Which mechanical rewrite the code fix can offer; the analyzer passes it in Diagnostic.Properties.</summary>
internal enum BlockingFix
{
    None,

    /// <summary><c>t.Result</c>, <c>t.Wait()</c>, <c>t.GetAwaiter().GetResult()</c> → <c>await t</c>.</summary>
    AwaitTask,

    /// <summary><c>Thread.Sleep(x)</c> → <c>await Task.Delay(x)</c>.</summary>
    AwaitDelay,

    /// <summary><c>M(args)</c> → <c>await MAsync(args)</c> (the entry's <see cref="BlockingApi.Alternative"/>).</summary>
    AwaitAsyncTwin,
}

/// <summary>
/// One row of the blocking catalogue: a member (by containing type's metadata name and member name, all
/// overloads) or a libc function (by native entry point), when it blocks, and what to use instead.
/// </summary>
internal sealed class BlockingApi
{
    public BlockingApi(string type, string member, BlockingCondition condition, string alternative, BlockingFix fix = BlockingFix.None, BlockingKind kind = BlockingKind.Blocking, int timeoutArgument = -1)
    {
        Type = type;
        Member = member;
        Condition = condition;
        Alternative = alternative;
        Fix = fix;
        Kind = kind;
        TimeoutArgument = timeoutArgument;
    }

    /// <summary>Metadata name of the declaring type (<c>System.Threading.Thread</c>), or <see cref="BlockingCatalogue.Libc"/>.</summary>
    public string Type { get; }

    /// <summary>Method or property name; for libc, the native entry point.</summary>
    public string Member { get; }

    public BlockingCondition Condition { get; }

    /// <summary>What to do instead; for <see cref="BlockingFix.AwaitAsyncTwin"/>, the twin's name.</summary>
    public string Alternative { get; }

    public BlockingFix Fix { get; }

    public BlockingKind Kind { get; }

    /// <summary>An epoll wait (<see cref="LibcFunctions.EpollWaitNames"/>): the call a dispatch loop is built around.</summary>
    public bool IsEpollWait => Type == BlockingCatalogue.Libc && LibcFunctions.IsEpollWaitName(Member);

    /// <summary>For libc waits: the index of the timeout argument (-1 when none).</summary>
    public int TimeoutArgument { get; }
}
