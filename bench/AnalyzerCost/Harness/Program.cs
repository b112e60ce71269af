using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Diagnostics.Telemetry;
using Microsoft.CodeAnalysis.Text;

namespace NoBlock.Bench.AnalyzerCost;

/// <summary>
/// What NoBlock's analyzers cost on one code base, measured in memory: the sources of a folder are parsed once, then
/// every round compiles them afresh (a new <see cref="CSharpCompilation"/> over the same trees, so nothing bound is
/// shared) in each configuration, the order rotated every round:
///   none     compiler diagnostics only (<c>Compilation.GetDiagnostics</c>: declare, bind, flow analysis — no IL)
///   sdk      the same plus the SDK's default analyzers (Microsoft.CodeAnalysis.NetAnalyzers at the SDK's default
///            analysis level), through <c>CompilationWithAnalyzers.GetAllDiagnosticsAsync</c>, concurrent as csc runs them
///   all      sdk plus NoBlock's analyzers
///   noblock  NoBlock's analyzers alone
///   all-baseline / noblock-baseline   the same with another build of NoBlock (--baseline), for before/after pairs
///   summary  none plus NoBlock's source generators (the cross-assembly summary), run as csc runs them: the
///            generator driver over the compilation, then the compiler's diagnostics of the updated compilation
///   generator  the generator driver alone (no compiler diagnostics): what the generator itself costs
///   summary-baseline / generator-baseline   the same with the --baseline build's generators
/// and records wall time and this process's CPU time (user + sys) per compile. After the timed rounds one untimed
/// compile per analyzer configuration asks the driver for per-analyzer times (what -p:ReportAnalyzer=true prints)
/// and counts NoBlock's findings. Nothing is emitted: no IL, no assembly.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var options = Options.Parse(args);
        if (options is null)
        {
            Console.Error.WriteLine(Options.Usage);
            return 2;
        }

        var trees = Parse(options);
        var references = References(options);
        var additional = options.AdditionalFiles.Select(path => (AdditionalText)new FileText(path)).ToImmutableArray();
        var noblock = LoadAnalyzers(options.NoBlock);
        // Another build of NoBlock (e.g. main's) in its own load context, for paired before/after rounds.
        var baseline = LoadAnalyzers(options.Baseline, isolated: true);
        var sdk = options.SdkAnalyzers.SelectMany(path => LoadAnalyzers(path)).ToImmutableArray();
        var generators = LoadGenerators(options.NoBlock);
        var baselineGenerators = LoadGenerators(options.Baseline, isolated: true);
        var severities = GlobalConfigSeverities(options.GlobalConfig);
        long lines = trees.Sum(tree => (long)tree.GetText().Lines.Count);
        Console.Error.WriteLine($"{options.Name}: {trees.Length} files, {lines} lines, {references.Length} references, " +
            $"{noblock.Length} NoBlock analyzers, {sdk.Length} SDK analyzers, {severities.Count} severities from the global config");

        var compilationOptions = new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary,
            allowUnsafe: options.Unsafe,
            nullableContextOptions: options.Nullable ? NullableContextOptions.Enable : NullableContextOptions.Disable,
            concurrentBuild: true)
            .WithSpecificDiagnosticOptions(severities);
        CSharpCompilation NewCompilation() => CSharpCompilation.Create(options.Name, trees, references, compilationOptions);

        ImmutableArray<DiagnosticAnalyzer> AnalyzersOf(string config) => config switch
        {
            "none" => [],
            "sdk" => sdk,
            "all" => sdk.AddRange(noblock),
            "noblock" => noblock,
            "all-baseline" => sdk.AddRange(baseline),
            "noblock-baseline" => baseline,
            _ => throw new ArgumentException($"unknown configuration {config}"),
        };

        var errors = NewCompilation().GetDiagnostics().Count(d => d.Severity == DiagnosticSeverity.Error);
        Console.Error.WriteLine($"{options.Name}: {errors} compile errors (measured as they are)");

        // Warm-up: JIT-compile the compiler and the analyzers once, so the timed rounds compare analysis, not JIT.
        foreach (var config in options.Configs)
        {
            Run(config, NewCompilation());
        }

        using var runs = options.Out is null ? null : new StreamWriter(options.Out, append: true);
        for (int round = 1; round <= options.Rounds; round++)
        {
            var order = options.Configs.Skip((round - 1) % options.Configs.Length)
                .Concat(options.Configs.Take((round - 1) % options.Configs.Length));
            foreach (var config in order)
            {
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers();
                var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
                var compilation = NewCompilation();
                var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                Run(config, compilation);
                clock.Stop();
                var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
                var row = string.Join('\t', options.Name, lines, round, config,
                    clock.Elapsed.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture),
                    cpu.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture), load);
                Console.WriteLine(row);
                runs?.WriteLine(row);
                runs?.Flush();
            }
        }

        // The summary configuration's output: how many exposed members the generator recorded.
        // (and, with a baseline, whether both builds recorded the same text).
        string? mineText = null, baselineText = null;
        foreach (var isBaseline in new[] { false, true })
        {
            var name = isBaseline ? "summary-baseline" : "summary";
            if (!options.Configs.Any(c => c == name || c == name.Replace("summary", "generator")))
            {
                continue;
            }
            var generated = Generate(NewCompilation(), isBaseline).Generated;
            var recorded = generated.Sum(text => text.Lines.Count(line => line.ToString().Contains("NoBlock.Blocking ", StringComparison.Ordinal)));
            Console.Error.WriteLine($"{options.Name} [{name}] {(isBaseline ? baselineGenerators : generators).Length} generators, {generated.Length} generated files, {recorded} members recorded");
            var text = string.Concat(generated.Select(g => g.ToString()));
            if (isBaseline) { baselineText = text; } else { mineText = text; }
        }
        if (mineText is not null && baselineText is not null)
        {
            Console.Error.WriteLine($"{options.Name} summaries {(mineText == baselineText ? "identical" : "DIFFER")} between the two builds");
        }

        // The second view: per-analyzer times as the driver measures them (-p:ReportAnalyzer=true), and the findings.
        foreach (var config in options.Configs.Where(c => !c.StartsWith("summary", StringComparison.Ordinal) && !c.StartsWith("generator", StringComparison.Ordinal) && c != "none"))
        {
            var (diagnostics, telemetry) = Compile(NewCompilation(), AnalyzersOf(config), additional, telemetry: true);
            var mine = config.EndsWith("-baseline", StringComparison.Ordinal) ? baseline : noblock;
            var nb = telemetry.Where(t => mine.Contains(t.Key)).Sum(t => t.Value.ExecutionTime.TotalSeconds);
            var all = telemetry.Sum(t => t.Value.ExecutionTime.TotalSeconds);
            Console.Error.WriteLine($"{options.Name} [{config}] analyzer time (ReportAnalyzer view): all {all:F3} s, NoBlock {nb:F3} s");
            foreach (var (analyzer, info) in telemetry.Where(t => mine.Contains(t.Key)).OrderByDescending(t => t.Value.ExecutionTime))
            {
                Console.Error.WriteLine($"  {info.ExecutionTime.TotalSeconds,8:F3} s  {analyzer.GetType().FullName}");
            }
            var findings = diagnostics.Where(d => d.Id.StartsWith("NB", StringComparison.Ordinal) || d.Id == "AD0001")
                .GroupBy(d => d.Id).OrderBy(g => g.Key)
                .Select(g => $"{g.Key} {g.Select(d => d.Location.GetLineSpan().ToString()).Distinct().Count()}");
            Console.Error.WriteLine($"  findings: {string.Join(", ", findings)}");
            if (options.Report is not null)
            {
                File.AppendAllLines(options.Report, telemetry.Select(t => string.Join('\t', options.Name, config,
                    t.Key.GetType().FullName, t.Value.ExecutionTime.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture))));
                File.AppendAllLines(options.Report, diagnostics.Where(d => d.Id.StartsWith("NB", StringComparison.Ordinal) || d.Id == "AD0001")
                    .Select(d => string.Join('\t', options.Name, config, "finding", d.Id, d.Location.GetLineSpan().ToString(),
                        // The message too (an NB0002 chain), so two builds' findings compare by what they say, not only where.
                        d.GetMessage(CultureInfo.InvariantCulture).Replace('\t', ' ').Replace('\n', ' '))).Distinct());
            }
        }
        return 0;

        void Run(string config, CSharpCompilation compilation)
        {
            if (config is "summary" or "summary-baseline")
            {
                Generate(compilation, config.EndsWith("-baseline", StringComparison.Ordinal)).Updated.GetDiagnostics();
            }
            else if (config is "generator" or "generator-baseline")
            {
                Generate(compilation, config.EndsWith("-baseline", StringComparison.Ordinal));
            }
            else
            {
                Compile(compilation, AnalyzersOf(config), additional, telemetry: false);
            }
        }

        (Compilation Updated, ImmutableArray<SourceText> Generated) Generate(CSharpCompilation compilation, bool baseline = false)
        {
            GeneratorDriver driver = CSharpGeneratorDriver.Create(baseline ? baselineGenerators : generators, additional,
                trees.Length > 0 ? (CSharpParseOptions)trees[0].Options : CSharpParseOptions.Default);
            driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var updated, out _);
            return (updated, [.. driver.GetRunResult().Results.SelectMany(r => r.GeneratedSources).Select(s => s.SourceText)]);
        }
    }

    private static ImmutableArray<ISourceGenerator> LoadGenerators(string? path, bool isolated = false)
        => path is null ? [] : [.. TypesOf(path, isolated)
            .Where(t => !t.IsAbstract && typeof(IIncrementalGenerator).IsAssignableFrom(t)
                && t.GetCustomAttributes<GeneratorAttribute>().Any(a => a.Languages.Contains(LanguageNames.CSharp)))
            .OrderBy(t => t.FullName, StringComparer.Ordinal)
            .Select(t => ((IIncrementalGenerator)Activator.CreateInstance(t)!).AsSourceGenerator())];

    private static readonly Dictionary<(string, bool), Type[]> s_loaded = [];

    /// <summary>The types of an analyzer assembly, loaded once per path (isolated: in a load context of its own).</summary>
    private static Type[] TypesOf(string path, bool isolated)
    {
        var full = Path.GetFullPath(path);
        if (s_loaded.TryGetValue((full, isolated), out var loaded))
        {
            return loaded;
        }
        var assembly = isolated
            ? new Isolated(Path.GetDirectoryName(full)!).LoadFromAssemblyPath(full)
            : Assembly.LoadFrom(full);
        Type[] types;
        try
        {
            types = assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            types = [.. e.Types.Where(t => t is not null).Cast<Type>()];
        }
        return s_loaded[(full, isolated)] = types;
    }

    private static (ImmutableArray<Diagnostic> Diagnostics, ImmutableDictionary<DiagnosticAnalyzer, AnalyzerTelemetryInfo> Telemetry) Compile(
        CSharpCompilation compilation, ImmutableArray<DiagnosticAnalyzer> analyzers, ImmutableArray<AdditionalText> additional, bool telemetry)
    {
        if (analyzers.IsEmpty)
        {
            return (compilation.GetDiagnostics(), ImmutableDictionary<DiagnosticAnalyzer, AnalyzerTelemetryInfo>.Empty);
        }
        var withAnalyzers = compilation.WithAnalyzers(analyzers, new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(additional), onAnalyzerException: null, concurrentAnalysis: true,
            logAnalyzerExecutionTime: telemetry, reportSuppressedDiagnostics: false));
        if (!telemetry)
        {
            return (withAnalyzers.GetAllDiagnosticsAsync().GetAwaiter().GetResult(), ImmutableDictionary<DiagnosticAnalyzer, AnalyzerTelemetryInfo>.Empty);
        }

        // GetAllDiagnosticsAsync runs a driver of its own that records no execution times (the per-analyzer times then
        // read 0); GetAnalysisResultAsync keeps them in its result. Its diagnostics are the analyzers' only, which is
        // all the findings count needs.
        var result = withAnalyzers.GetAnalysisResultAsync(CancellationToken.None).GetAwaiter().GetResult();
        return (result.GetAllDiagnostics(), result.AnalyzerTelemetryInfo);
    }

    private static ImmutableArray<SyntaxTree> Parse(Options options)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest, DocumentationMode.Parse, SourceCodeKind.Regular, options.Defines);
        var files = options.Sources
            .SelectMany(dir => Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories))
            .Where(path => !options.Excludes.Any(exclude => path.Replace('\\', '/').Contains(exclude, StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal)
            .ToList();
        return [.. files.AsParallel().AsOrdered().Select(path =>
            CSharpSyntaxTree.ParseText(SourceText.From(File.ReadAllText(path), System.Text.Encoding.UTF8), parse, path))];
    }

    private static ImmutableArray<MetadataReference> References(Options options)
    {
        // The reference pack of the runtime this harness runs on: <dotnet>/packs/Microsoft.NETCore.App.Ref/<version>/ref/net<major>.<minor>.
        var runtimeDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var version = new DirectoryInfo(runtimeDir).Name;
        var dotnetRoot = Path.GetFullPath(Path.Combine(runtimeDir, "..", "..", ".."));
        var framework = Environment.Version;
        var pack = Path.Combine(dotnetRoot, "packs", "Microsoft.NETCore.App.Ref", version, "ref", $"net{framework.Major}.{framework.Minor}");
        var paths = Directory.EnumerateFiles(pack, "*.dll")
            .Concat(options.References.SelectMany(r => Directory.Exists(r) ? Directory.EnumerateFiles(r, "*.dll") : [r]));
        return [.. paths.Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))];
    }

    private static ImmutableArray<DiagnosticAnalyzer> LoadAnalyzers(string? path, bool isolated = false)
    {
        if (path is null)
        {
            return [];
        }
        var types = TypesOf(path, isolated);
        return [.. types
            .Where(t => !t.IsAbstract && typeof(DiagnosticAnalyzer).IsAssignableFrom(t)
                && t.GetCustomAttributes<DiagnosticAnalyzerAttribute>().Any(a => a.Languages.Contains(LanguageNames.CSharp)))
            .OrderBy(t => t.FullName, StringComparer.Ordinal)
            .Select(t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!)];
    }

    /// <summary><c>dotnet_diagnostic.ID.severity = none|silent|suggestion|warning|error</c> lines of a global config.</summary>
    private static ImmutableDictionary<string, ReportDiagnostic> GlobalConfigSeverities(string? path)
    {
        var result = ImmutableDictionary.CreateBuilder<string, ReportDiagnostic>();
        if (path is null)
        {
            return result.ToImmutable();
        }
        foreach (var line in File.ReadLines(path))
        {
            var parts = line.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length == 2 && parts[0].StartsWith("dotnet_diagnostic.", StringComparison.Ordinal) && parts[0].EndsWith(".severity", StringComparison.Ordinal))
            {
                var id = parts[0]["dotnet_diagnostic.".Length..^".severity".Length];
                result[id] = parts[1] switch
                {
                    "none" => ReportDiagnostic.Suppress,
                    "silent" => ReportDiagnostic.Hidden,
                    "suggestion" => ReportDiagnostic.Info,
                    "warning" => ReportDiagnostic.Warn,
                    "error" => ReportDiagnostic.Error,
                    _ => ReportDiagnostic.Default,
                };
            }
        }
        return result.ToImmutable();
    }

    /// <summary>A load context of its own for a second copy of an analyzer assembly; the compiler's assemblies are shared.</summary>
    private sealed class Isolated(string directory) : System.Runtime.Loader.AssemblyLoadContext
    {
        protected override Assembly? Load(AssemblyName name)
        {
            if (name.Name is { } simple && !simple.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal)
                && File.Exists(Path.Combine(directory, simple + ".dll")))
            {
                return LoadFromAssemblyPath(Path.Combine(directory, simple + ".dll"));
            }
            return null;
        }
    }

    private sealed class FileText(string path) : AdditionalText
    {
        private readonly SourceText _text = SourceText.From(File.ReadAllText(path));

        public override string Path { get; } = System.IO.Path.GetFullPath(path);

        public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
    }
}

