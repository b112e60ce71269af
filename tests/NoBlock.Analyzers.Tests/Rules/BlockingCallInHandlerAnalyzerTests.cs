using Xunit;
using NoBlock.Analyzers.Rules;
using NoBlock.Analyzers.Tests.Verification;
using Verify = NoBlock.Analyzers.Tests.Verification.AnalyzerVerifier<NoBlock.Analyzers.Rules.BlockingCallInHandlerAnalyzer>;

namespace NoBlock.Analyzers.Tests.Rules;

/// <summary>NB0001: the catalogue, family by family, in a [EventLoopHandler] method; hits and near-misses.</summary>
public sealed class BlockingCallInHandlerAnalyzerTests
{
    private static string Handler(string body, string usings = "", string members = "") => $$"""
        using System;
        using System.IO;
        using System.Linq;
        using System.Net;
        using System.Net.Http;
        using System.Net.Sockets;
        using System.Diagnostics;
        using System.Threading;
        using System.Threading.Tasks;
        using System.Collections.Concurrent;
        using System.Collections.Generic;
        using NoBlock;
        {{usings}}

        class Server
        {
            {{members}}
            [EventLoopHandler]
            async Task OnReadable(int fd, Task<int> task, ValueTask<int> valueTask, Task plain, Stream stream, SemaphoreSlim semaphore, ManualResetEventSlim mres, WaitHandle handle, object gate, ReaderWriterLockSlim rw, BlockingCollection<int> queue, Socket socket, HttpClient http, Process process, Thread thread)
            {
                await Task.Yield();
                {{body}}
            }
        }
        """;

    [Theory]
    [InlineData("{|NB0001:Thread.Sleep(10)|};")]
    [InlineData("{|NB0001:Thread.Sleep(TimeSpan.FromSeconds(1))|};")]
    [InlineData("{|NB0001:thread.Join()|};")]
    [InlineData("{|NB0001:thread.Join(100)|};")]
    [InlineData("{|NB0001:SpinWait.SpinUntil(() => fd > 0)|};")]
    [InlineData("{|NB0001:plain.Wait()|};")]
    [InlineData("{|NB0001:plain.Wait(100)|};")]
    [InlineData("{|NB0001:Task.WaitAll(plain)|};")]
    [InlineData("{|NB0001:Task.WaitAny(plain)|};")]
    [InlineData("var x = {|NB0001:task.Result|};")]
    [InlineData("var x = {|NB0001:valueTask.Result|};")]
    [InlineData("var x = {|NB0001:task.GetAwaiter().GetResult()|};")]
    [InlineData("{|NB0001:plain.GetAwaiter().GetResult()|};")]
    [InlineData("var x = {|NB0001:task.ConfigureAwait(false).GetAwaiter().GetResult()|};")]
    [InlineData("var x = {|NB0001:valueTask.GetAwaiter().GetResult()|};")]
    [InlineData("var x = {|NB0001:valueTask.ConfigureAwait(false).GetAwaiter().GetResult()|};")]
    public Task Sleeping_joining_and_sync_over_async_are_reported(string statement) => Verify.VerifyAsync(Handler(statement));

