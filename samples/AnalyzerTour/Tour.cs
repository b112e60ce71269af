// A guided tour of the NoBlock rules. Each finding below is on purpose: build this project and read the
// warnings next to the comments that explain them. The code compiles; it is not meant to run.
using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using NoBlock;

namespace AnalyzerTour;

public sealed class ChatServer
{
    private readonly EventLoop _loop = new(new EventLoopOptions { Name = "chat" });

    // NB0001: a handler that blocks. [EventLoopHandler] says this method runs on the loop thread; while it
    // sleeps, no other connection on the loop is served.
    [EventLoopHandler]
    public void OnTick()
    {
        Thread.Sleep(50);                                  // NB0001 — use loop.Schedule(...) instead
    }

    // NB0001 inside lambdas passed to EventLoop.Post / Register: those parameters are [EventLoopHandler].
    public void Start(int fd)
    {
        _loop.Post(() =>
        {
            var motd = File.ReadAllText("motd.txt");       // NB0001 — synchronous file I/O on the loop
        });

        _loop.Register(fd, IoEvents.Readable, e => HandleMessage(e.Fd));   // NB0002 on HandleMessage(e.Fd)
    }

    // NB0002: the blocking call is three calls away; the warning sits on the call in the handler and shows the
    // chain: handler lambda → HandleMessage → Authorize → LegacyDb.Query (Tour.cs:<line>).
    private void HandleMessage(int fd) => Authorize(fd);

    private void Authorize(int fd) => LegacyDb.Query("select * from users where fd = " + fd);

    // NB0005 (a suggestion, shown in the IDE): console output is synchronous; a slow stdout pipe stalls the loop.
    [EventLoopHandler]
    public void OnClosed()
    {
        Console.WriteLine("connection closed");            // NB0005
    }

    // Silent on purpose: the right way to do the same work.
    [EventLoopHandler]
    public async void OnReadableDoneRight()
    {
        var motd = await File.ReadAllTextAsync("motd.txt");                      // async I/O: fine
        var user = await _loop.Offload(() => LegacyDb.Query("select 1"));        // offloaded: fine
        Task<int> lookup = Task.FromResult(42);
        if (lookup.IsCompleted)
        {
            var id = lookup.Result;                                               // known complete: fine
        }
    }
}

// Listed in NoBlock.Blocking.txt, so calls to Query count as blocking everywhere.
public static class LegacyDb
{
    public static int Query(string sql) => sql.Length;
}

// NB0003 / NB0004: edge-triggered fds must be drained until EAGAIN. With IoEvents.EdgeTriggered (EPOLLET), epoll
// reports the fd once when it becomes ready; a handler that reads once leaves the rest in the socket buffer and
// is never woken for it again.
public sealed unsafe class EdgeTriggeredServer
{
    private readonly EventLoop _loop = new();
    private readonly byte[] _buffer = new byte[4096];

    public void Watch(int connection, int listener)
    {
        _loop.Register(connection, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
        {
            fixed (byte* p = _buffer)
            {
                var n = Tmds.Linux.LibC.read(e.Fd, p, _buffer.Length);   // NB0003 — one read, then return
                Consume(n);
            }
        });

        _loop.Register(listener, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
        {
            var client = Tmds.Linux.LibC.accept4(e.Fd, null, null, Tmds.Linux.LibC.SOCK_NONBLOCK);   // NB0004 — one accept per wakeup
            Adopt(client);
        });

        // Silent: the drain pattern — read until read() returns 0 (EOF) or -1 (EAGAIN or an error).
        _loop.Register(connection, IoEvents.Readable | IoEvents.EdgeTriggered, e =>
        {
            fixed (byte* p = _buffer)
            {
                long n;
                while ((n = Tmds.Linux.LibC.read(e.Fd, p, _buffer.Length)) > 0)
                {
                    Consume(n);
                }
            }
        });
    }

    private static void Consume(long bytes) { }

    private static void Adopt(int fd) { }
}
