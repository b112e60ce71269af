using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Tmds.Linux;
using Xunit;
using static Tmds.Linux.LibC;

[assembly: CollectionBehavior(DisableTestParallelization = true)] // fd counting and fd-number reuse need a quiet process

namespace NoBlock.Tests.Runtime;

/// <summary>Generous waits: tests wait for conditions, never assert how long something took.</summary>
internal static class Waits
{
    public static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    /// <param name="onTimeout">What the failure message adds, read when the wait has timed out (e.g. the last state seen).</param>
    public static void Until(Func<bool> condition, string what, TimeSpan? timeout = null, Func<string>? onTimeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Long);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"Timed out waiting for: {what}{(onTimeout is null ? "" : "; " + onTimeout())}");
            }
            Thread.Sleep(1);
        }
    }

    public static T Result<T>(Task<T> task, string what)
    {
        if (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(Long))
        {
            throw new Xunit.Sdk.XunitException($"Timed out waiting for: {what}");
        }
        return task.GetAwaiter().GetResult();
    }

    public static void Done(Task task, string what)
    {
        if (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(Long))
        {
            throw new Xunit.Sdk.XunitException($"Timed out waiting for: {what}");
        }
        task.GetAwaiter().GetResult();
    }
}

/// <summary>Runs a loop on its own thread for the length of a test; Dispose stops it, joins, disposes.</summary>
internal sealed class LoopThread : IDisposable
{
    private readonly Thread _thread;
    private Exception? _runError;

    public LoopThread(EventLoopOptions? options = null, Action<EventLoop>? beforeRun = null)
        : this(new EventLoop(options), beforeRun)
    {
    }

    public LoopThread(EventLoop loop, Action<EventLoop>? beforeRun = null)
    {
        Loop = loop;
        beforeRun?.Invoke(Loop);
        _thread = new Thread(() =>
        {
            ManagedThreadId = Environment.CurrentManagedThreadId;
            try
            {
                Loop.Run();
            }
            catch (Exception ex)
            {
                _runError = ex;
            }
        }) { IsBackground = true, Name = "test-loop" };
        _thread.Start();
        Waits.Until(() => Loop.IsRunning, "the loop to start");
    }

    public EventLoop Loop { get; }

    public int ManagedThreadId { get; private set; }

    public Exception? RunError => _runError;

    /// <summary>Runs a function on the loop and waits for its result (the test thread may block; the loop must not).</summary>
    public T Invoke<T>(Func<T> func)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Loop.Post(() =>
        {
            try
            {
                tcs.SetResult(func());
            }
            catch (Exception ex)
            {
                tcs.SetException(ex);
            }
        });
        return Waits.Result(tcs.Task, "work posted to the loop");
    }

    public void Invoke(Action action) => Invoke(() =>
    {
        action();
        return 0;
    });

    /// <summary>
    /// Lets the loop complete at least <paramref name="turns"/> full turns (each includes one epoll_wait and its
    /// dispatch), so that anything level-triggered would have been reported by then. No timing involved.
    /// </summary>
    public void RunTurns(int turns = 5)
    {
        for (int i = 0; i < turns; i++)
        {
            Invoke(() => 0);
        }
    }

    public void Dispose()
    {
        Loop.Stop();
        if (!_thread.Join(Waits.Long))
        {
            throw new Xunit.Sdk.XunitException("The loop thread did not stop.");
        }
        Loop.Dispose();
    }
}

/// <summary>Records the events a handler sees, thread-safely, and checks them.</summary>
internal sealed class EventRecorder
{
    private readonly ConcurrentQueue<IoEvent> _events = new();
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public IoEvent[] Events => _events.ToArray();

    public void Record(IoEvent e)
    {
        _events.Enqueue(e);
        Interlocked.Increment(ref _count);
    }

    /// <summary>Waits until at least <paramref name="atLeast"/> events carrying <paramref name="expected"/> arrived.</summary>
    public void ExpectEvents(IoEvents expected, int atLeast = 1)
    {
        Waits.Until(() => _events.Count(e => (e.Events & expected) == expected) >= atLeast, $"{atLeast} event(s) with {expected}");
    }