    [Theory]
    [InlineData("{|NB0001:handle.WaitOne()|};")]
    [InlineData("{|NB0001:handle.WaitOne(TimeSpan.FromMilliseconds(5))|};")]
    [InlineData("{|NB0001:WaitHandle.WaitAll(new[] { handle })|};")]
    [InlineData("{|NB0001:WaitHandle.WaitAny(new[] { handle })|};")]
    [InlineData("{|NB0001:mres.Wait()|};")]
    [InlineData("{|NB0001:semaphore.Wait()|};")]
    [InlineData("{|NB0001:new CountdownEvent(1).Wait()|};")]
    [InlineData("{|NB0001:new Barrier(2).SignalAndWait()|};")]
    [InlineData("{|NB0001:Monitor.Wait(gate)|};")]
    [InlineData("{|NB0001:Monitor.TryEnter(gate, 100)|};")]
    [InlineData("{|NB0001:rw.TryEnterWriteLock(50)|};")]
    [InlineData("{|NB0001:rw.TryEnterReadLock(TimeSpan.FromSeconds(1))|};")]
    [InlineData("{|NB0001:rw.TryEnterUpgradeableReadLock(-1)|};")]
    [InlineData("var spin = new SpinLock(); bool taken = false; {|NB0001:spin.TryEnter(10, ref taken)|};")]
    [InlineData("var l = new Lock(); {|NB0001:l.TryEnter(10)|};")]
    [InlineData("var l = new Lock(); var ok = {|NB0001:l.TryEnter(TimeSpan.FromMilliseconds(5))|};")]
    [InlineData("{|NB0001:queue.Take()|};")]
    [InlineData("{|NB0001:queue.TryTake(out var item, 1000)|};")]
    [InlineData("foreach (var item in {|NB0001:queue.GetConsumingEnumerable()|}) { }")]
    public Task Waits_on_handles_locks_and_collections_are_reported(string statement) => Verify.VerifyAsync(Handler(statement));

    [Theory]
    [InlineData("var text = {|NB0001:File.ReadAllText(\"a\")|};")]
    [InlineData("{|NB0001:File.WriteAllBytes(\"a\", new byte[1])|};")]
    [InlineData("{|NB0001:File.Copy(\"a\", \"b\")|};")]
    [InlineData("using var f = {|NB0001:File.OpenRead(\"a\")|};")]
    [InlineData("var n = {|NB0001:stream.Read(new byte[4], 0, 4)|};")]
    [InlineData("{|NB0001:stream.Write(new byte[4], 0, 4)|};")]
    [InlineData("{|NB0001:stream.Flush()|};")]
    [InlineData("{|NB0001:stream.CopyTo(Stream.Null)|};")]
    [InlineData("using var fs = {|NB0001:new FileStream(\"a\", FileMode.Open)|}; {|NB0001:fs.Read(new byte[4], 0, 4)|};")]
    [InlineData("using var fs = {|NB0001:new FileStream(\"a\", FileMode.Open, FileAccess.Read, FileShare.Read, 4096, FileOptions.Asynchronous)|};")]
    [InlineData("var fs = (FileStream)stream; {|NB0001:fs.Flush(true)|};")]
    [InlineData("foreach (var f in {|NB0001:Directory.EnumerateFiles(\"/tmp\")|}) { }")]
    [InlineData("var d = {|NB0001:Directory.EnumerateDirectories(\"/tmp\", \"*\")|};")]
    [InlineData("var t = {|NB0001:File.GetLastWriteTimeUtc(\"a\")|};")]
    [InlineData("var a = {|NB0001:File.GetAttributes(\"a\")|};")]
    [InlineData("var files = {|NB0001:new DirectoryInfo(\"/tmp\").GetFiles()|};")]
    [InlineData("var info = new FileInfo(\"a\"); var n = {|NB0001:info.Length|}; var t = {|NB0001:info.LastWriteTimeUtc|};")]
    [InlineData("using var r = {|NB0001:new StreamReader(\"a\")|};")]
    [InlineData("using var w = {|NB0001:new StreamWriter(\"a\")|}; {|NB0001:w.WriteLine(\"x\")|}; {|NB0001:w.Flush()|};")]
    [InlineData("var w = new StreamWriter(stream); {|NB0001:w.Write(\"x\")|};")]
    [InlineData("var r = new BinaryReader(stream); var n = {|NB0001:r.ReadInt32()|};")]
    [InlineData("var w = new BinaryWriter(stream); {|NB0001:w.Write(42)|}; {|NB0001:w.Flush()|};")]
    [InlineData("using var h = {|NB0001:File.OpenHandle(\"a\")|}; var n = {|NB0001:RandomAccess.Read(h, new byte[4], 0)|};")]
    [InlineData("var e = {|NB0001:Dns.GetHostByAddress(\"127.0.0.1\")|};", "#pragma warning disable CS0618\n")]
    [InlineData("using var p = {|NB0001:Process.Start(\"true\")|};")]
    [InlineData("var reader = new StreamReader(stream); var line = {|NB0001:reader.ReadLine()|};")]
    [InlineData("var reader = new StreamReader(stream); var all = {|NB0001:reader.ReadToEnd()|};")]
    [InlineData("var line = {|NB0001:Console.ReadLine()|};")]
    [InlineData("var entry = {|NB0001:Dns.GetHostEntry(\"example.org\")|};")]
    [InlineData("var addresses = {|NB0001:Dns.GetHostAddresses(\"example.org\")|};")]
    [InlineData("using var response = {|NB0001:http.Send(new HttpRequestMessage())|};")]
    [InlineData("{|NB0001:process.WaitForExit()|};")]
    [InlineData("{|NB0001:socket.Connect(IPAddress.Loopback, 80)|};")]
    [InlineData("var n = {|NB0001:socket.Receive(new byte[4])|};")]
    [InlineData("var n = {|NB0001:socket.Send(new byte[4])|};")]
    [InlineData("var client = new TcpClient(); {|NB0001:client.Connect(\"localhost\", 80)|};")]
    [InlineData("var n = {|NB0001:client.GetStream().Read(new byte[4], 0, 4)|};", "var client = new TcpClient();")]
    public Task Synchronous_io_is_reported(string statement, string prefix = "") => Verify.VerifyAsync(Handler(prefix + statement));

