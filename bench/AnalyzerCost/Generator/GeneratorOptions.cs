namespace NoBlock.Bench.AnalyzerCost;

/// <summary>Command line: <c>--lines N --repo DIR --out DIR</c>.</summary>
internal sealed record GeneratorOptions(int Lines, string Repository, string Output)
{
    public static GeneratorOptions Parse(string[] args)
    {
        int lines = 100_000;
        string repository = Directory.GetCurrentDirectory();
        string? output = null;
        for (int i = 0; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--lines":
                    lines = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
                    i++;
                    break;
                case "--repo":
                    repository = value;
                    i++;
                    break;
                case "--out":
                    output = value;
                    i++;
                    break;
                default:
                    throw new ArgumentException($"unknown argument {args[i]} (use --lines N --repo DIR --out DIR)");
            }
        }

        // Below one module's worth the proportions (handlers per line) no longer hold.
        if (lines < 5_000)
        {
            throw new ArgumentException("--lines must be at least 5000");
        }

        repository = Path.GetFullPath(repository);
        if (!File.Exists(Path.Combine(repository, "runtime", "NoBlock", "NoBlock.csproj")))
        {
            throw new ArgumentException($"{repository} is not the NoBlock repository (no runtime/NoBlock/NoBlock.csproj)");
        }

        return new GeneratorOptions(lines, repository, Path.GetFullPath(output ?? Path.Combine(repository, "bench", "out", $"gen-{lines}")));
    }
}