    /// <summary>After <paramref name="loop"/> ran several more turns, no event beyond <paramref name="expectedCount"/> arrived.</summary>
    public void ExpectNoMoreEvents(LoopThread loop, int expectedCount)
    {
        loop.RunTurns();
        Assert.Equal(expectedCount, Count);
    }
}

/// <summary>Real fds for the tests: pipes, eventfds, fd counting.</summary>
internal static unsafe class Fds
{
    public static (int Read, int Write) Pipe(bool nonBlocking = true)
    {
        int* fds = stackalloc int[2];
        int rc = pipe2(fds, O_CLOEXEC | (nonBlocking ? O_NONBLOCK : 0));
        Assert.Equal(0, rc);
        return (fds[0], fds[1]);
    }

    public static int EventFd() => eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    public static void Close(int fd) => close(fd);

    public static void Write(int fd, int count = 1)
    {
        byte* buf = stackalloc byte[count];
        for (int i = 0; i < count; i++)
        {
            buf[i] = (byte)i;
        }
        Assert.Equal(count, (int)(long)write(fd, buf, count));
    }

    public static int Read(int fd, int max = 1)
    {
        byte* buf = stackalloc byte[max];
        return (int)(long)read(fd, buf, max);
    }

    /// <summary>Reads until EAGAIN; returns how many bytes.</summary>
    public static int Drain(int fd)
    {
        byte* buf = stackalloc byte[4096];
        int total = 0;
        while (true)
        {
            long n = read(fd, buf, 4096);
            if (n <= 0)
            {
                return total;
            }
            total += (int)n;
        }
    }

    /// <summary>A read on a non-blocking fd with nothing to read fails with EAGAIN (it does not block, nor succeed).</summary>
    public static void AssertWouldBlock(int fd)
    {
        byte b;
        long n = read(fd, &b, 1);
        int err = errno;
        Assert.Equal(-1L, n);
        Assert.Equal(EAGAIN, err);
    }

    public static void Dup2(int from, int to) => Assert.Equal(to, dup2(from, to));

    /// <summary>
    /// Open sockets, pipes, eventfds and epoll fds of this process: what the runtime could leak. (Files are left
    /// out: the .NET host maps assemblies as it loads them, which opens fds at unpredictable moments.)
    /// </summary>
    public static int OpenCount() => Directory.GetFiles("/proc/self/fd").Count(f =>
    {
        try
        {
            var target = new FileInfo(f).LinkTarget ?? "";
            return target.StartsWith("socket:") || target.StartsWith("pipe:") || target.StartsWith("anon_inode:");
        }
        catch (IOException)
        {
            return false; // closed while we looked
        }
    });

    /// <summary>What each open fd is (for failure messages): "12 -> socket:[1234]".</summary>
    public static string Describe() => string.Join(", ", Directory.GetFiles("/proc/self/fd").Where(f => !(new FileInfo(f).LinkTarget ?? "").StartsWith('/')).Select(f =>
    {
        try
        {
            return $"{Path.GetFileName(f)} -> {new FileInfo(f).LinkTarget}";
        }
        catch (IOException)
        {
            return Path.GetFileName(f);
        }
    }));

    public static int OpenFile(string path)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            return open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
        }
    }

    /// <summary>Waits until the process's fd count is back to <paramref name="expected"/> (closes by other threads land asynchronously).</summary>
    public static void ExpectOpenCount(int expected)
    {
        try
        {
            Waits.Until(() => OpenCount() <= expected, $"fd count back to {expected}", TimeSpan.FromSeconds(10));
        }
        catch (Xunit.Sdk.XunitException)
        {
        }
        int now = OpenCount();
        Assert.True(expected == now, $"expected {expected} open fds, found {now}: {Describe()}");
    }
}

/// <summary>
/// The test classes that count the process's open fds (<see cref="Fds.ExpectOpenCount"/>): one collection run alone,
/// after the parallel ones, so that sockets another class opens meanwhile are never counted as a leak of theirs
/// (under load such counts failed now and then while a parallel class held connections).
/// </summary>
[Xunit.CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FdCounting
{
    public const string Name = "counts the process's open fds";
}
