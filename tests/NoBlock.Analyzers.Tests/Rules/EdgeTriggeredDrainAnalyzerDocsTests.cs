using Microsoft.CodeAnalysis;
using NoBlock.Analyzers.Rules;
using Xunit;

namespace NoBlock.Analyzers.Tests.Rules;

/// <summary>Every descriptor of the drain analyzer links to a page under docs/rules that has the expected shape.</summary>
public sealed class EdgeTriggeredDrainAnalyzerDocsTests
{
    public static TheoryData<string> Ids => new() { "NB0003", "NB0004", "NB9002" };

    [Theory]
    [MemberData(nameof(Ids))]
    public void Help_link_points_at_an_existing_page_that_starts_with_id_and_title(string id)
    {
        var descriptor = Assert.Single(new EdgeTriggeredDrainAnalyzer().SupportedDiagnostics, d => d.Id == id);
        Assert.EndsWith("/docs/rules/" + id + ".md", descriptor.HelpLinkUri, StringComparison.Ordinal);

        var page = Path.Combine(RepositoryRoot(), "docs", "rules", id + ".md");
        Assert.True(File.Exists(page), $"{page} is missing");
        var lines = File.ReadAllLines(page);
        Assert.Equal($"# {id} - {descriptor.Title}", lines[0]);
        Assert.Contains("## Configuration", lines);
        Assert.Contains("## Known limitations", lines);
        Assert.Contains(lines, line => line.Contains($"dotnet_diagnostic.{id}.severity", StringComparison.Ordinal));
    }

    [Fact]
    public void Drain_rules_are_warnings_in_the_EventLoop_category_and_listed_as_unshipped()
    {
        var unshipped = File.ReadAllText(Path.Combine(RepositoryRoot(), "analyzers", "NoBlock.Analyzers", "AnalyzerReleases.Unshipped.md"));
        foreach (var descriptor in new EdgeTriggeredDrainAnalyzer().SupportedDiagnostics)
        {
            Assert.Equal("EventLoop", descriptor.Category);
            var severity = descriptor.Id == "NB9002" ? DiagnosticSeverity.Info : DiagnosticSeverity.Warning;
            Assert.Equal(severity, descriptor.DefaultSeverity);
            Assert.Contains($"{descriptor.Id} | EventLoop | {severity} |", unshipped, StringComparison.Ordinal);
        }
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "NoBlock.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("NoBlock.sln not found above " + AppContext.BaseDirectory);
    }
}
