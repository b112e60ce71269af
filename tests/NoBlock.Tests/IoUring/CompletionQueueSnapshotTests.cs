using System.Diagnostics;
using NoBlock.Interop;
using NoBlock.IoUring;
using NoBlock.Tests.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace NoBlock.Tests.IoUring;

/// <summary>
/// Reading a ring's completion queue from another thread (what the watchdog's socket snapshot does on an io_uring
/// loop): the figures are the completions waiting, and a read racing the ring's Dispose never touches unmapped
/// memory (a read of an unmapped ring is a SIGSEGV: the test process dies, which fails the run).
/// </summary>
public sealed unsafe class CompletionQueueSnapshotTests(ITestOutputHelper output)
{
    /// <summary>Bounds of the race loops: this many cycles, or this long, whichever comes first.</summary>
    private const int RingCycles = 3000, LoopCycles = 1000;

    private static readonly TimeSpan RaceTime = TimeSpan.FromSeconds(4);

    /// <summary>Completions left waiting in each raced ring, so that every read copies slots, not only the indices.</summary>
    private const int WaitingNops = 48;

    [Fact]
    public void A_peek_sees_what_waits_and_takes_nothing()
    {
        using var ring = Rings.Create(sq: 64, cq: 128);
        for (int i = 0; i < 5; i++)
        {
            IoUringPrep.Nop(Rings.Sqe(ring), 100 + (ulong)i);
        }
        Assert.True(ring.Submit(out var err) == 5, err.ToString());
        Waits.Until(() => ring.Ready == 5, "the NOPs' completions");
        var into = new IoUringCqe[8];
        Assert.Equal(5, ring.PeekCompletions(into, out bool overflowed));
        Assert.False(overflowed);
        Assert.Equal([100ul, 101, 102, 103, 104], into.Take(5).Select(c => c.UserData));
        Assert.Equal(5u, ring.Ready); // peeked, not taken
        Assert.Equal(5, ring.PeekCompletions(into.AsSpan(0, 2), out _)); // how many wait, though fewer were copied
        Assert.Equal(5, ring.TakeCompletions(into));
        Assert.Equal(0, ring.PeekCompletions(into, out _));
        ring.Dispose();
        Assert.Equal(-1, ring.PeekCompletions(into, out _));
    }

    [Fact]
    public void Peeks_from_other_threads_racing_the_rings_Dispose_never_read_an_unmapped_ring()
    {
        IoUringRing? current = null;
        long reads = 0, readsOfDisposed = 0, cycles = 0;
        bool stop = false;
        Exception? failure = null;
        var readers = Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            var into = new IoUringCqe[WaitingNops];
            try
            {
                while (!Volatile.Read(ref stop))
                {
                    var ring = Volatile.Read(ref current);
                    if (ring is null)
                    {
                        continue;
                    }
                    int n = ring.PeekCompletions(into, out _);
                    Interlocked.Increment(ref reads);
                    if (n < 0)
                    {
                        Interlocked.Increment(ref readsOfDisposed);
                    }
                    else if (n != WaitingNops)
                    {
                        throw new InvalidOperationException($"a peek saw {n} completions waiting; {WaitingNops} wait");
                    }
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { IsBackground = true }).ToList();
        readers.ForEach(t => t.Start());
        var sw = Stopwatch.StartNew();
        try
        {
            for (; cycles < RingCycles && sw.Elapsed < RaceTime && failure is null; cycles++)
            {
                var ring = Rings.Create(sq: 64, cq: 64);
                for (int i = 0; i < WaitingNops; i++)
                {
                    IoUringPrep.Nop(Rings.Sqe(ring), (ulong)i);
                }
                Assert.Equal(WaitingNops, ring.SubmitAndWait(WaitingNops, 5_000_000_000, out var err)); // NOPs complete at submission
                Assert.True(ring.Ready == WaitingNops, $"{ring.Ready} NOP completions waiting; {err}");
                long before = Volatile.Read(ref reads);
                Volatile.Write(ref current, ring);
                // Dispose while the readers are at it: wait until they have read this ring (bounded spin).
                var spin = Stopwatch.StartNew();
                while (Volatile.Read(ref reads) < before + 4 && spin.ElapsedMilliseconds < 100)
                {
                    Thread.SpinWait(20);
                }
                ring.Dispose();
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            readers.ForEach(t => t.Join());
        }
        output.WriteLine($"{cycles} rings disposed under {reads} peeks ({readsOfDisposed} found the ring disposed) in {sw.ElapsedMilliseconds} ms");
        Assert.Null(failure);
        Assert.True(readsOfDisposed > 0, "no peek raced a Dispose: the test did not test anything");
    }

    [Fact]
    public void Socket_snapshots_racing_the_loops_Dispose_never_read_an_unmapped_ring()
    {
        // The watchdog's path (EventLoop.CollectSockets, which does not check whether the loop is disposed) against
        // EventLoop.Dispose, which drains and unmaps the ring: end to end. (The backend's disposed flag, set before
        // the drain, keeps most snapshots away from the ring; the test above is the one that breaks when the ring's
        // reference count does: 3 crashes in 3 runs with a plain "disposed?" check in place of it.)
        EventLoop? current = null;
        long snapshots = 0, cycles = 0;
        bool stop = false;
        Exception? failure = null;
        var readers = Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            try
            {
                while (!Volatile.Read(ref stop))
                {
                    if (Volatile.Read(ref current) is { } loop)
                    {
                        _ = loop.CollectSockets(includeCounters: false);
                        Interlocked.Increment(ref snapshots);
                    }
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { IsBackground = true }).ToList();
        readers.ForEach(t => t.Start());
        var sw = Stopwatch.StartNew();
        try
        {
            for (; cycles < LoopCycles && sw.Elapsed < RaceTime && failure is null; cycles++)
            {
                var loop = Backends.Loop(EventLoopBackend.IoUring);
                long before = Volatile.Read(ref snapshots);
                Volatile.Write(ref current, loop);
                var spin = Stopwatch.StartNew();
                while (Volatile.Read(ref snapshots) < before + 4 && spin.ElapsedMilliseconds < 100)
                {
                    Thread.SpinWait(20);
                }
                loop.Dispose();
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            readers.ForEach(t => t.Join());
        }
        output.WriteLine($"{cycles} loops disposed under {snapshots} snapshots in {sw.ElapsedMilliseconds} ms");
        Assert.Null(failure);
        Assert.True(cycles >= 10, $"only {cycles} cycles");
    }
}