    [Theory]
    [InlineData("{|NB0001:Parallel.For(0, 10, i => { })|};")]
    [InlineData("{|NB0001:Parallel.Invoke(() => { })|};")]
    [InlineData("{|NB0001:Enumerable.Range(0, 3).AsParallel().ForAll(i => { })|};")]
    [InlineData("{|NB0001:GC.WaitForPendingFinalizers()|};")]
    public Task Parallel_work_the_caller_waits_for_is_reported(string statement) => Verify.VerifyAsync(Handler(statement));

    [Theory]
    [InlineData("plain.Wait(0);")]
    [InlineData("plain.Wait(TimeSpan.Zero);")]
    [InlineData("handle.WaitOne(0);")]
    [InlineData("handle.WaitOne(TimeSpan.Zero);")]
    [InlineData("semaphore.Wait(0);")]
    [InlineData("mres.Wait(TimeSpan.FromMilliseconds(0));")]
    [InlineData("Monitor.TryEnter(gate);")]
    [InlineData("Monitor.TryEnter(gate, 0);")]
    [InlineData("rw.TryEnterReadLock(0);")]
    [InlineData("queue.TryTake(out var item);")]
    [InlineData("queue.TryTake(out var item, 0);")]
    [InlineData("thread.Join(0);")]
    [InlineData("process.WaitForExit(0);")]
    [InlineData("Task.WaitAll(new[] { plain }, 0);")]
    [InlineData("SpinWait.SpinUntil(() => fd > 0, 0);")]
    [InlineData("var ok = socket.Poll(0, SelectMode.SelectRead);")]
    public Task Zero_timeouts_do_not_block(string statement) => Verify.VerifyAsync(Handler(statement));

