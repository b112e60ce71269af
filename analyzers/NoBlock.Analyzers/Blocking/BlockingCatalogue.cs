using System.Collections.Immutable;
using static NoBlock.Analyzers.Blocking.BlockingCondition;

namespace NoBlock.Analyzers.Blocking;

/// <summary>
/// The built-in list of blocking APIs. Data, not code: a row names a member (every overload) and the
/// condition under which it blocks. Users extend it with <c>[NoBlock.Blocking]</c> and <c>NoBlock.Blocking.txt</c>.
/// Overrides match the member they override (<c>FileStream.Read</c> is <c>Stream.Read</c>).
/// </summary>
internal static class BlockingCatalogue
{
    /// <summary>Pseudo type name of rows matched by libc entry point, whatever binding declares the function.</summary>
    public const string Libc = "<libc>";

    private const string AwaitIt = "await it (make the handler async) or continue in ContinueWith";
    private const string Offload = "loop.Offload(...) the work and continue when it completes";

    public static ImmutableArray<BlockingApi> All { get; } = ImmutableArray.Create(
        // Sleeping and joining
        Row("System.Threading.Thread", "Sleep", Always, "await Task.Delay(...) or loop.Schedule(...)", BlockingFix.AwaitDelay),
        Row("System.Threading.Thread", "Join", UnlessZeroTimeout, "observe the thread's completion through a Task"),
        Row("System.Threading.SpinWait", "SpinUntil", UnlessZeroTimeout, "poll the condition from a loop.Schedule(...) timer"),

        // Sync over async
        Row("System.Threading.Tasks.Task", "Wait", UnlessTaskCompleted, AwaitIt, BlockingFix.AwaitTask),
        Row("System.Threading.Tasks.Task", "WaitAll", UnlessZeroTimeout, "await Task.WhenAll(...)"),
        Row("System.Threading.Tasks.Task", "WaitAny", UnlessZeroTimeout, "await Task.WhenAny(...)"),
        Row("System.Threading.Tasks.Task`1", "Result", UnlessTaskCompleted, AwaitIt, BlockingFix.AwaitTask),
        Row("System.Threading.Tasks.ValueTask`1", "Result", UnlessTaskCompleted, AwaitIt, BlockingFix.AwaitTask),
        Row("System.Runtime.CompilerServices.TaskAwaiter", "GetResult", UnlessTaskCompleted, AwaitIt, BlockingFix.AwaitTask),
        Row("System.Runtime.CompilerServices.TaskAwaiter`1", "GetResult", UnlessTaskCompleted, AwaitIt, BlockingFix.AwaitTask),
        Row("System.Runtime.CompilerServices.ValueTaskAwaiter", "GetResult", UnlessTaskCompleted, AwaitIt, BlockingFix.AwaitTask),
        Row("System.Runtime.CompilerServices.ValueTaskAwaiter`1", "GetResult", UnlessTaskCompleted, AwaitIt, BlockingFix.AwaitTask),
        Row("System.Runtime.CompilerServices.ConfiguredTaskAwaitable+ConfiguredTaskAwaiter", "GetResult", UnlessTaskCompleted, AwaitIt, BlockingFix.AwaitTask),
        Row("System.Runtime.CompilerServices.ConfiguredTaskAwaitable`1+ConfiguredTaskAwaiter", "GetResult", UnlessTaskCompleted, AwaitIt, BlockingFix.AwaitTask),
        Row("System.Runtime.CompilerServices.ConfiguredValueTaskAwaitable+ConfiguredValueTaskAwaiter", "GetResult", UnlessTaskCompleted, AwaitIt, BlockingFix.AwaitTask),
        Row("System.Runtime.CompilerServices.ConfiguredValueTaskAwaitable`1+ConfiguredValueTaskAwaiter", "GetResult", UnlessTaskCompleted, AwaitIt, BlockingFix.AwaitTask),

        // Wait handles, events, semaphores, barriers, monitors, locks, blocking collections
        Row("System.Threading.WaitHandle", "WaitOne", UnlessZeroTimeout, "register a callback (ThreadPool.RegisterWaitForSingleObject) that posts back to the loop"),
        Row("System.Threading.WaitHandle", "WaitAll", UnlessZeroTimeout, "signal the loop with loop.Post(...) instead of waiting"),
        Row("System.Threading.WaitHandle", "WaitAny", UnlessZeroTimeout, "signal the loop with loop.Post(...) instead of waiting"),
        Row("System.Threading.WaitHandle", "SignalAndWait", UnlessZeroTimeout, "signal the loop with loop.Post(...) instead of waiting"),
        Row("System.Threading.ManualResetEventSlim", "Wait", UnlessZeroTimeout, "a TaskCompletionSource the loop awaits"),
        Row("System.Threading.SemaphoreSlim", "Wait", UnlessZeroTimeout, "await semaphore.WaitAsync()", BlockingFix.AwaitAsyncTwin, alternativeName: "WaitAsync"),
        Row("System.Threading.CountdownEvent", "Wait", UnlessZeroTimeout, "a TaskCompletionSource completed by the last signal"),
        Row("System.Threading.Barrier", "SignalAndWait", UnlessZeroTimeout, "a TaskCompletionSource completed by the last participant"),
        Row("System.Threading.Monitor", "Wait", UnlessZeroTimeout, "signal the loop with loop.Post(...) instead of waiting"),
        Row("System.Threading.Monitor", "TryEnter", OnlyWithNonZeroTimeout, "Monitor.TryEnter(obj) without a timeout, and retry later"),
        // Untimed lock acquisitions (ReaderWriterLockSlim.Enter*Lock, SpinLock.Enter, Lock.Enter/EnterScope) are
        // treated like `lock` (Monitor.Enter): short critical sections, not rows. Timed tries with a non-zero timeout are.
        Row("System.Threading.ReaderWriterLockSlim", "TryEnterReadLock", OnlyWithNonZeroTimeout, "TryEnterReadLock(0)"),
        Row("System.Threading.ReaderWriterLockSlim", "TryEnterWriteLock", OnlyWithNonZeroTimeout, "TryEnterWriteLock(0)"),
        Row("System.Threading.ReaderWriterLockSlim", "TryEnterUpgradeableReadLock", OnlyWithNonZeroTimeout, "TryEnterUpgradeableReadLock(0)"),
        Row("System.Threading.SpinLock", "TryEnter", OnlyWithNonZeroTimeout, "SpinLock.TryEnter(ref taken) without a timeout, and retry later"),
        Row("System.Threading.Lock", "TryEnter", OnlyWithNonZeroTimeout, "Lock.TryEnter() without a timeout, and retry later"),
        Row("System.Collections.Concurrent.BlockingCollection`1", "Take", Always, "TryTake(out item) without a timeout, or a Channel read with await"),
        Row("System.Collections.Concurrent.BlockingCollection`1", "TryTake", OnlyWithNonZeroTimeout, "TryTake(out item) without a timeout"),
        Row("System.Collections.Concurrent.BlockingCollection`1", "GetConsumingEnumerable", Always, "a Channel read with await"),

        // Parallel work the caller waits for
        Row("System.Threading.Tasks.Parallel", "For", Always, Offload),
        Row("System.Threading.Tasks.Parallel", "ForEach", Always, Offload),
        Row("System.Threading.Tasks.Parallel", "Invoke", Always, Offload),
        Row("System.Linq.ParallelEnumerable", "ForAll", Always, Offload),
        Row("System.GC", "WaitForPendingFinalizers", Always, "do not wait for finalizers on the loop"),

        // Files
        Row("System.IO.File", "ReadAllText", Always, "ReadAllTextAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.File", "ReadAllBytes", Always, "ReadAllBytesAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.File", "ReadAllLines", Always, "ReadAllLinesAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.File", "ReadLines", Always, "ReadLinesAsync"),
        Row("System.IO.File", "WriteAllText", Always, "WriteAllTextAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.File", "WriteAllBytes", Always, "WriteAllBytesAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.File", "WriteAllLines", Always, "WriteAllLinesAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.File", "AppendAllText", Always, "AppendAllTextAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.File", "AppendAllLines", Always, "AppendAllLinesAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.File", "Copy", Always, Offload),
        Row("System.IO.File", "Move", Always, Offload),
        Row("System.IO.File", "Replace", Always, Offload),
        Row("System.IO.File", "Delete", Always, Offload),
        Row("System.IO.File", "Open", Always, Offload),
        Row("System.IO.File", "OpenRead", Always, Offload),
        Row("System.IO.File", "OpenWrite", Always, Offload),
        Row("System.IO.File", "OpenText", Always, Offload),
        Row("System.IO.File", "Create", Always, Offload),
        Row("System.IO.File", "CreateText", Always, Offload),
        Row("System.IO.File", "AppendText", Always, Offload),
        Row("System.IO.Directory", "GetFiles", Always, Offload),
        Row("System.IO.Directory", "GetDirectories", Always, Offload),
        Row("System.IO.Directory", "GetFileSystemEntries", Always, Offload),

        // Streams and readers (overrides such as FileStream.Read and NetworkStream.Read match these rows)
        Row("System.IO.Stream", "Read", UnlessInMemoryStream, "ReadAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.Stream", "ReadByte", UnlessInMemoryStream, "ReadAsync"),
        Row("System.IO.Stream", "ReadExactly", UnlessInMemoryStream, "ReadExactlyAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.Stream", "ReadAtLeast", UnlessInMemoryStream, "ReadAtLeastAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.Stream", "Write", UnlessInMemoryStream, "WriteAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.Stream", "WriteByte", UnlessInMemoryStream, "WriteAsync"),
        Row("System.IO.Stream", "Flush", UnlessInMemoryStream, "FlushAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.Stream", "CopyTo", UnlessInMemoryStream, "CopyToAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.StreamReader", "ReadToEnd", UnlessInMemoryStream, "ReadToEndAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.StreamReader", "ReadLine", UnlessInMemoryStream, "ReadLineAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.StreamReader", "ReadBlock", UnlessInMemoryStream, "ReadBlockAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.IO.StreamWriter", "Flush", UnlessInMemoryStream, "FlushAsync", BlockingFix.AwaitAsyncTwin),

        // Console input (output is NB0005 below)
        Row("System.Console", "Read", Always, "read stdin on another thread and loop.Post(...) the lines"),
        Row("System.Console", "ReadLine", Always, "read stdin on another thread and loop.Post(...) the lines"),
        Row("System.Console", "ReadKey", Always, "read stdin on another thread and loop.Post(...) the keys"),

        // Network and processes
        Row("System.Net.Dns", "GetHostEntry", Always, "GetHostEntryAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.Net.Dns", "GetHostAddresses", Always, "GetHostAddressesAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.Net.Dns", "Resolve", Always, "GetHostEntryAsync"),
        Row("System.Net.Dns", "GetHostByName", Always, "GetHostEntryAsync"),
        Row("System.Net.Http.HttpClient", "Send", Always, "SendAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.Net.WebClient", "DownloadString", Always, "HttpClient.GetStringAsync"),
        Row("System.Net.WebClient", "DownloadData", Always, "HttpClient.GetByteArrayAsync"),
        Row("System.Net.WebClient", "DownloadFile", Always, "HttpClient with await"),
        Row("System.Net.WebClient", "UploadString", Always, "HttpClient.PostAsync"),
        Row("System.Net.WebClient", "UploadData", Always, "HttpClient.PostAsync"),
        Row("System.Net.WebClient", "UploadFile", Always, "HttpClient.PostAsync"),
        Row("System.Net.WebClient", "UploadValues", Always, "HttpClient.PostAsync"),
        Row("System.Net.WebClient", "OpenRead", Always, "HttpClient.GetStreamAsync"),
        Row("System.Net.WebClient", "OpenWrite", Always, "HttpClient with await"),
        Row("System.Diagnostics.Process", "WaitForExit", UnlessZeroTimeout, "WaitForExitAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.Net.Sockets.Socket", "Connect", Always, "ConnectAsync, or a non-blocking socket registered with the loop"),
        Row("System.Net.Sockets.Socket", "Accept", Always, "a non-blocking listener registered with the loop"),
        Row("System.Net.Sockets.Socket", "Receive", Always, "a non-blocking socket registered with the loop"),
        Row("System.Net.Sockets.Socket", "ReceiveFrom", Always, "a non-blocking socket registered with the loop"),
        Row("System.Net.Sockets.Socket", "ReceiveMessageFrom", Always, "a non-blocking socket registered with the loop"),
        Row("System.Net.Sockets.Socket", "Send", Always, "a non-blocking socket registered with the loop"),
        Row("System.Net.Sockets.Socket", "SendTo", Always, "a non-blocking socket registered with the loop"),
        Row("System.Net.Sockets.Socket", "SendFile", Always, "SendFileAsync"),
        Row("System.Net.Sockets.Socket", "Poll", UnlessZeroTimeout, "register the socket with the loop"),
        Row("System.Net.Sockets.Socket", "Select", UnlessZeroTimeout, "register the sockets with the loop"),
        Row("System.Net.Sockets.TcpClient", "Connect", Always, "ConnectAsync", BlockingFix.AwaitAsyncTwin),
        Row("System.Net.Sockets.TcpListener", "AcceptSocket", Always, "a non-blocking listener registered with the loop"),
        Row("System.Net.Sockets.TcpListener", "AcceptTcpClient", Always, "a non-blocking listener registered with the loop"),
        Row("System.Net.Sockets.UdpClient", "Receive", Always, "ReceiveAsync"),
        Row("System.Net.Sockets.UdpClient", "Send", Always, "SendAsync"),

        // libc, by entry point, whatever binding declares it (Tmds.LibC, Mono.Posix, DllImport, LibraryImport)
        Row(Libc, "sleep", Always, "loop.Schedule(...)"),
        Row(Libc, "usleep", Always, "loop.Schedule(...)"),
        Row(Libc, "nanosleep", Always, "loop.Schedule(...)"),
        Row(Libc, "clock_nanosleep", Always, "loop.Schedule(...)"),
        Row(Libc, "poll", UnlessZeroTimeoutArgument, "register the fds with the loop, or poll with a zero timeout", timeoutArgument: 2),
        Row(Libc, "epoll_wait", UnlessZeroTimeoutArgument, "register the fds with the loop, or wait with a zero timeout", timeoutArgument: 3),
        Row(Libc, "epoll_pwait", UnlessZeroTimeoutArgument, "register the fds with the loop, or wait with a zero timeout", timeoutArgument: 3),
        // epoll_pwait2's timeout is a timespec pointer: NULL waits forever, and the timespec it points to is not read.
        Row(Libc, "epoll_pwait2", UnlessZeroTimeoutArgument, "register the fds with the loop, or wait with a zero timeout", timeoutArgument: 3),
        Row(Libc, "ppoll", Always, "register the fds with the loop"),
        Row(Libc, "select", Always, "register the fds with the loop"),

        // NB0005: synchronous console output
        Console("System.Console", "Write", Always),
        Console("System.Console", "WriteLine", Always),
        Console("System.IO.TextWriter", "Write", OnConsoleWriter),
        Console("System.IO.TextWriter", "WriteLine", OnConsoleWriter),
        Console("System.IO.TextWriter", "Flush", OnConsoleWriter));

    private static BlockingApi Row(string type, string member, BlockingCondition condition, string alternative, BlockingFix fix = BlockingFix.None, string? alternativeName = null, int timeoutArgument = -1)
        => new(type, member, condition, fix == BlockingFix.AwaitAsyncTwin && alternativeName is not null ? alternativeName : alternative, fix, BlockingKind.Blocking, timeoutArgument);

    private static BlockingApi Console(string type, string member, BlockingCondition condition)
        => new(type, member, condition, "log through a non-blocking logger, or loop.Offload(...) the write", BlockingFix.None, BlockingKind.ConsoleWrite);
}
