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
        long readsOfDisposed = 0;
        var (cycles, reads, failure, elapsed) = DisposeUnderReaders(RingCycles, () =>
        {
            var ring = Rings.Create(sq: 64, cq: 64);
            for (int i = 0; i < WaitingNops; i++)
            {
                IoUringPrep.Nop(Rings.Sqe(ring), (ulong)i);
            }
            Assert.Equal(WaitingNops, ring.SubmitAndWait(WaitingNops, 5_000_000_000, out var err)); // NOPs complete at submission
            Assert.True(ring.Ready == WaitingNops, $"{ring.Ready} NOP completions waiting; {err}");
            return ring;
        }, () =>
        {
            var into = new IoUringCqe[WaitingNops];
            return ring =>
            {
                int n = ring.PeekCompletions(into, out _);
                if (n < 0)
                {
                    Interlocked.Increment(ref readsOfDisposed);
                }
                else if (n != WaitingNops)
                {
                    throw new InvalidOperationException($"a peek saw {n} completions waiting; {WaitingNops} wait");
                }
            };
        });
        output.WriteLine($"{cycles} rings disposed under {reads} peeks ({readsOfDisposed} found the ring disposed) in {elapsed} ms");
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
        var (cycles, snapshots, failure, elapsed) = DisposeUnderReaders(LoopCycles, () => Backends.Loop(EventLoopBackend.IoUring),
            () => loop => _ = loop.CollectSockets(includeCounters: false));
        output.WriteLine($"{cycles} loops disposed under {snapshots} snapshots in {elapsed} ms");
        Assert.Null(failure);
        Assert.True(cycles >= 10, $"only {cycles} cycles");
    }

    /// <summary>
    /// The race both tests run: two reader threads call their reader (made once per thread by
    /// <paramref name="newReader"/>) on whatever target is published, in a tight loop, while this thread creates a
    /// target, publishes it, waits (at most 100 ms) until the readers have read it four times, and disposes it under
    /// them; for <paramref name="maxCycles"/> cycles or <see cref="RaceTime"/>, whichever ends first, or until a reader
    /// throws (its exception is returned).
    /// </summary>
    private static (long Cycles, long Reads, Exception? Failure, long ElapsedMs) DisposeUnderReaders<T>(int maxCycles, Func<T> create, Func<Action<T>> newReader)
        where T : class, IDisposable
    {
        T? current = null;
        long reads = 0, cycles = 0;
        bool stop = false;
        Exception? failure = null;
        var readers = Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            var read = newReader();
            try
            {
                while (!Volatile.Read(ref stop))
                {
                    if (Volatile.Read(ref current) is { } target)
                    {
                        read(target);
                        Interlocked.Increment(ref reads);
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
            for (; cycles < maxCycles && sw.Elapsed < RaceTime && failure is null; cycles++)
            {
                var target = create();
                long before = Volatile.Read(ref reads);
                Volatile.Write(ref current, target);
                var spin = Stopwatch.StartNew();
                while (Volatile.Read(ref reads) < before + 4 && spin.ElapsedMilliseconds < 100)
                {
                    Thread.SpinWait(20);
                }
                target.Dispose();
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            readers.ForEach(t => t.Join());
        }
        return (cycles, reads, failure, sw.ElapsedMilliseconds);
    }
}
