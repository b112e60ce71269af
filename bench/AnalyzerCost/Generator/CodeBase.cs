namespace NoBlock.Bench.AnalyzerCost;

/// <summary>What was written, for the one-line summary the benchmark script records.</summary>
internal sealed record Layout(int Lines, int Files, int Modules, int Handlers, int BlockingChains, int Reactors, int OrdinaryFiles);

/// <summary>Lays out the code base: the project file, shared utilities, handler modules, raw epoll loops, then ordinary code up to the line target.</summary>
internal static class CodeBase
{
    /// <summary>2,000 handlers per 100,000 lines (the figure): one handler module of 5 per 250 lines.</summary>
    public const int LinesPerModule = 250;

    /// <summary>One hand-written epoll dispatch loop per 25,000 lines: rare, as in real servers that mostly use EventLoop.</summary>
    public const int LinesPerReactor = 25_000;

    public static Layout Write(GeneratorOptions options)
    {
        if (Directory.Exists(options.Output))
        {
            Directory.Delete(options.Output, recursive: true);
        }

        Directory.CreateDirectory(options.Output);
        var writer = new SourceWriter(options.Output);
        writer.WriteRaw("GeneratedServer.csproj", ProjectTemplate.Project(options));

        foreach (var (path, text) in CommonTemplate.Files())
        {
            writer.Write(path, text);
        }

        int modules = options.Lines / LinesPerModule;
        int blocking = 0;
        for (int i = 0; i < modules; i++)
        {
            var module = new Module(i);
            writer.Write($"Features/{module.Name}.cs", ModuleTemplate.Handlers(module) + ModuleTemplate.Pipeline(module));
            if (module.Leaf != BlockingLeaf.None)
            {
                blocking++;
            }
        }

        int reactors = Math.Max(1, options.Lines / LinesPerReactor);
        for (int i = 0; i < reactors; i++)
        {
            writer.Write($"Reactors/RawReactor{i}.cs", ReactorTemplate.Reactor(i));
        }

        int ordinary = 0;
        while (writer.Lines < options.Lines)
        {
            writer.Write($"Domain/{OrdinaryTemplate.NameOf(ordinary)}.cs", OrdinaryTemplate.File(ordinary));
            ordinary++;
        }

        return new Layout(writer.Lines, writer.Files, modules, modules * Module.HandlersPerModule, blocking, reactors, ordinary);
    }
}

/// <summary>Writes files under the output folder and counts the lines of C# written.</summary>
internal sealed class SourceWriter
{
    private readonly string _root;

    public SourceWriter(string root) => _root = root;

    public int Lines { get; private set; }

    public int Files { get; private set; }

    public void Write(string relativePath, string text)
    {
        WriteRaw(relativePath, text);
        Lines += text.Count(c => c == '\n');
        Files++;
    }

    public void WriteRaw(string relativePath, string text)
    {
        var path = Path.Combine(_root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text.ReplaceLineEndings("\n"));
    }
}
