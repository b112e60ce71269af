using System.Runtime.InteropServices;
using NoBlock.Samples.Multiplexing;
using NoBlock.Samples.Multiplexing.Interop;
using NoBlock.Samples.Multiplexing.Mechanisms;
using Xunit;

namespace NoBlock.Samples.Tests.Multiplexing;

/// <summary>select must never touch an fd at or above FD_SETSIZE: that write would land past the fd_set.</summary>
public sealed class FdSetTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(1023)]
    public void Fds_below_FD_SETSIZE_go_in_and_come_out(int fd)
    {
        var set = default(Sys.FdSet);
        Assert.False(set.Contains(fd));
        set.Add(fd);
        Assert.True(set.Contains(fd));
        Assert.False(set.Contains(fd == 0 ? 1 : fd - 1));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1024)]
    [InlineData(20_000)]
    public void Fds_outside_the_set_are_refused(int fd)
    {
        var set = default(Sys.FdSet);
        Assert.Throws<ArgumentOutOfRangeException>(() => set.Add(fd));
        Assert.Throws<ArgumentOutOfRangeException>(() => set.Contains(fd));
    }

    [Fact]
    public unsafe void Select_refuses_a_highest_fd_at_FD_SETSIZE()
    {
        Sys.FdSet* set = (Sys.FdSet*)NativeMemory.AllocZeroed((nuint)sizeof(Sys.FdSet));
        try
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => Sys.Select(Sys.FdSetSize, set));
        }
        finally
        {
            NativeMemory.Free(set);
        }
    }

    [Fact]
    public void A_row_with_fds_past_FD_SETSIZE_cannot_be_watched_by_select()
    {
        // 1,100 fds cannot all sit below 1024 (stdin/stdout/stderr alone take three numbers).
        using RegisteredFds fds = RegisteredFds.Open(1_100, progress: null, CancellationToken.None);
        Assert.True(fds.HighestFd >= Sys.FdSetSize);
        Assert.False(SelectWait.CanWatch(fds));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SelectWait(fds));
    }
}