    /// <summary>Untimed lock acquisitions are treated like <c>lock</c>: short critical sections, not NB0001.</summary>
    [Theory]
    [InlineData("lock (gate) { fd++; }")]
    [InlineData("Monitor.Enter(gate); Monitor.Exit(gate);")]
    [InlineData("rw.EnterReadLock(); rw.ExitReadLock();")]
    [InlineData("rw.EnterWriteLock(); rw.ExitWriteLock();")]
    [InlineData("rw.EnterUpgradeableReadLock(); rw.ExitUpgradeableReadLock();")]
    [InlineData("var spin = new SpinLock(); bool taken = false; spin.Enter(ref taken); spin.Exit();")]
    [InlineData("var spin = new SpinLock(); bool taken = false; spin.TryEnter(ref taken); spin.TryEnter(0, ref taken);")]
    [InlineData("var l = new Lock(); l.Enter(); l.Exit();")]
    [InlineData("var l = new Lock(); using (l.EnterScope()) { fd++; }")]
    [InlineData("var l = new Lock(); lock (l) { fd++; }")]
    [InlineData("var l = new Lock(); if (l.TryEnter()) l.Exit(); l.TryEnter(0); l.TryEnter(TimeSpan.Zero);")]
    public Task Untimed_lock_acquisitions_are_like_lock(string statement) => Verify.VerifyAsync(Handler(statement));

    [Theory]
    [InlineData("var ms = new MemoryStream(); ms.Write(new byte[4], 0, 4); ms.Flush(); ms.CopyTo(Stream.Null);")]
    [InlineData("var ms = new MemoryStream(new byte[4]); var n = ms.Read(new byte[4], 0, 4);")]
    [InlineData("var reader = new StringReader(\"a\"); var line = reader.ReadLine();")]
    [InlineData("var reader = new StreamReader(new MemoryStream(new byte[4])); var all = reader.ReadToEnd();")]
    [InlineData("var name = Dns.GetHostName();")]
    [InlineData("var exists = File.Exists(\"a\") || Directory.Exists(\"b\") || new FileInfo(\"c\").Exists;")]
    [InlineData("var info = new FileInfo(\"a\"); var name = info.Name + info.DirectoryName + info.FullName + info.Extension;")]
    [InlineData("using var fs = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(IntPtr.Zero, false), FileAccess.Read);")]
    [InlineData("var ms = new MemoryStream(); var w = new StreamWriter(ms); w.Write(\"x\"); w.WriteLine(\"y\"); w.Flush();")]
    [InlineData("var w = new BinaryWriter(new MemoryStream()); w.Write(42); var r = new BinaryReader(new MemoryStream(new byte[4])); var n = r.ReadInt32();")]
    [InlineData("var sw = new StringWriter(); sw.Write(\"x\"); TextWriter unknown = sw; unknown.WriteLine(\"y\"); unknown.Flush();")]
    [InlineData("var parent = Directory.GetParent(\"/tmp/a\"); var cwd = Directory.GetCurrentDirectory();")]
    [InlineData("var name = nameof(Thread.Sleep) + nameof(File.ReadAllText);")]
    [InlineData("var text = await File.ReadAllTextAsync(\"a\"); await Task.Delay(10); await stream.ReadAsync(new byte[4]);")]
    [InlineData("var x = await task; await semaphore.WaitAsync();")]
    [InlineData("Func<int> later = () => task.Result;")]
    [InlineData("Action later = () => Thread.Sleep(10);")]
    public Task In_memory_local_and_asynchronous_forms_are_silent(string statement) => Verify.VerifyAsync(Handler(statement));

    [Theory]
    [InlineData("if (task.IsCompleted) { var x = task.Result; }")]
    [InlineData("if (task.IsCompletedSuccessfully) { var x = task.GetAwaiter().GetResult(); }")]
    [InlineData("var x = task.IsCompleted ? task.Result : 0;")]
    [InlineData("if (task.IsCompleted && fd > 0) { var x = task.Result; }")]
    [InlineData("if (!task.IsCompleted) return; var x = task.Result;")]
    [InlineData("if (task.Status == TaskStatus.RanToCompletion) { var x = task.Result; }")]
    [InlineData("if (!task.IsCompleted) { return; } else { var x = task.Result; }")]
    [InlineData("await task; var x = task.Result;")]
    [InlineData("await Task.WhenAll(task, plain); var x = task.Result; plain.Wait();")]
    [InlineData("await Task.WhenAll(new[] { plain }); plain.GetAwaiter().GetResult();")]
    [InlineData("var done = await Task.WhenAny(task, Task.FromResult(1)); var x = done.Result;")]
    [InlineData("await Task.WhenAny(task); var x = task.Result;")]
    [InlineData("var c = task.ContinueWith(t => t.Result + 1);")]
    [InlineData("var c = task.ContinueWith(_ => task.Result + 1);")]
    [InlineData("var valueTaskResult = valueTask.IsCompletedSuccessfully ? valueTask.Result : 0;")]
    public Task Results_of_tasks_known_to_be_complete_are_silent(string statement) => Verify.VerifyAsync(Handler(statement));

