using NoBlock.Samples.Multiplexing;
using Xunit;

namespace NoBlock.Samples.Tests.Multiplexing;

public sealed class StatisticsTests
{
    [Fact]
    public void Median_of_an_odd_count_is_the_middle_sample()
    {
        Assert.Equal(3, Statistics.Percentile([1, 2, 3, 4, 100], 0.5));
    }

    [Fact]
    public void Median_of_an_even_count_is_the_mean_of_the_middle_two()
    {
        Assert.Equal(2.5, Statistics.Percentile([1, 2, 3, 4], 0.5));
    }

    [Fact]
    public void P90_interpolates_between_ranks()
    {
        double[] samples = Enumerable.Range(1, 11).Select(i => (double)i).ToArray(); // 1..11
        Assert.Equal(10, Statistics.Percentile(samples, 0.9), precision: 10);
    }

    [Fact]
    public void Percentile_of_no_samples_throws()
    {
        Assert.Throws<ArgumentException>(() => Statistics.Percentile([], 0.5));
    }

    [Fact]
    public void Fit_recovers_an_exact_line()
    {
        LineFit? fit = Statistics.FitLine([(100, 12), (1_000, 102), (10_000, 1_002)]);
        Assert.NotNull(fit);
        Assert.Equal(0.1, fit.Slope, precision: 10);
        Assert.Equal(2, fit.Intercept, precision: 8);
        Assert.Equal(5_002, fit.At(50_000), precision: 6);
        Assert.Equal((3, 100.0, 10_000.0), (fit.Points, fit.MinX, fit.MaxX));
    }

    [Fact]
    public void Fit_of_a_flat_cost_has_zero_slope()
    {
        LineFit? fit = Statistics.FitLine([(100, 10), (1_000, 10), (20_000, 10)]);
        Assert.NotNull(fit);
        Assert.Equal(0, fit.Slope, precision: 12);
        Assert.Equal(10, fit.At(50_000), precision: 8);
    }

    [Fact]
    public void Fit_needs_two_distinct_counts()
    {
        Assert.Null(Statistics.FitLine([(100, 10)]));
        Assert.Null(Statistics.FitLine([(100, 10), (100, 12)]));
    }
}