internal sealed class Options
{
    public const string Usage = """
        usage: Harness --name NAME --sources DIR [--sources DIR]... [--exclude TEXT]... [--reference DLL|DIR]...
                       [--define SYMBOL]... [--nullable] [--unsafe] [--additional FILE]...
                       [--noblock NoBlock.Analyzers.dll] [--baseline other/NoBlock.Analyzers.dll] [--sdk-analyzers DLL]... [--globalconfig FILE]
                       [--configs none,sdk,all,noblock,all-baseline,noblock-baseline,summary,generator,summary-baseline,generator-baseline] [--rounds N] [--out runs.tsv] [--report report.tsv]
        """;

    public string Name { get; private set; } = "code";
    public List<string> Sources { get; } = [];
    public List<string> Excludes { get; } = ["/bin/", "/obj/"];
    public List<string> References { get; } = [];
    public List<string> Defines { get; } = [];
    public List<string> AdditionalFiles { get; } = [];
    public List<string> SdkAnalyzers { get; } = [];
    public string? NoBlock { get; private set; }
    public string? Baseline { get; private set; }
    public string? GlobalConfig { get; private set; }
    public bool Nullable { get; private set; }
    public bool Unsafe { get; private set; }
    public string[] Configs { get; private set; } = ["none", "sdk", "all", "noblock"];
    public int Rounds { get; private set; } = 5;
    public string? Out { get; private set; }
    public string? Report { get; private set; }

    public static Options? Parse(string[] args)
    {
        var options = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--name": options.Name = Next(); break;
                case "--sources": options.Sources.Add(Next()); break;
                case "--exclude": options.Excludes.Add(Next()); break;
                case "--reference": options.References.Add(Next()); break;
                case "--define": options.Defines.Add(Next()); break;
                case "--additional": options.AdditionalFiles.Add(Next()); break;
                case "--noblock": options.NoBlock = Next(); break;
                case "--baseline": options.Baseline = Next(); break;
                case "--sdk-analyzers": options.SdkAnalyzers.Add(Next()); break;
                case "--globalconfig": options.GlobalConfig = Next(); break;
                case "--nullable": options.Nullable = true; break;
                case "--unsafe": options.Unsafe = true; break;
                case "--configs": options.Configs = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                case "--rounds": options.Rounds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--out": options.Out = Next(); break;
                case "--report": options.Report = Next(); break;
                default: return null;
            }
        }
        return options.Sources.Count == 0 ? null : options;
    }
}