    [Theory]
    [InlineData("if (plain.IsCompleted) { var x = {|NB0001:task.Result|}; }")]
    [InlineData("if (!task.IsCompleted) { var x = {|NB0001:task.Result|}; }")]
    [InlineData("var other = Task.FromResult(1); await Task.WhenAll(other); var x = {|NB0001:task.Result|};")]
    [InlineData("await Task.WhenAny(task, Task.FromResult(1)); var x = {|NB0001:task.Result|};")]
    [InlineData("var x = {|NB0001:task.Result|}; await task;")]
    public Task Completion_of_another_task_or_later_does_not_count(string statement) => Verify.VerifyAsync(Handler(statement));

    [Fact]
    public Task A_member_merely_named_Result_is_not_a_task() => Verify.VerifyAsync(Handler(
        "var r = new Outcome().Result; var g = new Outcome().GetResult(); new Outcome().Wait();",
        members: "class Outcome { public int Result => 1; public int GetResult() => 2; public void Wait() { } }"));

    [Fact]
    public Task Conditional_methods_compiled_out_are_not_calls() => Verify.VerifyAsync(Handler(
        "Trace(); TraceRelease();",
        members: """
            [Conditional("NOBLOCK_NEVER_DEFINED")] static void Trace() => Thread.Sleep(10);
            [Conditional("NOBLOCK_NEVER_DEFINED")] static void TraceRelease() => File.ReadAllText("log");
            """));

    [Fact]
    public Task Conditional_methods_whose_symbol_is_defined_are_calls() => Verify.VerifyAsync("#define NOBLOCK_ON\n" + Handler(
        "{|NB0002:Trace()|};",
        members: """[Conditional("NOBLOCK_ON")] static void Trace() => Thread.Sleep(10);"""));

    [Fact]
    public Task Message_names_the_api_the_handler_and_the_fix() => Verify.VerifyAsync(Handler("{|#0:Thread.Sleep(10)|};"),
        new Microsoft.CodeAnalysis.Testing.DiagnosticResult(BlockingCallInHandlerAnalyzer.BlockingCallRule).WithLocation(0)
            .WithArguments("Thread.Sleep", "'Server.OnReadable'", "await Task.Delay(...) or loop.Schedule(...)"));

    [Fact]
    public Task The_runtimes_socket_snapshot_is_blocking_in_a_handler_and_its_async_twin_is_not() => Verify.VerifyAsync(Handler(
        "var d = {|NB0001:loop.GetSocketDiagnostics()|}; var e = await loop.GetSocketDiagnosticsAsync();",
        members: "EventLoop loop = new EventLoop();"));

    [Fact]
    public Task Code_outside_handlers_is_silent() => Verify.VerifyAsync("""
        using System.IO;
        using System.Threading;
        using System.Threading.Tasks;

        class Startup
        {
            void Configure(Task<int> task)
            {
                Thread.Sleep(10);
                var config = File.ReadAllText("config.json");
                var x = task.Result;
            }
        }
        """);

    [Fact]
    public Task An_unrelated_attribute_does_not_make_a_handler() => Verify.VerifyAsync("""
        using System;
        using System.Threading;

        class OnLoopAttribute : Attribute { }

        class Server
        {
            [Obsolete, OnLoop]
            void OnReadable() => Thread.Sleep(10);
        }
        """);
}
