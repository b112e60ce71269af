using System.Runtime.InteropServices;
using NoBlock.Interop;
using Xunit;

namespace NoBlock.Tests.IoUring;

/// <summary>The declared structs match include/uapi/linux/io_uring.h byte for byte (sizes and the offsets the code uses).</summary>
public sealed unsafe class IoUringAbiTests
{
    [Fact]
    public void Struct_sizes_are_the_kernel_headers()
    {
        Assert.Equal(64, sizeof(IoUringSqe));
        Assert.Equal(16, sizeof(IoUringCqe));
        Assert.Equal(40, sizeof(IoSqringOffsets));
        Assert.Equal(40, sizeof(IoCqringOffsets));
        Assert.Equal(120, sizeof(IoUringParams));
        Assert.Equal(16, sizeof(IoUringProbe));
        Assert.Equal(8, sizeof(IoUringProbeOp));
        Assert.Equal(16, sizeof(IoUringBuf));
        Assert.Equal(40, sizeof(IoUringBufReg));
        Assert.Equal(16, sizeof(KernelTimespec));
        Assert.Equal(24, sizeof(IoUringGeteventsArg));
    }

    [Theory]
    [InlineData(nameof(IoUringSqe.Opcode), 0)]
    [InlineData(nameof(IoUringSqe.Flags), 1)]
    [InlineData(nameof(IoUringSqe.IoPrio), 2)]
    [InlineData(nameof(IoUringSqe.Fd), 4)]
    [InlineData(nameof(IoUringSqe.Off), 8)]
    [InlineData(nameof(IoUringSqe.Addr), 16)]
    [InlineData(nameof(IoUringSqe.Len), 24)]
    [InlineData(nameof(IoUringSqe.OpFlags), 28)]
    [InlineData(nameof(IoUringSqe.UserData), 32)]
    [InlineData(nameof(IoUringSqe.BufGroup), 40)]
    [InlineData(nameof(IoUringSqe.Personality), 42)]
    [InlineData(nameof(IoUringSqe.FileIndex), 44)]
    [InlineData(nameof(IoUringSqe.Addr3), 48)]
    public void Sqe_fields_are_at_the_kernel_offsets(string field, int offset) =>
        Assert.Equal(offset, (int)Marshal.OffsetOf<IoUringSqe>(field));

    [Fact]
    public void Params_offsets_blocks_are_where_the_kernel_writes_them()
    {
        Assert.Equal(20, (int)Marshal.OffsetOf<IoUringParams>(nameof(IoUringParams.Features)));
        Assert.Equal(40, (int)Marshal.OffsetOf<IoUringParams>(nameof(IoUringParams.SqOff)));
        Assert.Equal(80, (int)Marshal.OffsetOf<IoUringParams>(nameof(IoUringParams.CqOff)));
        Assert.Equal(16, (int)Marshal.OffsetOf<IoUringGeteventsArg>(nameof(IoUringGeteventsArg.Ts)));
        Assert.Equal(12, (int)Marshal.OffsetOf<IoUringBuf>(nameof(IoUringBuf.Bid)));
        Assert.Equal(14, (int)Marshal.OffsetOf<IoUringBuf>(nameof(IoUringBuf.Resv))); // the buffer ring's tail
    }

    [Fact]
    public void Cqe_buffer_id_is_the_upper_sixteen_bits_of_flags()
    {
        var cqe = new IoUringCqe { Flags = (1234u << IoUringCqeFlags.BufferShift) | IoUringCqeFlags.Buffer | IoUringCqeFlags.More };
        Assert.True(cqe.HasBuffer);
        Assert.True(cqe.HasMore);
        Assert.Equal(1234, cqe.BufferId);
    }
}
