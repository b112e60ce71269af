using NoBlock.Bench.AnalyzerCost;

// Writes a synthetic event-loop server of about N lines of C# for the analyzer cost benchmark:
//   dotnet run --project bench/AnalyzerCost/Generator -- --lines 100000 --repo . --out bench/out/gen-100000
// The shape per 100K lines: 2,000 handlers (400 handler modules of 5), helper chains 6 deep with call cycles,
// about 15% of the chains ending in a blocking call, shared utilities, a few hand-written epoll loops, and
// ordinary non-handler code (models, parsing, LINQ reports, string work) filling the rest.

var options = GeneratorOptions.Parse(args);
var layout = CodeBase.Write(options);
Console.WriteLine(
    $"{options.Output}: {layout.Lines} lines in {layout.Files} files; {layout.Handlers} handlers in {layout.Modules} modules, " +
    $"{layout.BlockingChains} chains ending in a blocking call, {layout.Reactors} raw epoll loops, {layout.OrdinaryFiles} ordinary files");
