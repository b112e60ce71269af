namespace NoBlock.Samples.Multiplexing;

/// <summary>The arithmetic behind the table: percentiles of timed calls and the straight-line fit.</summary>
internal static class Statistics
{
    /// <summary>
    /// The <paramref name="quantile"/> (0..1) of <paramref name="sorted"/> (ascending), interpolating linearly
    /// between the two nearest ranks, so the median of an even count is the mean of the middle two.
    /// </summary>
    public static double Percentile(ReadOnlySpan<double> sorted, double quantile)
    {
        if (sorted.IsEmpty)
        {
            throw new ArgumentException("no samples", nameof(sorted));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(quantile, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quantile, 1);
        double rank = quantile * (sorted.Length - 1);
        int below = (int)Math.Floor(rank);
        int above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (sorted[above] - sorted[below]) * (rank - below);
    }

    /// <summary>
    /// Least-squares line <c>y = intercept + slope * x</c> through the points. Null with fewer than two
    /// distinct x values (no line is determined).
    /// </summary>
    public static LineFit? FitLine(IReadOnlyList<(double X, double Y)> points)
    {
        if (points.Count < 2)
        {
            return null;
        }
        double meanX = points.Average(p => p.X);
        double meanY = points.Average(p => p.Y);
        double sxx = points.Sum(p => (p.X - meanX) * (p.X - meanX));
        double sxy = points.Sum(p => (p.X - meanX) * (p.Y - meanY));
        if (sxx == 0)
        {
            return null;
        }
        double slope = sxy / sxx;
        return new LineFit(meanY - slope * meanX, slope, points.Count, points.Min(p => p.X), points.Max(p => p.X));
    }
}

/// <summary>A fitted line <c>y = Intercept + Slope * x</c>, and the x range of the points it was fitted on.</summary>
internal sealed record LineFit(double Intercept, double Slope, int Points, double MinX, double MaxX)
{
    public double At(double x) => Intercept + Slope * x;
}
