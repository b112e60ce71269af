using NoBlock.Samples.Multiplexing;
using Xunit;

namespace NoBlock.Samples.Tests.Multiplexing;

public sealed class OptionsTests
{
    [Fact]
    public void No_arguments_measure_everything_with_the_default_call_count()
    {
        Options? options = Options.Parse([], out string? error);
        Assert.Null(error);
        Assert.Equal(new Options(null, TimingLimits.DefaultMaxCalls, false), options);
    }

    [Fact]
    public void Numbers_are_read_in_either_form()
    {
        var expected = new Options(5_000, 300, false);
        Assert.Equal(expected, Options.Parse(["--max-fds", "5000", "--iterations", "300"], out _));
        Assert.Equal(expected, Options.Parse(["--max-fds=5,000", "--iterations=300"], out _));
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("-?")]
    public void Help_is_recognised(string flag)
    {
        Assert.True(Options.Parse([flag], out _)!.Help);
    }

    [Theory]
    [InlineData(new[] { "--bogus" }, "Unrecognized command or argument '--bogus'")]
    [InlineData(new[] { "--max-fds" }, "Required argument missing for option: '--max-fds'")]
    [InlineData(new[] { "--max-fds", "lots" }, "--max-fds 'lots' is not a whole number")]
    [InlineData(new[] { "--max-fds", "0" }, "--max-fds 0 is out of range")]
    [InlineData(new[] { "--iterations", "-3" }, "--iterations '-3' is not a whole number")]
    [InlineData(new[] { "--iterations", "2000000" }, "--iterations 2,000,000 is out of range")]
    [InlineData(new[] { "--max-fds", "10", "--max-fds", "20" }, "Option '--max-fds' expects a single argument but 2 were provided")]
    public void Bad_arguments_say_what_is_wrong(string[] args, string expected)
    {
        Assert.Null(Options.Parse(args, out string? error));
        Assert.StartsWith(expected, error);
    }
}
