using NoBlock.Interop;
using NoBlock.IoUring;
using Xunit;

namespace NoBlock.Tests.IoUring;

/// <summary>Whether the backend can run, and the words it uses when it cannot.</summary>
public sealed class IoUringSupportTests
{
    [Fact]
    public void This_kernel_has_everything_the_backend_uses()
    {
        using var ring = Rings.Create();
        Assert.Null(IoUringSupport.CheckKernel(ring));
    }

    [Fact]
    public void A_seccomp_filter_answering_EPERM_is_named_as_the_reason()
    {
        var (ring, err) = Seccomp.RunDenying(Seccomp.IoUringSetup, Seccomp.EPERM, () =>
        {
            var r = IoUringRing.Create(8, 16, 0, out var e);
            return (r, e);
        });
        Assert.Null(ring);
        Assert.True(err.IsPermissionDenied);
        string why = IoUringSupport.DescribeSetupFailure(err);
        Assert.Contains("EPERM", why);
        if (IoUringSys.ReadDisabledSysctl() is 0 or -1)
        {
            Assert.Contains("seccomp", why);
        }
    }

    [Fact]
    public void A_kernel_without_io_uring_ENOSYS_is_named_as_the_reason()
    {
        var err = Seccomp.RunDenying(Seccomp.IoUringSetup, Seccomp.ENOSYS, () =>
        {
            IoUringRing.Create(8, 16, 0, out var e)?.Dispose();
            return e;
        });
        Assert.True(err.IsNotImplemented);
        string why = IoUringSupport.DescribeSetupFailure(err);
        Assert.Contains("ENOSYS", why);
        Assert.Contains("no io_uring", why);
    }

    [Fact]
    public void The_filter_binds_only_its_own_thread()
    {
        Seccomp.RunDenying(Seccomp.IoUringSetup, Seccomp.EPERM, () => 0);
        using var ring = Rings.Create(); // this thread is not filtered
    }

    [Fact]
    public void A_kernel_missing_an_op_or_a_feature_is_told_which_and_since_when()
    {
        var all = Enumerable.Repeat(true, 256).ToArray();
        uint features = IoUringFeatures.NoDrop | IoUringFeatures.FastPoll | IoUringFeatures.Poll32Bits | IoUringFeatures.ExtArg;
        Assert.Null(IoUringSupport.Judge(all, features, "6.18"));

        var noRecv = (bool[])all.Clone();
        noRecv[(int)IoUringOp.Recv] = false;
        string? why = IoUringSupport.Judge(noRecv, features, "5.4.0");
        Assert.NotNull(why);
        Assert.Contains("IORING_OP_RECV (Linux 6.0", why);
        Assert.Contains("5.4.0", why);

        why = IoUringSupport.Judge(all, features & ~IoUringFeatures.ExtArg, "5.10");
        Assert.Contains("IORING_FEAT_EXT_ARG (Linux 5.11)", why);

        Assert.Contains("IORING_REGISTER_PROBE", IoUringSupport.Judge(null, features, "5.4"));
    }
}
