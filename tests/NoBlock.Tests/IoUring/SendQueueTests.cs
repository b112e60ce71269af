using NoBlock.IoUring;
using Xunit;

namespace NoBlock.Tests.IoUring;

public sealed unsafe class SendQueueTests
{
    private static byte[] Bytes(int n, int seed = 0) => Enumerable.Range(seed, n).Select(i => (byte)i).ToArray();

    private static byte[] Take(SendQueue q, int? sendOnly = null)
    {
        Assert.True(q.TryStartSend(out byte* p, out int n));
        var copy = new ReadOnlySpan<byte>(p, n).ToArray();
        q.Completed(sendOnly ?? n);
        return sendOnly is int k ? copy[..k] : copy;
    }

    [Fact]
    public void Bytes_come_out_in_order_one_send_at_a_time_and_every_segment_goes_back()
    {
        var pool = new SegmentPool();
        var q = new SendQueue(pool);
        var all = Bytes(10_000);
        q.Append(all.AsSpan(0, 100));
        Assert.True(q.TryStartSend(out byte* p, out int n));
        Assert.Equal(100, n);
        Assert.False(q.TryStartSend(out _, out _)); // one in flight at a time
        q.Append(all.AsSpan(100)); // appended while the kernel reads the first range: nothing moves
        Assert.Equal(10_000, q.Length);
        Assert.Equal(all.AsSpan(0, 100).ToArray(), new ReadOnlySpan<byte>(p, 100).ToArray());
        q.Completed(100);
        var rest = new List<byte>();
        while (q.Length > 0)
        {
            rest.AddRange(Take(q));
        }
        Assert.Equal(all.AsSpan(100).ToArray(), rest);
        Assert.Equal(0, pool.Outstanding);
        Assert.False(q.TryStartSend(out _, out _));
    }

    [Fact]
    public void A_short_send_leaves_the_rest_queued_for_the_next_one()
    {
        var pool = new SegmentPool();
        var q = new SendQueue(pool);
        var all = Bytes(1000);
        q.Append(all);
        var first = Take(q, sendOnly: 300);
        Assert.Equal(700, q.Length);
        var second = Take(q);
        Assert.Equal(all, first.Concat(second));
        Assert.Equal(0, pool.Outstanding);
    }

    [Fact]
    public void Dropping_with_a_send_in_flight_keeps_its_segment_until_the_completion()
    {
        var pool = new SegmentPool();
        var q = new SendQueue(pool);
        q.Append(Bytes(SegmentPool.SmallSize * 3));
        Assert.True(q.TryStartSend(out _, out _));
        q.Drop();
        Assert.Equal(0, q.Length);
        Assert.True(pool.Outstanding > 0, "the in-flight segment is still the kernel's");
        q.Completed(10);
        Assert.Equal(0, pool.Outstanding);
    }

    [Fact]
    public void Dropping_with_nothing_in_flight_returns_everything_at_once()
    {
        var pool = new SegmentPool();
        var q = new SendQueue(pool);
        q.Append(Bytes(100_000));
        q.Drop();
        Assert.Equal(0, pool.Outstanding);
    }

    [Fact]
    public void Small_replies_use_small_segments_and_bulk_uses_large_ones()
    {
        var pool = new SegmentPool();
        var q = new SendQueue(pool);
        q.Append(Bytes(64));
        Assert.True(q.TryStartSend(out _, out int n));
        Assert.Equal(64, n);
        q.Completed(64);
        q.Append(Bytes(100_000));
        Assert.True(q.TryStartSend(out _, out n));
        Assert.Equal(SegmentPool.LargeSize, n);
    }
}
